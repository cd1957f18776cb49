"""A replica of Bing Images' ``/images/async`` endpoint, served on 127.0.0.1.

The replica serves the requests that a scraper of Bing Images sends,
``/images/async?q=<query>&first=<item offset>&count=35&async=1``, with HTML
fragments in the shape of Bing's own:

- Each result is an anchor ``<a class="iusc" m="..." href="...">`` inside
  ``li > div.iuscp > div.imgpt``. The ``m`` attribute is JSON with ``murl``
  (full image), ``purl`` (source page), ``turl`` (thumbnail), ``t`` (title),
  ``md5`` and ``mid``, HTML-escaped as a whole, so that ``&`` inside a URL
  reads ``&amp;`` in the page. The ``href`` carries ``mediaurl``, ``exph``
  and ``expw``, and a ``span`` below the anchor reads "800 x 600 · jpeg".
- The order of the anchor's attributes varies from one result to the next.
- Page sizes vary (27 to 35 results by default), and ``first`` is an item
  offset: 1, then 1 plus the size of page 1, and so on.
- Past the last result the replica keeps returning the last page, as Bing
  does, so a client must stop when a page brings nothing new.

Each query is configured with :meth:`BingReplica.add_results` (a result list),
:meth:`~BingReplica.add_no_results`, :meth:`~BingReplica.add_changed_page`
(results whose anchors are no longer ``a.iusc``),
:meth:`~BingReplica.add_block_page` (Bing's CAPTCHA challenge) or
:meth:`~BingReplica.add_unavailable` (an HTTP error status). The replica
checks the parameters of every request, returns HTTP 400 for an invalid one
and lists what was wrong in :attr:`BingReplica.problems`.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import quote, quote_plus, urlencode

from localserver import LocalServer, Request, send

ASYNC_PATH = "/images/async"
_HTML = "text/html; charset=utf-8"
# Page sizes of the replica, used in turn from page 1 on. Real Bing pages
# contain 27 to 35 results.
DEFAULT_PAGE_SIZES = (35, 28, 33, 27, 31, 35, 29, 34, 30, 32)
_MARKET = re.compile(r"[a-z]{2}-[A-Z]{2}")
_PERCENT_ESCAPE = re.compile(r"%[0-9A-F]{2}")


@dataclass(frozen=True)
class Item:
    """One image result as Bing lists it.

    ``m_json``, when given, replaces the JSON text of the anchor's ``m``
    attribute, to make an anchor whose metadata cannot be read.
    """

    image_url: str
    page_url: str
    title: str
    width: int = 800
    height: int = 600
    format: str = "jpeg"
    m_json: str | None = None


@dataclass
class QueryPlan:
    """What the replica serves for one query.

    ``kind`` is ``results``, ``no_results``, ``changed``, ``blocked`` or
    ``unavailable``. From page ``error_from_page`` on, the replica sends
    ``error_status`` instead of a page. Page numbers follow the page sizes,
    and every request past the last result counts as the last page plus one.
    """

    kind: str
    items: list[Item] = field(default_factory=list)
    page_sizes: Sequence[int] = DEFAULT_PAGE_SIZES
    error_status: int | None = None
    error_from_page: int = 1


class BingReplica:
    """Bing's ``/images/async`` endpoint as a route of a :class:`LocalServer`."""

    def __init__(self, server: LocalServer) -> None:
        self.server = server
        self.plans: dict[str, QueryPlan] = {}
        self.problems: list[str] = []
        server.add_handler(ASYNC_PATH, self._handle)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def add_results(
        self,
        query: str,
        items: Sequence[Item],
        page_sizes: Sequence[int] = DEFAULT_PAGE_SIZES,
        error_status: int | None = None,
        error_from_page: int = 1,
    ) -> QueryPlan:
        """Serve ``items`` for ``query``, in pages of ``page_sizes`` taken in turn.

        With ``error_status``, pages from ``error_from_page`` on return that
        HTTP status instead.
        """
        if not page_sizes or min(page_sizes) < 1:
            raise ValueError(f"page sizes must be positive, got {page_sizes!r}")
        plan = QueryPlan("results", list(items), tuple(page_sizes), error_status, error_from_page)
        self.plans[query] = plan
        return plan

    def add_no_results(self, query: str) -> None:
        self.plans[query] = QueryPlan("no_results")

    def add_changed_page(self, query: str, items: Sequence[Item]) -> None:
        """Serve ``items`` in a changed page shape: no ``a.iusc`` anchor, no ``m`` attribute."""
        self.plans[query] = QueryPlan("changed", list(items))

    def add_block_page(self, query: str) -> None:
        self.plans[query] = QueryPlan("blocked")

    def add_unavailable(self, query: str, status: int = 503) -> None:
        self.plans[query] = QueryPlan("unavailable", error_status=status)

    def pages(self, query: str, count: int = 35) -> list[list[Item]]:
        """Return the pages a client gets when it follows the offsets from ``first=1``."""
        plan = self.plans[query]
        return [plan.items[start - 1 : start - 1 + size] for start, size in _layout(plan, count)]

    def page_requests(self, query: str) -> list[Request]:
        """Return the requests for ``query`` that reached the endpoint, in order."""
        return [
            request
            for request in self.server.requests_to(ASYNC_PATH)
            if request.query.get("q") == [query]
        ]

    def _handle(self, request: BaseHTTPRequestHandler, query: dict[str, list[str]]) -> None:
        problems = _check_parameters(query)
        if problems:
            self.problems.extend(problems)
            send(request, "; ".join(problems).encode(), status=400, content_type="text/plain")
            return

        term = query["q"][0]
        first, count = int(query["first"][0]), int(query["count"][0])
        plan = self.plans.get(term)
        if plan is None:
            self.problems.append(f"request for a query the replica does not know: {term!r}")
            send(request, render_no_results_page(term), content_type=_HTML)
            return

        if plan.kind == "unavailable":
            send(request, render_error_page(plan.error_status), plan.error_status, _HTML)
            return
        if plan.kind == "no_results":
            send(request, render_no_results_page(term), content_type=_HTML)
            return
        if plan.kind == "blocked":
            send(request, render_block_page(term), content_type=_HTML)
            return
        if plan.kind == "changed":
            send(request, render_changed_page(term, plan.items[:count]), content_type=_HTML)
            return

        number, items = self._page_at(plan, first, count)
        if plan.error_status is not None and number >= plan.error_from_page:
            send(request, render_error_page(plan.error_status), plan.error_status, _HTML)
            return
        body = render_results_page(term, items, start_index=first)
        send(request, body, content_type=_HTML)

    def _page_at(self, plan: QueryPlan, first: int, count: int) -> tuple[int, list[Item]]:
        """Return the number of the page that ``first`` opens and its items.

        An offset past the last result gets the last page again, numbered one
        past the last page.
        """
        layout = _layout(plan, count)
        if not layout:
            return 1, []
        if first > len(plan.items):
            start, size = layout[-1]
            return len(layout) + 1, plan.items[start - 1 : start - 1 + size]

        number = sum(1 for start, _ in layout if start <= first)
        size = layout[number - 1][1]
        return number, plan.items[first - 1 : first - 1 + size]


def _layout(plan: QueryPlan, count: int) -> list[tuple[int, int]]:
    """Return the first item offset and the size of each page of ``plan``."""
    layout = []
    offset = 0
    while offset < len(plan.items):
        size = min(plan.page_sizes[len(layout) % len(plan.page_sizes)], count)
        layout.append((offset + 1, size))
        offset += size
    return layout


def _check_parameters(query: dict[str, list[str]]) -> list[str]:
    """Return what is wrong with the parameters of an ``/images/async`` request."""
    problems = []
    for name in ("q", "first", "count", "async"):
        values = query.get(name, [])
        if len(values) != 1:
            problems.append(f"parameter {name!r} must appear once, got {values!r}")
    if problems:
        return problems

    if not query["q"][0].strip():
        problems.append("parameter 'q' is empty")
    for name in ("first", "count"):
        value = query[name][0]
        if not value.isdigit() or int(value) < 1:
            problems.append(f"parameter {name!r} must be a whole number from 1, got {value!r}")
    if query["async"][0] != "1":
        problems.append(f"parameter 'async' must be 1, got {query['async'][0]!r}")
    market = query.get("mkt")
    if market is not None and (len(market) != 1 or not _MARKET.fullmatch(market[0])):
        problems.append(f"parameter 'mkt' must be one market code like en-US, got {market!r}")
    return problems


def _bing_ids(image_url: str) -> tuple[str, str, str]:
    """Return the ``md5``, ``mid`` and ``cid`` values Bing would give this image."""
    md5 = hashlib.md5(image_url.encode("utf-8")).hexdigest()
    mid = hashlib.sha1(image_url.encode("utf-8")).hexdigest().upper()
    cid = base64.b64encode(bytes.fromhex(md5)).decode("ascii")[:8]
    return md5, mid, cid


def _percent_encode(text: str) -> str:
    """Percent-encode ``text`` whole, with lower-case hex digits as Bing writes them."""
    return _PERCENT_ESCAPE.sub(lambda match: match.group(0).lower(), quote(text, safe=""))


def metadata(item: Item) -> dict:
    """Return the JSON object of an anchor's ``m`` attribute, keys in Bing's order."""
    md5, mid, cid = _bing_ids(item.image_url)
    return {
        "sid": "",
        "cturl": "",
        "cid": cid,
        "purl": item.page_url,
        "murl": item.image_url,
        "turl": f"https://tse1.mm.bing.net/th?id=OIP.{cid}&pid=15.1",
        "md5": md5,
        "shkey": "",
        "t": item.title,
        "mid": mid,
        "desc": "",
    }


def render_anchor(item: Item, query: str, index: int) -> str:
    """Render the ``a.iusc`` anchor of the result at position ``index`` (from 0) on its page.

    The attribute order depends on ``index``.
    """
    md5, mid, cid = _bing_ids(item.image_url)
    m_json = item.m_json
    if m_json is None:
        m_json = json.dumps(metadata(item), ensure_ascii=False, separators=(",", ":"))
    href = "/images/search?" + "&".join(
        [
            "view=detailV2",
            f"ccid={cid}",
            f"id={mid}",
            f"thid=OIP.{cid}",
            f"mediaurl={_percent_encode(item.image_url)}",
            f"exph={item.height}",
            f"expw={item.width}",
            f"q={quote_plus(query)}",
            f"simid={int(md5[:15], 16)}",
            f"ck={md5.upper()}",
            f"selectedIndex={index}",
            "FORM=IRPRST",
        ]
    )
    attributes = {
        "class": "iusc",
        "style": "height:180px;width:240px",
        "m": m_json,
        "onclick": "sj_evt.fire('IFrame.Navigate', this.href); return false;",
        "href": href,
        "h": f"ID=images,{5000 + index}.1",
    }
    orders = (
        ("class", "style", "m", "onclick", "href", "h"),
        ("m", "class", "href", "h", "style", "onclick"),
        ("href", "h", "style", "m", "onclick", "class"),
    )
    text = " ".join(
        f'{name}="{html.escape(attributes[name], quote=True)}"' for name in orders[index % 3]
    )
    return f"<a {text}>"


def render_result(item: Item, query: str, index: int) -> str:
    """Render one result tile: the anchor, its thumbnail, the size line and the source link."""
    _, _, cid = _bing_ids(item.image_url)
    host = item.page_url.split("/")[2] if item.page_url.count("/") >= 2 else item.page_url
    return (
        f'<li data-idx={index + 1} style="width:240px; height: 180px">'
        '<div class="iuscp varh" style="width:240px" data-hovstyle="" data-evt="1">'
        f'<div class="imgpt">{render_anchor(item, query, index)}'
        '<div class="img_cont hoff"><img class="mimg" style="background-color:#5a4c3f" '
        f'height="180" width="240" src="https://tse1.mm.bing.net/th/id/OIP.{cid}?w=240&amp;h=180'
        f'&amp;c=7&amp;pid=1.7" alt="{html.escape(item.title)}"/></div></a>'
        f'<div class="img_info hon"><span class="nowrap">{item.width} x {item.height} &#183; '
        f"{html.escape(item.format)}</span>"
        f'<div class="lnkw"><a title="{html.escape(host)}" target="_blank" '
        f'href="{html.escape(item.page_url)}" h="ID=images,5053.1">{html.escape(host)}</a>'
        "</div></div></div></div></li>"
    )


def render_results_page(
    query: str,
    items: Sequence[Item],
    start_index: int = 1,
    next_first: int | None = None,
) -> bytes:
    """Render an ``/images/async`` fragment that contains ``items``."""
    next_first = next_first if next_first is not None else start_index + len(items)
    next_url = "/images/async?" + urlencode(
        {
            "q": query,
            "first": next_first,
            "count": 35,
            "relp": len(items),
            "datsrc": "I",
            "layout": "RowBased",
            "mmasync": 1,
        }
    )
    rows = "".join(render_result(item, query, index) for index, item in enumerate(items))
    fragment = (
        '<div class="dg_b" role="main" data-pagewidth="0" data-clientwidth="0">'
        '<div id="mmComponent_images_2" class="dgControl hover" style="width:1516px" '
        f'data-nextUrl="{html.escape(next_url)}" data-postData="" data-iid="images.5056" '
        'data-layout="row">'
        f'<ul data-row=0 class="dgControl_list " data-infullrow=1 style="">{rows}</ul>'
        '<div id="mmComponent_images_2_exp" class="expandButton txtaft" '
        'data-expandOn=" scroll"><span class="expInner"><a href="javascript:void(0);" '
        'title="See more images" role="button"></a></span></div></div>'
        '<div id="bop_container" class="invis" data-chkfstpg="1"></div></div>'
    )
    return fragment.encode("utf-8")


def render_no_results_page(query: str) -> bytes:
    """Render the fragment Bing sends when the query matches no image."""
    return (
        '<div class="dg_b" role="main"><div id="b_content"><div class="b_no">'
        f"<h1>There are no results for <strong>{html.escape(query)}</strong></h1>"
        "<ul><li>Check your spelling or try different keywords</li></ul>"
        "</div></div></div>"
    ).encode()


def render_changed_page(query: str, items: Sequence[Item]) -> bytes:
    """Render results in a shape the replica invents for a future Bing.

    The tiles are ``a.richImgLnk`` anchors whose metadata sits in
    ``data-m``, so a parser that looks for ``a.iusc`` finds nothing.
    """
    tiles = "".join(
        f'<li><div class="imgtile"><a class="richImgLnk" '
        f'data-m="{html.escape(json.dumps(metadata(item)), quote=True)}" '
        f'href="/images/search?view=detailV2&amp;mediaurl={_percent_encode(item.image_url)}">'
        f'<img src="https://tse1.mm.bing.net/th?id=OIP.{_bing_ids(item.image_url)[2]}" '
        f'alt="{html.escape(item.title)}"></a></div></li>'
        for item in items
    )
    return (
        f'<div class="dg_b" role="main" data-query="{html.escape(query)}">'
        f'<ul class="imgGrid">{tiles}</ul></div>'
    ).encode()


def render_block_page(query: str) -> bytes:
    """Render a CAPTCHA page like the one Bing shows a client it suspects of being a robot.

    NOTE: Only the heading, the sentence and the address of the challenge
    frame follow Bing's page. The rest of its markup is not modeled.
    """
    return (
        "<!DOCTYPE html><html><head><title>Bing</title></head><body>"
        '<div id="b_content"><h1>One last step</h1>'
        "<p>Please solve the challenge below to continue.</p>"
        '<iframe src="/turing/captcha/challenge?'
        f'q={html.escape(quote_plus(query))}" title="Challenge" '
        'style="width:100%;height:500px;border:none"></iframe>'
        "</div></body></html>"
    ).encode()


def render_error_page(status: int) -> bytes:
    return (
        f"<!DOCTYPE html><html><head><title>Error {status}</title></head>"
        "<body><h1>Service Unavailable</h1><p>The service is temporarily unavailable. "
        "Please try again later.</p></body></html>"
    ).encode()


def add_image_with_query(
    server: LocalServer,
    path: str,
    body: bytes,
    content_type: str = "image/jpeg",
    parameters: dict[str, str] | None = None,
) -> str:
    """Serve ``body`` at ``path`` only when the query string is exactly ``parameters``.

    Returns the image URL with the query string, for example
    ``.../photo.jpg?w=800&h=600``. A request whose query string still contains
    ``&amp;`` arrives as ``w=800`` and ``amp;h=600`` and gets HTTP 404.
    """
    parameters = parameters if parameters is not None else {"w": "800", "h": "600"}
    expected = {name: [value] for name, value in parameters.items()}

    def handler(request: BaseHTTPRequestHandler, query: dict[str, list[str]]) -> None:
        if query != expected:
            message = f"expected query {expected}, got {query}".encode()
            send(request, message, status=404, content_type="text/plain")
            return
        send(request, body, content_type=content_type)

    url = server.add_handler(path, handler)
    return f"{url}?{urlencode(parameters)}"
