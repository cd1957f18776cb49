"""Search engines and other sources of ranked image results.

An engine is named on the command line by ``--engine``: ``bing``, or
``urls:PATH`` for a CSV file of image URLs, or ``folder:PATH`` for images
already on disk. :func:`make_engine` turns that name into an engine object.
"""

from __future__ import annotations

from pathlib import Path

from ..terms import InputError
from .base import (
    SEARCH_PAGE_COLUMNS,
    SEARCH_RESULT_COLUMNS,
    SearchContext,
    SearchEngine,
    SearchError,
    SearchOutcome,
    SearchPage,
    SearchResult,
)
from .bing import BingEngine
from .folder import FolderEngine
from .urllist import UrlListEngine

ENGINE_NAMES = ("bing", "urls:PATH", "folder:PATH")
DEFAULT_ENGINE = "bing"

__all__ = [
    "DEFAULT_ENGINE",
    "ENGINE_NAMES",
    "SEARCH_PAGE_COLUMNS",
    "SEARCH_RESULT_COLUMNS",
    "SearchContext",
    "SearchEngine",
    "SearchError",
    "SearchOutcome",
    "SearchPage",
    "SearchResult",
    "make_engine",
]


def make_engine(spec: str, engine_url: str | None = None) -> SearchEngine:
    """Build the engine that ``spec`` names.

    Parameters
    ----------
    spec : str
        ``bing``, ``urls:PATH`` or ``folder:PATH``.
    engine_url : str, optional
        Base URL of a web engine (scheme and host), for a replica or a
        mirror; the engine's public address when not given.

    Raises
    ------
    InputError
        If the name is unknown, a path is missing, or ``engine_url`` is given
        to an engine that does not use the web.
    """
    kind, _, argument = spec.partition(":")
    kind = kind.strip().lower()

    if kind in ("urls", "folder"):
        if not argument:
            raise InputError(f"engine {spec!r} needs a path: write {kind}:PATH")
        if engine_url:
            raise InputError(f"--engine-url applies to web engines, not to {kind}:PATH")
        path = Path(argument).expanduser()
        return UrlListEngine(path) if kind == "urls" else FolderEngine(path)

    if kind == "bing" and not argument:
        if engine_url is not None and not engine_url.startswith(("http://", "https://")):
            raise InputError(
                f"--engine-url {engine_url!r} is not an http or https URL; "
                "write it like http://127.0.0.1:8000"
            )
        return BingEngine(base_url=engine_url) if engine_url else BingEngine()

    raise InputError(f"unknown engine {spec!r}; choose one of {', '.join(ENGINE_NAMES)}")
