"""Bing Images through its ``/images/async`` endpoint.

To plain HTTP clients, Bing returns an HTML fragment that contains one anchor
``<a class="iusc" m="...">`` per result. The ``m`` attribute is JSON with
its quotes and ampersands HTML-escaped. It gives the full image (``murl``),
the page that shows it (``purl``), the thumbnail (``turl``), the title
(``t``) and Bing's ids (``md5``, ``mid``). The attribute is unescaped once
and then parsed as JSON, because a regular expression over the raw page would
leave ``&amp;`` inside URLs.

Paging uses ``first``, an item offset (1, then 1 plus the number of items on
the first page, and so on). Page sizes vary, and past the last result Bing
keeps returning the last page, so the search stops at the first page that
brings no result it has not seen.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urlencode

from ..fetch import FetchError
from ..files import write_bytes_atomic
from .base import SearchContext, SearchEngine, SearchError, SearchOutcome, SearchPage, SearchResult

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://www.bing.com"
PAGE_SIZE = 35
# Bing pages run to about 150 KB; anything far larger is not a result page.
MAX_PAGE_BYTES = 8 * 1024 * 1024
_NO_RESULTS = re.compile(
    rb"there are no results for|no results found for|we didn't find any results|"
    rb"did not match any image results",
    re.IGNORECASE,
)
_BLOCKED = re.compile(rb"captcha|unusual traffic|verify you are a human", re.IGNORECASE)


@dataclass(frozen=True)
class BingItem:
    """One result anchor of a Bing page, its ``m`` attribute decoded."""

    image_url: str
    source_url: str
    thumbnail_url: str
    title: str
    engine_id: str


class _ResultAnchorParser(HTMLParser):
    """Collect the decoded ``m`` attribute of every ``a.iusc`` anchor."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.metadata: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if "iusc" in classes and attributes.get("m"):
            # HTMLParser has already replaced &quot; and &amp; in the value.
            self.metadata.append(attributes["m"])


def parse_results_page(html: str) -> tuple[list[BingItem], int]:
    """Extract the results of one ``/images/async`` page, in page order.

    Returns the items and the number of anchors whose metadata could not be
    read (invalid JSON or no ``murl``).
    """
    parser = _ResultAnchorParser()
    parser.feed(html)
    parser.close()

    items: list[BingItem] = []
    unreadable = 0
    for text in parser.metadata:
        try:
            metadata = json.loads(text)
        except json.JSONDecodeError:
            unreadable += 1
            continue
        image_url = metadata.get("murl") if isinstance(metadata, dict) else None
        if not isinstance(image_url, str) or not image_url.strip():
            unreadable += 1
            continue
        items.append(
            BingItem(
                image_url=image_url.strip(),
                source_url=str(metadata.get("purl") or ""),
                thumbnail_url=str(metadata.get("turl") or ""),
                title=str(metadata.get("t") or ""),
                engine_id=str(metadata.get("md5") or metadata.get("mid") or ""),
            )
        )
    return items, unreadable


class BingEngine(SearchEngine):
    """Bing Images over plain HTTP.

    Parameters
    ----------
    base_url : str
        Scheme and host of the engine; tests point it at a replica on
        127.0.0.1.
    market : str
        Bing's ``mkt`` parameter; the default ``en-US`` matches the
        ``Accept-Language`` header that every request sends.
    max_pages : int or None
        Stop after this many pages even if every page brought new results.
        ``None`` allows ``limit // 20 + 5`` pages, enough for ``limit``
        results at the smallest page size seen (about 27).
    """

    name = "bing"

    def __init__(
        self, base_url: str = DEFAULT_BASE_URL, market: str = "en-US", max_pages: int | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.market = market
        self.max_pages = max_pages

    def describe(self) -> str:
        return f"bing ({self.base_url})"

    def page_url(self, term: str, first: int) -> str:
        query = urlencode(
            {"q": term, "first": first, "count": PAGE_SIZE, "async": 1, "mkt": self.market}
        )
        return f"{self.base_url}/images/async?{query}"

    async def search(self, term: str, limit: int, context: SearchContext) -> SearchOutcome:
        outcome = SearchOutcome(engine=self.name, query=term)
        max_pages = self.max_pages or limit // 20 + 5
        seen: set[str] = set()
        first = 1

        for number in range(1, max_pages + 1):
            page = SearchPage(number=number, url=self.page_url(term, first))
            outcome.pages.append(page)
            body = await self._fetch_page(page, context, outcome)
            if body is None:
                break

            items, unreadable = parse_results_page(body.decode("utf-8", errors="replace"))
            page.results = len(items)
            if unreadable:
                page.reason = f"{unreadable} result anchors had unreadable metadata"
                logger.warning("%s: page %d: %s", term, number, page.reason)

            if not items and unreadable:
                self._reject_unreadable_page(page, outcome)
                break
            if not items:
                self._classify_empty_page(term, page, body, outcome)
                break

            new_items = [item for item in items if item.image_url not in seen]
            page.new_results = len(new_items)
            if not new_items:
                page.status = "end"
                break
            for item in new_items:
                seen.add(item.image_url)
                outcome.results.append(
                    SearchResult(
                        rank=len(outcome.results) + 1,
                        image_url=item.image_url,
                        source_url=item.source_url,
                        page=number,
                        page_url=page.url,
                        title=item.title,
                        thumbnail_url=item.thumbnail_url,
                        engine_id=item.engine_id,
                    )
                )
                if len(outcome.results) >= limit:
                    return outcome
            # Bing's offset counts every anchor, also those whose metadata was unreadable.
            first += len(items) + unreadable
        else:
            logger.info("%s: stopped after the maximum of %d pages", term, max_pages)
        return outcome

    async def _fetch_page(
        self, page: SearchPage, context: SearchContext, outcome: SearchOutcome
    ) -> bytes | None:
        """Download one page and save a copy; return None when paging must stop."""
        try:
            response = await context.fetcher.get(
                page.url, headers={"Accept": "text/html,*/*;q=0.8"}, max_bytes=MAX_PAGE_BYTES
            )
        except FetchError as error:
            page.status, page.reason = error.status, error.reason
            page.http_status, page.retrieved_at = error.http_status, error.retrieved_at
            if page.number == 1 or error.http_status == 429:
                raise SearchError(
                    error.status, f"page {page.number}: {error.reason}", outcome.pages
                ) from None
            # Later pages add to results already found; keep them and mark the outcome partial.
            outcome.status, outcome.reason = "partial", f"page {page.number}: {error.reason}"
            return None

        page.http_status, page.retrieved_at = response.http_status, response.retrieved_at
        if context.pages_dir is not None:
            path = context.pages_dir / f"page_{page.number:03d}.html"
            write_bytes_atomic(path, response.body)
            page.file = f"{context.pages_dir.name}/{path.name}"
        return response.body

    def _reject_unreadable_page(self, page: SearchPage, outcome: SearchOutcome) -> None:
        """Stop at a page whose result anchors are all unreadable: Bing may have changed."""
        page.status = "parse_error"
        saved = f"; the page is saved as {page.file}" if page.file else ""
        reason = f"page {page.number}: every result anchor had unreadable metadata{saved}"
        if page.number == 1:
            raise SearchError("parse_error", reason, outcome.pages)
        outcome.status, outcome.reason = "partial", reason

    def _classify_empty_page(
        self, term: str, page: SearchPage, body: bytes, outcome: SearchOutcome
    ) -> None:
        if page.number > 1:
            page.status = "end"
            return
        if _NO_RESULTS.search(body):
            page.status = outcome.status = "no_results"
            outcome.reason = "Bing found no images for this query"
            return
        saved = f"; the page is saved as {page.file}" if page.file else ""
        if _BLOCKED.search(body):
            page.status = "blocked"
            raise SearchError(
                "blocked", f"Bing returned a CAPTCHA or block page{saved}", outcome.pages
            )
        page.status = "parse_error"
        raise SearchError(
            "parse_error",
            f"the first page holds no result anchors (a.iusc) and no 'no results' message; "
            f"Bing may have changed its page{saved}",
            outcome.pages,
        )
