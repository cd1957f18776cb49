"""Stage 1: search each term and download its images.

For each term the stage

1. requests the ranked results from the engine, saves them to
   ``search_results.csv`` and each result page to ``search_pages/`` with a
   record in ``search_pages.csv``;
2. downloads every result concurrently, checks the bytes, and saves the
   image as ``<rank>.jpg`` or ``<rank>.png``;
3. writes ``manifest.csv``, one row per result with its status and reason.

An interrupted term resumes: the saved result list is reused (the engine is
not asked again, so the ranks stay those of the first search), and the
results already recorded in ``manifest.partial.jsonl`` are not downloaded
again. A term with a ``manifest.csv`` is finished and skipped.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import shutil
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from ..fetch import IMAGE_ACCEPT, Fetcher, FetchError, FetchLimits
from ..files import Journal, read_csv_rows, write_bytes_atomic, write_csv_atomic
from ..images import DEFAULT_MAX_PIXELS, ImageRejected, check_image
from ..layout import Layout
from ..parallel import in_main_process, run_items
from ..search import (
    SEARCH_PAGE_COLUMNS,
    SEARCH_RESULT_COLUMNS,
    SearchContext,
    SearchError,
    SearchResult,
    make_engine,
)
from ..search.urllist import UrlListEngine
from .common import TermReport, failure_report, log_report

logger = logging.getLogger(__name__)

STAGE = "download"
_RANK_FILE = re.compile(r"\d+\.(jpg|png)")
MANIFEST_COLUMNS = (
    "rank",
    "engine",
    "query",
    "page",
    "page_url",
    "image_url",
    "source_url",
    "title",
    "retrieved_at",
    "attempts",
    "http_status",
    "final_url",
    "content_type",
    "bytes",
    "sha256",
    "format",
    "converted",
    "width",
    "height",
    "status",
    "reason",
    "duplicate_of",
    "file",
)


@dataclass(frozen=True)
class DownloadSettings:
    """Options of the download stage.

    ``limit`` is the number of results per term. ``max_pixels`` rejects
    images whose width times height exceeds it, before they are decoded.
    ``force`` downloads terms again even if they are finished.
    """

    root: Path
    engine: str = "bing"
    engine_url: str | None = None
    limit: int = 500
    fetch: FetchLimits = field(default_factory=FetchLimits)
    max_pixels: int = DEFAULT_MAX_PIXELS
    force: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))
        if self.limit < 1:
            raise ValueError(f"limit must be at least 1, got {self.limit}")


def download_term(term: str, settings: DownloadSettings) -> TermReport:
    """Search ``term`` and download its images; return how the stage ended.

    A term with a manifest is finished and skipped, unless ``force`` is set
    or the engine is replayable (a file of URLs, a folder of images) and now
    gives a different result list. A failed search is reported in the
    returned status; only programming errors raise.
    """
    layout = Layout(settings.root)
    engine = make_engine(settings.engine, settings.engine_url)
    manifest = layout.manifest_path(term)
    if settings.force:
        _forget_earlier_run(layout, term)
    elif manifest.exists():
        if not engine.replayable:
            logger.info("%s: skipping download, %s exists (--force searches again)", term, manifest)
            return TermReport(term, STAGE, "skipped", counts=_count_statuses(manifest))
        if _same_result_list(term, settings, layout, engine):
            logger.info(
                "%s: skipping download, %s exists and its result list is unchanged", term, manifest
            )
            return TermReport(term, STAGE, "skipped", counts=_count_statuses(manifest))
        logger.warning(
            "%s: %s now gives another result list; downloading again", term, engine.describe()
        )
        _forget_earlier_run(layout, term)
    return asyncio.run(_download_term(term, settings, layout, engine))


def _same_result_list(term: str, settings: DownloadSettings, layout: Layout, engine) -> bool:
    """Return True if ``engine`` still gives the ranks and URLs of the saved result list."""
    saved = layout.search_results_path(term)
    if not saved.exists():
        return False
    context = SearchContext(fetcher=Fetcher(settings.fetch))
    try:
        outcome = asyncio.run(engine.search(term, settings.limit, context))
    except SearchError:
        return False
    now = [(result.rank, result.image_url) for result in outcome.results]
    before = [(int(row["rank"]), row["image_url"]) for row in read_csv_rows(saved)]
    return now == before


async def _download_term(term, settings, layout, engine) -> TermReport:
    folder = layout.images_dir(term)
    folder.mkdir(parents=True, exist_ok=True)

    async with Fetcher(settings.fetch) as fetcher:
        try:
            results, search_status, search_reason = await _ranked_results(
                term, settings, layout, engine, fetcher
            )
        except SearchError as error:
            write_csv_atomic(
                layout.search_pages_path(term), _page_rows(error.pages), SEARCH_PAGE_COLUMNS
            )
            return TermReport(term, STAGE, error.status, f"search failed: {error.reason}")

        journal = Journal(folder / "manifest.partial.jsonl")
        rows = {int(row["rank"]): row for row in journal.load()}
        if rows:
            logger.info(
                "%s: resuming, %d of %d results already downloaded", term, len(rows), len(results)
            )
        to_download = [result for result in results if result.rank not in rows]
        width = max(4, len(str(max((result.rank for result in results), default=1))))

        with (
            journal,
            tqdm(
                total=len(results),
                initial=len(results) - len(to_download),
                desc=term[:30],
                unit="image",
                leave=False,
                disable=None if in_main_process() else True,
            ) as progress,
        ):
            tasks = [
                asyncio.create_task(
                    _download_result(term, engine.name, result, width, folder, settings, fetcher)
                )
                for result in to_download
            ]
            for finished in asyncio.as_completed(tasks):
                row = await finished
                journal.append(row)
                rows[row["rank"]] = row
                progress.update()

    manifest = _mark_duplicates([rows[rank] for rank in sorted(rows)], folder)
    write_csv_atomic(layout.manifest_path(term), manifest, MANIFEST_COLUMNS)
    journal.remove()

    counts = Counter(row["status"] for row in manifest)
    report = TermReport(
        term, STAGE, search_status if search_status != "ok" else "done", search_reason
    )
    report.counts = {"results": len(manifest), **dict(counts)}
    return report


async def _ranked_results(term, settings, layout, engine, fetcher):
    """Return the saved result list of an interrupted run, or search anew and save it."""
    saved = layout.search_results_path(term)
    if saved.exists():
        logger.info("%s: reusing the result list in %s", term, saved)
        rows = read_csv_rows(saved)
        return [_result_from_row(row) for row in rows], "ok", ""

    context = SearchContext(fetcher=fetcher, pages_dir=layout.search_pages_dir(term))
    logger.info("%s: searching %s for up to %d results", term, engine.describe(), settings.limit)
    outcome = await engine.search(term, settings.limit, context)
    write_csv_atomic(layout.search_pages_path(term), _page_rows(outcome.pages), SEARCH_PAGE_COLUMNS)
    write_csv_atomic(saved, outcome.result_rows(), SEARCH_RESULT_COLUMNS)
    logger.info("%s: %d results (%s)", term, len(outcome.results), outcome.status)
    return outcome.results, outcome.status, outcome.reason


def _page_rows(pages) -> list[dict]:
    return [asdict(page) for page in pages]


def _result_from_row(row: dict[str, str]) -> SearchResult:
    return SearchResult(
        rank=int(row["rank"]),
        image_url=row["image_url"],
        source_url=row["source_url"],
        page=int(row["page"]) if row["page"] else None,
        page_url=row["page_url"],
        title=row["title"],
        thumbnail_url=row["thumbnail_url"],
        engine_id=row["engine_id"],
    )


async def _download_result(
    term: str,
    engine_name: str,
    result: SearchResult,
    width: int,
    folder: Path,
    settings: DownloadSettings,
    fetcher: Fetcher,
) -> dict:
    """Download and check one result; return its manifest row."""
    row: dict = {column: None for column in MANIFEST_COLUMNS}
    row.update(
        rank=result.rank,
        engine=engine_name,
        query=term,
        page=result.page,
        page_url=result.page_url,
        image_url=result.image_url,
        source_url=result.source_url,
        title=result.title,
    )
    try:
        response = await fetcher.get(result.image_url, headers={"Accept": IMAGE_ACCEPT})
    except FetchError as error:
        row.update(
            status=error.status,
            reason=error.reason,
            http_status=error.http_status,
            final_url=error.final_url,
            retrieved_at=error.retrieved_at,
            attempts=error.attempts,
        )
        _log_failure(term, result, error.status, error.reason)
        return row

    body = response.body
    row.update(
        retrieved_at=response.retrieved_at,
        attempts=response.attempts,
        http_status=response.http_status,
        final_url=response.final_url,
        content_type=response.content_type,
        bytes=len(body),
        sha256=hashlib.sha256(body).hexdigest(),
    )
    try:
        image = await asyncio.to_thread(check_image, body, settings.max_pixels)
    except ImageRejected as error:
        row.update(status=error.status, reason=error.reason)
        _log_failure(term, result, error.status, error.reason)
        return row
    except Exception as error:  # one image's unexpected failure must not end its term
        logger.exception("%s: rank %d: checking %s failed", term, result.rank, result.image_url)
        row.update(status="error", reason=f"{type(error).__name__}: {error}")
        return row

    name = f"{result.rank:0{width}d}{image.extension}"
    await asyncio.to_thread(write_bytes_atomic, folder / name, image.data)
    row.update(
        format=image.source_format,
        converted=image.converted,
        width=image.width,
        height=image.height,
        status="ok",
        file=name,
        reason=f"converted from {image.source_format} to jpeg" if image.converted else "",
    )
    return row


def _log_failure(term: str, result: SearchResult, status: str, reason: str) -> None:
    logger.warning("%s: rank %d: %s: %s (%s)", term, result.rank, status, reason, result.image_url)


def _mark_duplicates(rows: list[dict], folder: Path) -> list[dict]:
    """Mark images whose bytes equal those of a better-ranked image, and delete their files.

    The best-ranked copy stays ``ok``; every later copy becomes ``duplicate``
    with ``duplicate_of`` set to the rank it repeats, so each picture is
    counted once.
    """
    first_rank: dict[str, int] = {}
    for row in rows:
        if row["status"] not in ("ok", "duplicate") or not row["sha256"]:
            continue
        original = first_rank.setdefault(row["sha256"], int(row["rank"]))
        if original != int(row["rank"]) and row["status"] == "ok":
            if row["file"]:
                (folder / row["file"]).unlink(missing_ok=True)
            row.update(
                status="duplicate",
                reason=f"same bytes as rank {original}",
                duplicate_of=original,
                file="",
            )
    return rows


def _count_statuses(manifest: Path) -> dict[str, int]:
    rows = read_csv_rows(manifest)
    return {"results": len(rows), **dict(Counter(row["status"] for row in rows))}


def _forget_earlier_run(layout: Layout, term: str) -> None:
    """Remove the files of an earlier download so that ``--force`` starts afresh."""
    folder = layout.images_dir(term)
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if path.is_file() and (
            _RANK_FILE.fullmatch(path.name) or path.suffix in (".csv", ".jsonl")
        ):
            path.unlink()
    shutil.rmtree(layout.search_pages_dir(term), ignore_errors=True)


def download_terms(terms: list[str], settings: DownloadSettings, workers: int) -> list[TermReport]:
    """Run stage 1 for every term, spreading terms over ``workers`` processes.

    A failure on one term is logged and reported; the other terms go on.
    """
    engine = make_engine(settings.engine, settings.engine_url)  # reject a bad --engine first
    if isinstance(engine, UrlListEngine):
        unknown = engine.unknown_terms(terms)
        if unknown:
            logger.warning(
                "%s lists URLs for terms that are not in the terms file, which are not used: %s",
                engine.path,
                ", ".join(unknown),
            )
    reports = []
    with tqdm(total=len(terms), desc="download", unit="term", disable=None) as progress:
        for term, report, error in run_items(
            _DownloadJob(settings), terms, min(workers, len(terms))
        ):
            report = report if error is None else failure_report(term, STAGE, error)
            log_report(report)
            reports.append(report)
            progress.update()
    return reports


class _DownloadJob:
    """Picklable callable that downloads one term in a worker process."""

    def __init__(self, settings: DownloadSettings) -> None:
        self.settings = settings

    def __call__(self, term: str) -> TermReport:
        return download_term(term, self.settings)
