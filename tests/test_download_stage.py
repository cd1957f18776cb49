"""Stage 1 end to end: a CSV of URLs, a real server on 127.0.0.1, files on disk."""

from __future__ import annotations

import csv
import hashlib
import io
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
from PIL import Image

from imagecensus.fetch import FetchLimits
from imagecensus.files import Journal
from imagecensus.layout import Layout
from imagecensus.stages.download import MANIFEST_COLUMNS, DownloadSettings, download_term

TERM = "nurse"
FAST = FetchLimits(connect_timeout=2.0, read_timeout=5.0, total_timeout=10.0, retries=0)
HTML_PAGE = b"<!DOCTYPE html><html><body><h1>Access denied</h1></body></html>"


def encode(image: Image.Image, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def noise(seed: int, width: int = 64, height: int = 48) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def write_url_list(path, term: str, urls: list[str]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["term", "url"])
        writer.writerows([term, url] for url in urls)


def read_manifest(path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Study:
    """Five results served on 127.0.0.1, with their settings and paths."""

    def __init__(self, server, tmp_path) -> None:
        self.server = server
        self.webp = encode(noise(1), "WEBP", quality=90)
        self.png = encode(noise(2), "PNG")
        # A WebP under a .jpg name and an image/jpeg header, as hosts often serve it.
        self.paths = ["photo.jpg", "error-page.jpg", "copy-of-photo.jpg", "picture.png", "gone.jpg"]
        self.bodies = [self.webp, HTML_PAGE, self.webp, self.png, b"not found"]
        server.add("photo.jpg", self.webp, content_type="image/jpeg")
        server.add("error-page.jpg", HTML_PAGE, content_type="image/jpeg")
        server.add("copy-of-photo.jpg", self.webp, content_type="image/jpeg")
        server.add("picture.png", self.png, content_type="image/png")
        server.add("gone.jpg", b"not found", status=404, content_type="text/plain")

        url_list = tmp_path / "urls.csv"
        write_url_list(url_list, TERM, [server.url(path) for path in self.paths])
        self.settings = DownloadSettings(
            root=tmp_path / "study", engine=f"urls:{url_list}", limit=100, fetch=FAST
        )
        self.layout = Layout(self.settings.root)
        self.folder = self.layout.images_dir(TERM)

    def manifest(self) -> list[dict[str, str]]:
        return read_manifest(self.layout.manifest_path(TERM))[1]

    def row(self, rank: int) -> dict[str, str]:
        return next(row for row in self.manifest() if row["rank"] == str(rank))

    def request_count(self) -> int:
        return len(self.server.requests)


@pytest.fixture
def study(server, tmp_path):
    return Study(server, tmp_path)


@pytest.fixture
def downloaded(study):
    study.report = download_term(TERM, study.settings)
    return study


def test_manifest_has_exact_columns(downloaded):
    columns, _ = read_manifest(downloaded.layout.manifest_path(TERM))

    assert columns == list(MANIFEST_COLUMNS)


def test_manifest_has_row_per_result(downloaded):
    assert [row["rank"] for row in downloaded.manifest()] == ["1", "2", "3", "4", "5"]


def test_every_row_has_status(downloaded):
    assert all(row["status"] for row in downloaded.manifest())


def test_every_failure_has_reason(downloaded):
    failures = [row for row in downloaded.manifest() if row["status"] != "ok"]

    assert len(failures) == 3
    assert all(row["reason"] for row in failures)


def test_rows_record_query_and_url(downloaded):
    for row, path in zip(downloaded.manifest(), downloaded.paths, strict=True):
        assert row["query"] == TERM
        assert row["engine"] == "urls"
        assert row["image_url"] == downloaded.server.url(path)


def test_webp_named_jpg_is_converted(downloaded):
    row = downloaded.row(1)
    saved = Image.open(downloaded.folder / "0001.jpg")

    assert row["status"] == "ok"
    assert row["file"] == "0001.jpg"
    assert row["format"] == "webp"
    assert row["converted"] == "True"
    assert row["content_type"] == "image/jpeg"
    assert saved.format == "JPEG"
    assert saved.size == (64, 48)
    assert (row["width"], row["height"]) == ("64", "48")


def test_html_served_as_jpeg_is_not_an_image(downloaded):
    row = downloaded.row(2)

    assert row["status"] == "not_an_image"
    assert row["file"] == ""
    assert list(downloaded.folder.glob("0002.*")) == []


def test_repeated_bytes_are_duplicate(downloaded):
    row = downloaded.row(3)

    assert row["status"] == "duplicate"
    assert row["duplicate_of"] == "1"
    assert row["file"] == ""
    assert list(downloaded.folder.glob("0003.*")) == []


def test_png_is_saved_byte_for_byte(downloaded):
    row = downloaded.row(4)

    assert row["status"] == "ok"
    assert row["file"] == "0004.png"
    assert row["converted"] == "False"
    assert (downloaded.folder / "0004.png").read_bytes() == downloaded.png


def test_missing_url_is_http_404(downloaded):
    row = downloaded.row(5)

    assert row["status"] == "http_404"
    assert row["http_status"] == "404"
    assert row["file"] == ""


def test_sha256_and_bytes_are_of_served_body(downloaded):
    for row, body in zip(downloaded.manifest(), downloaded.bodies, strict=True):
        if row["status"] == "http_404":
            continue
        assert row["sha256"] == sha256(body), row["rank"]
        assert row["bytes"] == str(len(body)), row["rank"]


def test_only_ok_rows_have_files(downloaded):
    saved = sorted(
        path.name for path in downloaded.folder.iterdir() if path.suffix in (".jpg", ".png")
    )
    listed = sorted(row["file"] for row in downloaded.manifest() if row["file"])

    assert saved == listed == ["0001.jpg", "0004.png"]


def test_no_temporary_files_remain(downloaded):
    leftovers = [
        path.name for path in downloaded.folder.iterdir() if path.suffix in (".tmp", ".jsonl")
    ]

    assert leftovers == []


def test_search_results_are_saved(downloaded):
    _, rows = read_manifest(downloaded.layout.search_results_path(TERM))

    assert [row["image_url"] for row in rows] == [
        downloaded.server.url(p) for p in downloaded.paths
    ]


def test_report_counts_statuses(downloaded):
    report = downloaded.report

    assert report.status == "done"
    assert report.counts["results"] == 5
    assert report.counts["ok"] == 2
    assert report.counts["duplicate"] == 1


def test_second_call_skips_term(downloaded):
    requests_before = downloaded.request_count()
    manifest_before = downloaded.layout.manifest_path(TERM).read_bytes()

    report = download_term(TERM, downloaded.settings)

    assert report.status == "skipped"
    assert report.counts["results"] == 5
    assert downloaded.request_count() == requests_before
    assert downloaded.layout.manifest_path(TERM).read_bytes() == manifest_before


def test_force_downloads_again(downloaded):
    requests_before = downloaded.request_count()
    (downloaded.folder / "0004.png").unlink()
    settings = DownloadSettings(
        root=downloaded.settings.root,
        engine=downloaded.settings.engine,
        limit=100,
        fetch=FAST,
        force=True,
    )

    report = download_term(TERM, settings)

    assert report.status == "done"
    assert downloaded.request_count() == requests_before + 5
    assert (downloaded.folder / "0004.png").read_bytes() == downloaded.png
    assert len(downloaded.manifest()) == 5


def test_changed_url_list_downloads_again(downloaded, tmp_path):
    extra = downloaded.server.add("extra.png", encode(noise(3), "PNG"), content_type="image/png")
    urls = [downloaded.server.url(path) for path in downloaded.paths] + [extra]
    write_url_list(tmp_path / "urls.csv", TERM, urls)

    report = download_term(TERM, downloaded.settings)

    assert report.status == "done"
    assert len(downloaded.manifest()) == 6
    assert downloaded.row(6)["status"] == "ok"


def test_term_given_urls_later_is_downloaded(study, tmp_path):
    first = download_term("pilot", study.settings)
    write_url_list(tmp_path / "urls.csv", "pilot", [study.server.url("picture.png")])

    second = download_term("pilot", study.settings)

    assert (first.status, second.status) == ("no_results", "done")
    assert second.counts["ok"] == 1


def test_term_absent_from_url_list_is_no_results(study):
    report = download_term("pilot", study.settings)
    _, rows = read_manifest(study.layout.manifest_path("pilot"))

    assert report.status == "no_results"
    assert rows == []
    assert study.request_count() == 0


def test_limit_caps_downloads(study):
    settings = DownloadSettings(
        root=study.settings.root, engine=study.settings.engine, limit=2, fetch=FAST
    )
    download_term(TERM, settings)

    assert [row["rank"] for row in study.manifest()] == ["1", "2"]
    assert study.request_count() == 2


# Resuming after the process was killed

DOWNLOAD_ONE_TERM = textwrap.dedent(
    """
    import sys

    from imagecensus.fetch import FetchLimits
    from imagecensus.stages.download import DownloadSettings, download_term

    root, url_list, term = sys.argv[1:]
    limits = FetchLimits(read_timeout=120, total_timeout=180, retries=0)
    settings = DownloadSettings(root=root, engine=f"urls:{url_list}", fetch=limits)
    print(download_term(term, settings).status)
    """
)


def wait_for_journal_line(journal: Journal, process: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not journal.load():
        if process.poll() is not None:
            raise AssertionError(f"the download ended early: {process.communicate()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no line in {journal.path} after {seconds} s")
        time.sleep(0.05)


def test_killed_download_resumes(server, tmp_path):
    released = threading.Event()
    images = [encode(noise(seed), "PNG") for seed in range(10, 15)]
    paths = [f"image-{rank}.png" for rank in range(1, 6)]
    stalled = paths[2]
    for path, image in zip(paths, images, strict=True):
        if path != stalled:
            server.add(path, image, content_type="image/png")

    def stall(request, query):
        released.wait(60)

    server.add_handler(stalled, stall)
    url_list = tmp_path / "urls.csv"
    write_url_list(url_list, TERM, [server.url(path) for path in paths])
    root = tmp_path / "study"
    layout = Layout(root)
    journal = Journal(layout.images_dir(TERM) / "manifest.partial.jsonl")

    process = subprocess.Popen(
        [sys.executable, "-c", DOWNLOAD_ONE_TERM, str(root), str(url_list), TERM],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_journal_line(journal, process, seconds=30)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        released.set()

    recorded = {int(entry["rank"]) for entry in journal.load()}
    assert recorded
    assert 3 not in recorded
    assert not layout.manifest_path(TERM).exists()

    server.add(stalled, images[2], content_type="image/png")
    settings = DownloadSettings(root=root, engine=f"urls:{url_list}", fetch=FAST)
    report = download_term(TERM, settings)
    _, rows = read_manifest(layout.manifest_path(TERM))

    assert report.status == "done"
    assert [row["rank"] for row in rows] == ["1", "2", "3", "4", "5"]
    assert [row["status"] for row in rows] == ["ok"] * 5
    assert [row["sha256"] for row in rows] == [sha256(image) for image in images]
    assert not journal.path.exists()
    for rank in recorded:
        assert len(server.requests_to(paths[rank - 1])) == 1, f"rank {rank} downloaded again"
    assert len(server.requests_to(stalled)) == 2
