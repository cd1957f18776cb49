"""Bounded HTTP and file downloads, against real servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest

from imagecensus.fetch import Fetcher, FetchError, FetchLimits

# Small limits keep the failing cases short. Tests of retries pass their own limits.
FAST = FetchLimits(
    connect_timeout=1.0,
    read_timeout=1.0,
    total_timeout=1.5,
    retries=0,
    retry_wait=0.01,
)
# Maximum seconds one fetch in a test may take before the test counts it as hung.
HANG_GUARD_SECONDS = 15.0


def fetch(url: str, limits: FetchLimits = FAST, **options):
    """Download ``url`` with a new Fetcher; return the Response or the FetchError."""

    async def run():
        async with Fetcher(limits) as fetcher:
            try:
                return await fetcher.get(url, **options)
            except FetchError as error:
                return error

    return asyncio.run(asyncio.wait_for(run(), HANG_GUARD_SECONDS))


def send_headers(request, length: int | None, content_type: str = "image/jpeg") -> None:
    request.send_response(200)
    request.send_header("Content-Type", content_type)
    if length is None:
        request.send_header("Transfer-Encoding", "chunked")
    else:
        request.send_header("Content-Length", str(length))
    request.end_headers()
    request.wfile.flush()


@pytest.fixture
def released():
    """An event that stalled handlers wait on, set when the test ends."""
    event = threading.Event()
    yield event
    event.set()


def test_body_is_returned_with_metadata(server):
    url = server.add("photo.jpg", b"image bytes", content_type="image/jpeg")
    response = fetch(url)

    assert response.body == b"image bytes"
    assert response.http_status == 200
    assert response.content_type == "image/jpeg"
    assert response.final_url == url
    assert response.attempts == 1
    assert response.retrieved_at.endswith("Z")


def test_trickling_body_hits_total_limit(server, released):
    def trickle(request, query):
        send_headers(request, 100)
        for _ in range(100):
            if released.wait(0.2):
                return
            request.wfile.write(b"x")
            request.wfile.flush()

    error = fetch(server.add_handler("trickle.jpg", trickle))

    assert isinstance(error, FetchError)
    assert error.status == "timeout"
    assert "total limit" in error.reason


def test_stalled_body_hits_read_limit(server, released):
    def stall(request, query):
        send_headers(request, 100)
        request.wfile.write(b"x" * 10)
        request.wfile.flush()
        released.wait(30)

    limits = FetchLimits(read_timeout=1.0, total_timeout=10.0, retries=0)
    error = fetch(server.add_handler("stall.jpg", stall), limits)

    assert isinstance(error, FetchError)
    assert error.status == "timeout"
    assert "no data for 1 s" in error.reason


def test_declared_length_over_limit_is_too_large(server, released):
    # The body never comes: reading it would end in a timeout, not too_large.
    def announce_only(request, query):
        send_headers(request, 5000)
        released.wait(30)

    limits = FetchLimits(read_timeout=1.0, total_timeout=10.0, max_bytes=1000, retries=0)
    error = fetch(server.add_handler("big.jpg", announce_only), limits)

    assert isinstance(error, FetchError)
    assert error.status == "too_large"
    assert "Content-Length 5000" in error.reason


def test_chunked_body_over_limit_is_too_large(server):
    def endless_chunks(request, query):
        send_headers(request, None)
        chunk = b"x" * 1024
        for _ in range(10_000):
            request.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        request.wfile.write(b"0\r\n\r\n")

    limits = FetchLimits(max_bytes=10_000, retries=0)
    error = fetch(server.add_handler("chunked.jpg", endless_chunks), limits)

    assert isinstance(error, FetchError)
    assert error.status == "too_large"


def test_chunked_body_within_limit_is_read(server):
    def chunks(request, query):
        send_headers(request, None)
        for piece in (b"first ", b"second"):
            request.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        request.wfile.write(b"0\r\n\r\n")

    response = fetch(server.add_handler("small-chunked.jpg", chunks))

    assert response.body == b"first second"


def test_short_body_is_truncated(server):
    def cut_short(request, query):
        send_headers(request, 1000)
        request.wfile.write(b"x" * 400)
        request.wfile.flush()
        request.close_connection = True

    error = fetch(server.add_handler("short.jpg", cut_short))

    assert isinstance(error, FetchError)
    assert error.status == "truncated"


def test_redirect_is_followed(server):
    target = server.add("new/photo.jpg", b"moved here")

    def redirect(request, query):
        request.send_response(302)
        request.send_header("Location", "/new/photo.jpg")
        request.send_header("Content-Length", "0")
        request.end_headers()

    response = fetch(server.add_handler("old/photo.jpg", redirect))

    assert response.body == b"moved here"
    assert response.final_url == target


def test_redirect_loop_is_too_many_redirects(server):
    def redirect_to(path):
        def handler(request, query):
            request.send_response(302)
            request.send_header("Location", path)
            request.send_header("Content-Length", "0")
            request.end_headers()

        return handler

    server.add_handler("loop-a", redirect_to("/loop-b"))
    error = fetch(server.add_handler("loop-b", redirect_to("/loop-a")))

    assert isinstance(error, FetchError)
    assert error.status == "too_many_redirects"


def test_not_found_is_http_404_without_retry(server):
    url = server.add("missing.jpg", b"no such image", status=404, content_type="text/plain")
    limits = FetchLimits(retries=2, retry_wait=0.01)
    error = fetch(url, limits)

    assert isinstance(error, FetchError)
    assert error.status == "http_404"
    assert error.http_status == 404
    assert error.attempts == 1
    assert len(server.requests_to("missing.jpg")) == 1


def test_service_unavailable_is_retried(server):
    answers = iter([(503, b"busy"), (200, b"image bytes")])

    def busy_once(request, query):
        status, body = next(answers)
        request.send_response(status)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    limits = FetchLimits(retries=1, retry_wait=0.01)
    response = fetch(server.add_handler("busy.jpg", busy_once), limits)

    assert response.body == b"image bytes"
    assert response.attempts == 2
    assert len(server.requests_to("busy.jpg")) == 2


def test_service_unavailable_after_retries_fails(server):
    url = server.add("down.jpg", b"busy", status=503, content_type="text/plain")
    limits = FetchLimits(retries=2, retry_wait=0.01)
    error = fetch(url, limits)

    assert isinstance(error, FetchError)
    assert error.status == "http_503"
    assert error.attempts == 3


def test_refused_connection_is_connection_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = fetch(f"http://127.0.0.1:{port}/photo.jpg")

    assert isinstance(error, FetchError)
    assert error.status == "connection_error"


def test_ftp_url_is_invalid_url():
    error = fetch("ftp://127.0.0.1/photo.jpg")

    assert isinstance(error, FetchError)
    assert error.status == "invalid_url"


def test_file_url_reads_local_file(tmp_path):
    path = tmp_path / "local photo.jpg"
    path.write_bytes(b"local image bytes")
    response = fetch(path.as_uri())

    assert response.body == b"local image bytes"
    assert response.http_status is None


def test_missing_file_is_file_not_found(tmp_path):
    error = fetch((tmp_path / "absent.jpg").as_uri())

    assert isinstance(error, FetchError)
    assert error.status == "file_not_found"


def test_file_over_limit_is_too_large(tmp_path):
    path = tmp_path / "large.jpg"
    path.write_bytes(b"x" * 2000)
    error = fetch(path.as_uri(), FetchLimits(max_bytes=1000))

    assert isinstance(error, FetchError)
    assert error.status == "too_large"


def test_requests_per_host_are_bounded(server):
    lock = threading.Lock()
    in_flight = 0
    peak = 0

    def slow(request, query):
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.3)
        with lock:
            in_flight -= 1
        body = b"image bytes"
        request.send_response(200)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    url = server.add_handler("slow.jpg", slow)
    limits = FetchLimits(per_host=2, concurrency=16, retries=0)

    async def fetch_all():
        async with Fetcher(limits) as fetcher:
            return await asyncio.gather(*(fetcher.get(f"{url}?n={n}") for n in range(6)))

    responses = asyncio.run(asyncio.wait_for(fetch_all(), HANG_GUARD_SECONDS))

    assert [response.body for response in responses] == [b"image bytes"] * 6
    assert peak == 2


@pytest.mark.parametrize(
    "options",
    [
        {"read_timeout": 0},
        {"total_timeout": -1},
        {"max_bytes": 0},
        {"per_host": 0},
        {"retries": -1},
    ],
)
def test_fetch_limits_reject_invalid_values(options):
    with pytest.raises(ValueError):
        FetchLimits(**options)
