"""Concurrent, bounded HTTP downloads.

Every request has a connect time limit, a read time limit (the longest
silence allowed between two pieces of the body), a total time limit and a
size limit. So neither a server that trickles one byte every few seconds nor
an endless body can hang a run. Concurrency is bounded overall and per
host. Local files (``file://`` URLs) go through the same limits, so the
``folder:`` engine shares the download stage with the web engines.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiohttp

logger = logging.getLogger(__name__)

# A desktop browser's identity, because image hosts and search engines
# respond to unknown clients with errors or different pages.
DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
DEFAULT_ACCEPT_LANGUAGE = "en-US,en;q=0.9"
IMAGE_ACCEPT = "image/avif,image/webp,image/apng,image/png,image/jpeg,image/*;q=0.8,*/*;q=0.5"
_CHUNK_BYTES = 64 * 1024
_RETRIED_HTTP_STATUSES = {429, 500, 502, 503, 504}


@dataclass(frozen=True)
class FetchLimits:
    """Time, size and concurrency limits of a download.

    Times are in seconds. ``read_timeout`` bounds the silence between two
    pieces of the response, ``total_timeout`` the whole request including
    redirects. ``retries`` is how many more attempts a timeout, a refused
    connection, HTTP 429 or HTTP 5xx gets, waiting ``retry_wait`` seconds
    and then twice as long before each.
    """

    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0
    max_bytes: int = 25 * 1024 * 1024
    max_redirects: int = 5
    concurrency: int = 16
    per_host: int = 4
    retries: int = 1
    retry_wait: float = 1.0
    user_agent: str = DEFAULT_USER_AGENT
    accept_language: str = DEFAULT_ACCEPT_LANGUAGE

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout", "total_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {self.max_bytes}")
        if self.concurrency < 1 or self.per_host < 1:
            raise ValueError("concurrency and per_host must be at least 1")
        if self.retries < 0:
            raise ValueError(f"retries must be 0 or more, got {self.retries}")


@dataclass
class Response:
    """A response whose whole body arrived within the limits."""

    url: str
    final_url: str
    http_status: int | None
    content_type: str
    body: bytes
    retrieved_at: str
    attempts: int


class FetchError(Exception):
    """A download that failed; ``status`` is the manifest status.

    Statuses: ``invalid_url``, ``timeout``, ``too_large``, ``truncated``,
    ``connection_error``, ``tls_error``, ``too_many_redirects``,
    ``http_<code>`` (for example ``http_404``) and ``file_not_found``.
    """

    def __init__(
        self,
        status: str,
        reason: str,
        *,
        http_status: int | None = None,
        final_url: str = "",
        retrieved_at: str = "",
        attempts: int = 1,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.http_status = http_status
        self.final_url = final_url
        self.retrieved_at = retrieved_at
        self.attempts = attempts


def utc_now() -> str:
    """Return the current time in ISO 8601 UTC, to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class Fetcher:
    """An HTTP client session that applies :class:`FetchLimits` to every request.

    Use it as an async context manager::

        async with Fetcher(limits) as fetcher:
            response = await fetcher.get(url)
    """

    def __init__(self, limits: FetchLimits | None = None) -> None:
        self.limits = limits or FetchLimits()
        self._session: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(self.limits.concurrency)

    async def __aenter__(self) -> Fetcher:
        limits = self.limits
        connector = aiohttp.TCPConnector(limit=limits.concurrency, limit_per_host=limits.per_host)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=limits.total_timeout,
                sock_connect=limits.connect_timeout,
                sock_read=limits.read_timeout,
            ),
            headers={"User-Agent": limits.user_agent, "Accept-Language": limits.accept_language},
            # Cookies from one image host must not follow the run to the next.
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get(
        self, url: str, *, headers: dict[str, str] | None = None, max_bytes: int | None = None
    ) -> Response:
        """Download ``url`` within the limits, retrying transient failures.

        Raises
        ------
        FetchError
            When every attempt failed; its ``status`` names the last failure.
        """
        attempts = self.limits.retries + 1
        wait = self.limits.retry_wait
        for attempt in range(1, attempts + 1):
            try:
                async with self._slots:
                    response = await self._get_once(url, headers or {}, max_bytes)
                response.attempts = attempt
                return response
            except FetchError as error:
                error.attempts = attempt
                if attempt == attempts or not _is_transient(error):
                    raise
                logger.debug("retrying %s after %s (%s)", url, error.status, error.reason)
            await asyncio.sleep(wait)
            wait *= 2
        raise AssertionError("unreachable")

    async def _get_once(self, url: str, headers: dict[str, str], max_bytes: int | None) -> Response:
        limit = max_bytes or self.limits.max_bytes
        scheme = urlsplit(url).scheme.lower()
        if scheme == "file":
            return await asyncio.to_thread(_read_local_file, url, limit)
        if scheme not in ("http", "https"):
            raise FetchError("invalid_url", f"unsupported URL scheme {scheme!r} in {url!r}")
        if self._session is None:
            raise RuntimeError("Fetcher.get called outside 'async with Fetcher()'")

        retrieved_at = utc_now()
        try:
            async with self._session.get(
                url, headers=headers, max_redirects=self.limits.max_redirects
            ) as response:
                final_url = str(response.url)
                if response.status >= 400:
                    raise FetchError(
                        f"http_{response.status}",
                        f"server answered HTTP {response.status} {response.reason or ''}".strip(),
                        http_status=response.status,
                        final_url=final_url,
                        retrieved_at=retrieved_at,
                    )
                body = await _read_body(response, limit, final_url, retrieved_at)
                return Response(
                    url=url,
                    final_url=final_url,
                    http_status=response.status,
                    content_type=response.headers.get("Content-Type", ""),
                    body=body,
                    retrieved_at=retrieved_at,
                    attempts=1,
                )
        except FetchError:
            raise
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError) as error:
            raise FetchError(
                "timeout", self._describe_timeout(error), retrieved_at=retrieved_at
            ) from None
        except aiohttp.TooManyRedirects:
            raise FetchError(
                "too_many_redirects",
                f"more than {self.limits.max_redirects} redirects",
                retrieved_at=retrieved_at,
            ) from None
        except aiohttp.ClientPayloadError as error:
            raise FetchError(
                "truncated", f"body cut short: {error}", retrieved_at=retrieved_at
            ) from None
        except (aiohttp.ClientSSLError, ssl.SSLError) as error:
            raise FetchError(
                "tls_error", f"TLS failed: {error}", retrieved_at=retrieved_at
            ) from None
        except (aiohttp.InvalidURL, ValueError) as error:
            raise FetchError(
                "invalid_url", f"invalid URL {url!r}: {error}", retrieved_at=retrieved_at
            ) from None
        except (aiohttp.ClientError, OSError) as error:
            raise FetchError(
                "connection_error", f"{type(error).__name__}: {error}", retrieved_at=retrieved_at
            ) from None

    def _describe_timeout(self, error: BaseException) -> str:
        limits = self.limits
        if isinstance(error, aiohttp.ConnectionTimeoutError):
            return f"no connection within {limits.connect_timeout:g} s"
        if isinstance(error, aiohttp.SocketTimeoutError):
            return f"no data for {limits.read_timeout:g} s"
        return f"not finished within the total limit of {limits.total_timeout:g} s"


async def _read_body(
    response: aiohttp.ClientResponse, limit: int, final_url: str, retrieved_at: str
) -> bytes:
    declared = response.content_length
    if declared is not None and declared > limit:
        raise FetchError(
            "too_large",
            f"Content-Length {declared} bytes exceeds the limit of {limit} bytes",
            http_status=response.status,
            final_url=final_url,
            retrieved_at=retrieved_at,
        )
    chunks: list[bytes] = []
    received = 0
    async for chunk in response.content.iter_chunked(_CHUNK_BYTES):
        received += len(chunk)
        if received > limit:
            raise FetchError(
                "too_large",
                f"body exceeds the limit of {limit} bytes",
                http_status=response.status,
                final_url=final_url,
                retrieved_at=retrieved_at,
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _read_local_file(url: str, limit: int) -> Response:
    retrieved_at = utc_now()
    path = Path(unquote(urlsplit(url).path))
    try:
        size = path.stat().st_size
        if size > limit:
            raise FetchError(
                "too_large",
                f"{size} bytes exceeds the limit of {limit} bytes",
                retrieved_at=retrieved_at,
            )
        body = path.read_bytes()
    except FileNotFoundError:
        raise FetchError(
            "file_not_found", f"no file at {path}", retrieved_at=retrieved_at
        ) from None
    except OSError as error:
        raise FetchError(
            "connection_error", f"cannot read {path}: {error}", retrieved_at=retrieved_at
        ) from None
    return Response(url, url, None, "", body, retrieved_at, 1)


def _is_transient(error: FetchError) -> bool:
    if error.status in ("timeout", "connection_error"):
        return True
    return error.http_status in _RETRIED_HTTP_STATUSES
