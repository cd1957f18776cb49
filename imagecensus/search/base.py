"""Search results and result pages, the output every search engine returns."""

from __future__ import annotations

import abc
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..fetch import Fetcher


@dataclass
class SearchResult:
    """One image result, in the order the engine showed it.

    ``rank`` starts at 1. ``page`` is the number of the result page the
    result came from, and ``page_url`` the address of that page. Both are
    empty for engines without pages.
    """

    rank: int
    image_url: str
    source_url: str = ""
    page: int | None = None
    page_url: str = ""
    title: str = ""
    thumbnail_url: str = ""
    engine_id: str = ""


SEARCH_RESULT_COLUMNS = tuple(item.name for item in fields(SearchResult))


@dataclass
class SearchPage:
    """One request to the engine and what it brought.

    ``status`` is ``ok``, ``end`` (a page that brought no new result, which
    ends the paging), ``no_results``, or the failure that stopped the search.
    ``file`` is the saved copy of the page, relative to the term's folder.
    """

    number: int
    url: str
    http_status: int | None = None
    results: int = 0
    new_results: int = 0
    status: str = "ok"
    reason: str = ""
    file: str = ""
    retrieved_at: str = ""


SEARCH_PAGE_COLUMNS = tuple(item.name for item in fields(SearchPage))


@dataclass
class SearchOutcome:
    """The ranked results of one query and the pages they came from."""

    engine: str
    query: str
    results: list[SearchResult] = field(default_factory=list)
    pages: list[SearchPage] = field(default_factory=list)
    status: str = "ok"
    reason: str = ""

    def result_rows(self) -> list[dict]:
        return [asdict(result) for result in self.results]

    def page_rows(self) -> list[dict]:
        return [asdict(page) for page in self.pages]


class SearchError(Exception):
    """A search that produced no usable result list.

    ``status`` names the outcome: ``blocked`` (a CAPTCHA or consent wall),
    ``parse_error`` (a page in an unknown shape, saved for diagnosis), or a
    download failure status such as ``timeout`` or ``http_503``.
    """

    def __init__(self, status: str, reason: str, pages: list[SearchPage] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.pages = pages or []


@dataclass
class SearchContext:
    """Resources an engine may use while it searches."""

    fetcher: Fetcher
    pages_dir: Path | None = None


class SearchEngine(abc.ABC):
    """An image search engine, or another source of ranked image URLs."""

    name: str = ""
    #: True when searching again is cheap and returns the same list unless the
    #: engine's input changed, as for a file of URLs or a folder of images.
    #: A re-run then compares the lists and downloads a changed term again.
    replayable: bool = False

    @abc.abstractmethod
    async def search(self, term: str, limit: int, context: SearchContext) -> SearchOutcome:
        """Return up to ``limit`` results for ``term``, best rank first.

        Raises
        ------
        SearchError
            If the engine produced no usable result list. An engine that
            responded and found nothing returns an outcome with status
            ``no_results`` instead.
        """

    def describe(self) -> str:
        """Return a short description for logs and the run record."""
        return self.name
