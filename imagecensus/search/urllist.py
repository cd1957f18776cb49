"""Result lists read from a CSV file of image URLs.

The file has the columns ``term`` and ``url``, and optionally ``rank``
(a positive whole number, unique within a term). Without ``rank``, the order
of a term's rows in the file is its rank. Other columns are ignored. This
engine replays a result list collected earlier, or by another tool, through
the rest of the pipeline.
"""

from __future__ import annotations

import csv
import logging
import unicodedata
from pathlib import Path

from ..terms import InputError
from .base import SearchContext, SearchEngine, SearchOutcome, SearchResult

logger = logging.getLogger(__name__)


def read_url_list(path: Path) -> dict[str, list[tuple[int, str]]]:
    """Read the CSV into ``{term: [(rank, url), ...]}``, sorted by rank.

    Terms are matched without regard to letter case or surrounding white
    space, as the terms file is.

    Raises
    ------
    InputError
        If the file is missing, lacks a column, or a row has an empty URL or
        a rank that is not a positive whole number or repeats within a term.
    """
    path = Path(path)
    try:
        handle = open(path, encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise InputError(
            f"URL list not found: {path}; pass a CSV with the columns term,url (and optionally rank)"
        ) from None

    with handle:
        reader = csv.DictReader(handle)
        columns = [name.strip().lower() for name in reader.fieldnames or []]
        if "term" not in columns or "url" not in columns:
            raise InputError(
                f"URL list {path} must have the columns term and url; its header is "
                f"{','.join(reader.fieldnames or []) or 'empty'}"
            )
        reader.fieldnames = columns
        has_rank = "rank" in columns
        by_term: dict[str, list[tuple[int, str]]] = {}
        for number, row in enumerate(reader, start=2):
            term = _term_key(row.get("term") or "")
            url = (row.get("url") or "").strip()
            if not term:
                raise InputError(f"{path}, line {number}: the term is empty")
            if not url:
                raise InputError(f"{path}, line {number}: the url for {term!r} is empty")
            results = by_term.setdefault(term, [])
            rank = (
                _parse_rank(row.get("rank") or "", path, number) if has_rank else len(results) + 1
            )
            results.append((rank, url))

    for term, results in by_term.items():
        results.sort()
        ranks = [rank for rank, _ in results]
        repeated = sorted({rank for rank in ranks if ranks.count(rank) > 1})
        if repeated:
            raise InputError(
                f"URL list {path}: term {term!r} has rank {repeated[0]} more than once; "
                "give each URL of a term its own rank"
            )
    return by_term


def _term_key(term: str) -> str:
    return unicodedata.normalize("NFC", term.strip()).casefold()


def _parse_rank(text: str, path: Path, number: int) -> int:
    try:
        rank = int(text.strip())
    except ValueError:
        rank = 0
    if rank < 1:
        raise InputError(f"{path}, line {number}: rank {text!r} is not a positive whole number")
    return rank


class UrlListEngine(SearchEngine):
    """Results taken from a CSV file of ``term,url[,rank]`` rows."""

    name = "urls"
    replayable = True

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._urls = read_url_list(self.path)

    def describe(self) -> str:
        return f"urls:{self.path}"

    def unknown_terms(self, terms: list[str]) -> list[str]:
        """Return the terms of the file that are not in ``terms``, in case-folded form."""
        known = {_term_key(term) for term in terms}
        return sorted(term for term in self._urls if term not in known)

    async def search(self, term: str, limit: int, context: SearchContext) -> SearchOutcome:
        outcome = SearchOutcome(engine=self.name, query=term)
        rows = self._urls.get(_term_key(term), [])
        if not rows:
            outcome.status = "no_results"
            outcome.reason = f"{self.path} lists no URL for this term"
            logger.warning("%s: %s", term, outcome.reason)
            return outcome

        # Ranks from the file are kept as given, gaps included, so that they
        # match the list the file was made from.
        outcome.results = [
            SearchResult(rank=rank, image_url=url, page_url=self.path.name)
            for rank, url in rows[:limit]
        ]
        return outcome
