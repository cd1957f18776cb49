"""Result lists made of images already on disk, for replication packages.

The images of a term are the files in ``PATH/<term>/`` (or in the folder
named as :func:`imagecensus.layout.folder_name` names it, in any letter
case), ranked by file name in natural order, so that ``2.jpg`` comes before
``10.jpg``. A term without a folder has no results. Hidden files and
the tables this tool writes beside images (``.csv``, ``.txt``, ``.json``,
``.md``, ``.log``, ``.html``) are not results. Every other file is a result
and goes through the same checks as a download.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from ..layout import folder_name
from ..terms import InputError
from .base import SearchContext, SearchEngine, SearchOutcome, SearchResult

logger = logging.getLogger(__name__)

NOT_RESULTS = {".csv", ".txt", ".json", ".md", ".log", ".html"}


def natural_key(name: str) -> list[object]:
    """Sort key that orders runs of digits by their value: ``2`` before ``10``."""
    return [int(part) if part.isdigit() else part.casefold() for part in re.split(r"(\d+)", name)]


class FolderEngine(SearchEngine):
    """Results taken from the files in ``PATH/<term>/``."""

    name = "folder"
    replayable = True

    def __init__(self, path: Path) -> None:
        self.path = Path(path).resolve()
        if not self.path.is_dir():
            raise InputError(
                f"image folder not found: {self.path}; pass a folder that contains one "
                "subfolder of images per term"
            )

    def describe(self) -> str:
        return f"folder:{self.path}"

    def term_folder(self, term: str) -> Path | None:
        """Return the term's folder, or None if there is none.

        The folder is named as the term or as its safe folder name, in any
        letter case; an exact match comes first.
        """
        names = (term, folder_name(term))
        for name in names:
            if (self.path / name).is_dir():
                return self.path / name
        accepted = {name.casefold() for name in names}
        for candidate in sorted(self.path.iterdir()):
            if candidate.is_dir() and candidate.name.casefold() in accepted:
                return candidate
        return None

    async def search(self, term: str, limit: int, context: SearchContext) -> SearchOutcome:
        outcome = SearchOutcome(engine=self.name, query=term)
        folder = self.term_folder(term)
        if folder is None:
            outcome.status = "no_results"
            outcome.reason = f"{self.path} has no subfolder named {term!r}"
            if folder_name(term) != term:
                outcome.reason += f" or {folder_name(term)!r}"
            logger.warning("%s: %s", term, outcome.reason)
            return outcome
        files = sorted(
            (
                path
                for path in folder.iterdir()
                if path.is_file()
                and not path.name.startswith(".")
                and path.suffix.lower() not in NOT_RESULTS
            ),
            key=lambda path: natural_key(path.name),
        )
        if not files:
            outcome.status, outcome.reason = "no_results", f"{folder} holds no image files"
            return outcome

        outcome.results = [
            SearchResult(rank=rank, image_url=path.as_uri(), title=path.name)
            for rank, path in enumerate(files[:limit], start=1)
        ]
        return outcome
