"""The Bing engine: its page parser, and whole searches against the Bing replica."""

from __future__ import annotations

import asyncio
import io
from dataclasses import replace
from pathlib import Path

import pytest
from bing_replica import (
    BingReplica,
    Item,
    add_image_with_query,
    render_no_results_page,
    render_results_page,
)
from PIL import Image

from imagecensus.fetch import Fetcher, FetchError, FetchLimits
from imagecensus.search import SearchContext, SearchError, SearchOutcome
from imagecensus.search.bing import BingEngine, parse_results_page

FAST = FetchLimits(retries=0, retry_wait=0.01)
TERM = "CEO"
ITEMS = 100


def jpeg_bytes(width: int = 80, height: int = 60) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (120, 90, 60)).save(buffer, "JPEG")
    return buffer.getvalue()


def make_items(count: int, host: str = "http://127.0.0.1:9", slug: str = "ceo") -> list[Item]:
    return [
        Item(
            image_url=f"{host}/img/{slug}/{number:03d}.jpg",
            page_url=f"{host}/pages/{slug}/{number}.html",
            title=f"{slug} photo {number}",
        )
        for number in range(1, count + 1)
    ]


def search(
    replica: BingReplica,
    term: str,
    limit: int = 500,
    pages_dir: Path | None = None,
    limits: FetchLimits = FAST,
) -> SearchOutcome:
    """Run ``BingEngine.search`` against the replica."""

    async def run() -> SearchOutcome:
        async with Fetcher(limits) as fetcher:
            engine = BingEngine(base_url=replica.base_url)
            return await engine.search(term, limit, SearchContext(fetcher, pages_dir))

    return asyncio.run(run())


def fetch(url: str) -> bytes:
    async def run() -> bytes:
        async with Fetcher(FAST) as fetcher:
            return (await fetcher.get(url)).body

    return asyncio.run(run())


@pytest.fixture
def replica(server) -> BingReplica:
    return BingReplica(server)


@pytest.fixture
def hundred(replica) -> list[Item]:
    """A hundred results for TERM, in pages of Bing's varying sizes."""
    items = make_items(ITEMS, replica.base_url)
    replica.add_results(TERM, items)
    return items


def expected_firsts(replica: BingReplica, term: str) -> list[int]:
    """Item offsets of every page, then the offset past the last result."""
    firsts = [1]
    for page in replica.pages(term):
        firsts.append(firsts[-1] + len(page))
    return firsts


# parse_results_page


def test_parse_unescapes_ampersand_once():
    url = "http://127.0.0.1:9/img/photo.jpg?w=800&h=600"
    page = render_results_page(TERM, [Item(url, "http://127.0.0.1:9/page", "photo")]).decode()

    items, _ = parse_results_page(page)

    assert "photo.jpg?w=800&amp;amp;h=600" not in page
    assert "photo.jpg?w=800&amp;h=600" in page
    assert items[0].image_url == url


def test_parse_keeps_literal_entity_text():
    url = "http://127.0.0.1:9/img/fish.jpg?name=fish&amp;chips"
    page = render_results_page(TERM, [Item(url, "http://127.0.0.1:9/page", "fish")]).decode()

    items, _ = parse_results_page(page)

    assert items[0].image_url == url


def test_parse_reads_every_attribute_order():
    items = make_items(6)
    page = render_results_page(TERM, items).decode()

    parsed, unreadable = parse_results_page(page)

    assert '<a class="iusc"' in page
    assert "<a m=" in page
    assert "<a href=" in page
    assert [item.image_url for item in parsed] == [item.image_url for item in items]
    assert unreadable == 0


def test_parse_reads_metadata_fields():
    item = Item(
        "http://127.0.0.1:9/img/a.jpg", "http://127.0.0.1:9/news?id=4&lang=en", "Chief & deputy"
    )
    page = render_results_page(TERM, [item]).decode()

    parsed = parse_results_page(page)[0][0]

    assert parsed.source_url == "http://127.0.0.1:9/news?id=4&lang=en"
    assert parsed.title == "Chief & deputy"
    assert parsed.thumbnail_url.endswith("&pid=15.1")
    assert len(parsed.engine_id) == 32


def test_parse_keeps_non_ascii_url():
    url = "http://127.0.0.1:9/photos/café au lait"
    page = render_results_page(TERM, [Item(url, "http://127.0.0.1:9/", "café")]).decode()

    items, _ = parse_results_page(page)

    assert items[0].image_url == url


@pytest.mark.parametrize(
    "m_json",
    [
        '{"murl":"http://127.0.0.1:9/img/cut.jpg","t":',
        '{"purl":"http://127.0.0.1:9/page","t":"no image"}',
        '{"murl":"","t":"empty"}',
        '{"murl":17}',
        '["http://127.0.0.1:9/img/list.jpg"]',
    ],
    ids=["malformed_json", "missing_murl", "empty_murl", "number_murl", "json_list"],
)
def test_parse_counts_unreadable_metadata(m_json):
    items = make_items(3)
    items[1] = replace(items[1], m_json=m_json)
    page = render_results_page(TERM, items).decode()

    parsed, unreadable = parse_results_page(page)

    assert unreadable == 1
    assert [item.image_url for item in parsed] == [items[0].image_url, items[2].image_url]


def test_parse_no_results_page_is_empty():
    page = render_no_results_page(TERM).decode()

    assert parse_results_page(page) == ([], 0)


# BingEngine.search against the replica


def test_search_ranks_follow_page_order(replica, hundred):
    outcome = search(replica, TERM)

    assert [result.rank for result in outcome.results] == list(range(1, ITEMS + 1))
    assert [result.image_url for result in outcome.results] == [item.image_url for item in hundred]


def test_search_collects_varied_page_sizes(replica, hundred):
    pages = replica.pages(TERM)
    expected_page_of = [number for number, page in enumerate(pages, start=1) for _ in page]

    outcome = search(replica, TERM)

    assert len({len(page) for page in pages}) > 2
    assert [result.page for result in outcome.results] == expected_page_of
    assert [page.new_results for page in outcome.pages[:-1]] == [len(page) for page in pages]


def test_search_keeps_no_duplicate(replica, hundred):
    outcome = search(replica, TERM)
    urls = [result.image_url for result in outcome.results]

    assert len(urls) == len(set(urls))


def test_search_stops_after_repeated_page(replica, hundred):
    outcome = search(replica, TERM)

    assert len(replica.page_requests(TERM)) == len(replica.pages(TERM)) + 1
    assert outcome.pages[-1].status == "end"
    assert outcome.pages[-1].new_results == 0
    assert outcome.status == "ok"


def test_search_replica_repeats_last_page(replica, hundred):
    outcome = search(replica, TERM)
    last, repeated = outcome.pages[-2], outcome.pages[-1]

    assert repeated.results == last.results


def test_search_sends_item_offsets(replica, hundred):
    search(replica, TERM)

    sent = [int(request.query["first"][0]) for request in replica.page_requests(TERM)]
    assert sent == expected_firsts(replica, TERM)


def test_search_honours_limit(replica, hundred):
    limit = 40
    sizes = [len(page) for page in replica.pages(TERM)]
    pages_needed = next(n for n in range(1, len(sizes) + 1) if sum(sizes[:n]) >= limit)

    outcome = search(replica, TERM, limit=limit)

    assert [result.image_url for result in outcome.results] == [
        item.image_url for item in hundred[:limit]
    ]
    assert len(replica.page_requests(TERM)) == pages_needed


def test_search_skips_unreadable_anchor(replica):
    items = make_items(ITEMS, replica.base_url)
    items[5] = replace(items[5], m_json='{"murl":"http://127.0.0.1:9/img/cut.jpg","t":')
    replica.add_results(TERM, items)

    outcome = search(replica, TERM)

    assert [result.image_url for result in outcome.results] == [
        item.image_url for index, item in enumerate(items) if index != 5
    ]
    assert "1 result anchors had unreadable metadata" in outcome.pages[0].reason


def test_search_counts_unreadable_anchor_offset(replica):
    items = make_items(ITEMS, replica.base_url)
    items[5] = replace(items[5], m_json='{"purl":"http://127.0.0.1:9/page"}')
    replica.add_results(TERM, items)

    search(replica, TERM)

    sent = [int(request.query["first"][0]) for request in replica.page_requests(TERM)]
    assert sent == expected_firsts(replica, TERM)


def test_unreadable_first_page_is_parse_error(replica):
    items = [replace(item, m_json='{"t":"no murl"}') for item in make_items(4, replica.base_url)]
    replica.add_results(TERM, items, page_sizes=[4])

    with pytest.raises(SearchError) as raised:
        search(replica, TERM)

    assert raised.value.status == "parse_error"


def test_unreadable_later_page_ends_partial(replica):
    items = make_items(6, replica.base_url)
    items[3:] = [replace(item, m_json='{"t":"no murl"}') for item in items[3:]]
    replica.add_results(TERM, items, page_sizes=[3])

    outcome = search(replica, TERM)

    assert len(outcome.results) == 3
    assert outcome.status == "partial"
    assert outcome.pages[1].status == "parse_error"


def test_search_sends_term_unchanged(replica):
    term = "Secretaries, legal"
    replica.add_results(term, make_items(40, replica.base_url, "secretaries"))

    search(replica, term)

    requests = replica.page_requests(term)
    assert len(requests) == len(replica.pages(term)) + 1
    assert all(request.query["q"] == [term] for request in requests)


def test_search_sends_count_and_async(replica, hundred):
    search(replica, TERM)

    for request in replica.page_requests(TERM):
        assert request.query["count"] == ["35"]
        assert request.query["async"] == ["1"]


def test_search_sends_valid_parameters(replica, hundred):
    search(replica, TERM)

    assert replica.problems == []


def test_search_sends_english_accept_language(replica, hundred):
    search(replica, TERM)

    for request in replica.page_requests(TERM):
        assert request.headers["Accept-Language"].split(",")[0] == "en-US"


def test_search_saves_pages(replica, hundred, tmp_path):
    pages_dir = tmp_path / "search_pages"

    outcome = search(replica, TERM, pages_dir=pages_dir)

    assert len(outcome.pages) == len(replica.page_requests(TERM))
    assert len(list(pages_dir.iterdir())) == len(outcome.pages)
    for page in outcome.pages:
        assert (tmp_path / page.file).is_file()


def test_search_saved_pages_hold_results(replica, hundred, tmp_path):
    pages_dir = tmp_path / "search_pages"

    outcome = search(replica, TERM, pages_dir=pages_dir)

    for page, served in zip(outcome.pages[:-1], replica.pages(TERM), strict=True):
        saved = (tmp_path / page.file).read_text(encoding="utf-8")
        items, _ = parse_results_page(saved)
        assert [item.image_url for item in items] == [item.image_url for item in served]


def test_search_records_page_urls(replica, hundred):
    outcome = search(replica, TERM)
    url_of_page = {page.number: page.url for page in outcome.pages}

    assert all(result.page_url == url_of_page[result.page] for result in outcome.results)
    assert all(page.url.startswith(f"{replica.base_url}/images/async?") for page in outcome.pages)
    assert all(page.http_status == 200 for page in outcome.pages)


def test_search_reads_ampersand_url(replica, server):
    image = jpeg_bytes()
    url = add_image_with_query(server, "/img/photo.jpg", image, parameters={"w": "800", "h": "600"})
    items = [Item(url, f"{server.base_url}/pages/photo.html", "photo"), *make_items(5)]
    replica.add_results(TERM, items)

    outcome = search(replica, TERM)

    assert outcome.results[0].image_url == url
    assert fetch(outcome.results[0].image_url) == image


def test_image_server_rejects_escaped_query(server):
    url = add_image_with_query(server, "/img/photo.jpg", jpeg_bytes())

    with pytest.raises(FetchError) as raised:
        fetch(url.replace("&", "&amp;"))

    assert raised.value.status == "http_404"


@pytest.mark.parametrize(
    "query",
    [
        "q=CEO&first=0&count=35&async=1",
        "q=CEO&first=1&count=35",
        "q=CEO&q=CFO&first=1&count=35&async=1",
    ],
    ids=["first_zero", "missing_async", "two_queries"],
)
def test_replica_rejects_invalid_parameters(replica, hundred, query):
    with pytest.raises(FetchError) as raised:
        fetch(f"{replica.base_url}/images/async?{query}")

    assert raised.value.status == "http_400"
    assert len(replica.problems) == 1


def test_search_no_results_status(replica):
    replica.add_no_results("zzyzx qwv")

    outcome = search(replica, "zzyzx qwv")

    assert outcome.status == "no_results"
    assert outcome.results == []
    assert outcome.pages[0].status == "no_results"


def test_search_changed_page_raises(replica, tmp_path):
    replica.add_changed_page(TERM, make_items(30))

    with pytest.raises(SearchError) as raised:
        search(replica, TERM, pages_dir=tmp_path / "search_pages")

    assert raised.value.status == "parse_error"
    assert raised.value.pages[0].status == "parse_error"


def test_search_changed_page_is_saved(replica, tmp_path):
    replica.add_changed_page(TERM, make_items(30))

    with pytest.raises(SearchError) as raised:
        search(replica, TERM, pages_dir=tmp_path / "search_pages")

    saved = tmp_path / raised.value.pages[0].file
    assert "richImgLnk" in saved.read_text(encoding="utf-8")
    assert raised.value.pages[0].file in raised.value.reason


def test_search_block_page_raises(replica, tmp_path):
    replica.add_block_page(TERM)

    with pytest.raises(SearchError) as raised:
        search(replica, TERM, pages_dir=tmp_path / "search_pages")

    assert raised.value.status == "blocked"
    assert (tmp_path / raised.value.pages[0].file).is_file()


@pytest.mark.parametrize("retries", [0, 1])
def test_search_503_raises_after_retries(replica, retries):
    replica.add_unavailable(TERM, status=503)
    limits = FetchLimits(retries=retries, retry_wait=0.01)

    with pytest.raises(SearchError) as raised:
        search(replica, TERM, limits=limits)

    assert raised.value.status == "http_503"
    assert raised.value.pages[0].http_status == 503
    assert len(replica.page_requests(TERM)) == retries + 1


def test_search_503_later_keeps_results(replica):
    items = make_items(ITEMS, replica.base_url)
    replica.add_results(TERM, items, error_status=503, error_from_page=2)

    outcome = search(replica, TERM)

    assert outcome.status == "partial"
    assert [result.image_url for result in outcome.results] == [
        item.image_url for item in replica.pages(TERM)[0]
    ]
    assert outcome.pages[1].status == "http_503"
