"""A real HTTP server on 127.0.0.1 for tests, with routes defined per test.

Each route maps a path to a fixed response or to a function that writes the
response itself (to trickle bytes, cut a body short, redirect, or respond
differently by query). The server records every request it receives.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

Handler = Callable[[BaseHTTPRequestHandler, dict[str, list[str]]], None]


@dataclass
class Request:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


class LocalServer:
    """A threaded HTTP server bound to 127.0.0.1 on a free port."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.requests: list[Request] = []
        server = self

        class _RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (name fixed by http.server)
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                server.requests.append(Request(parts.path, query, dict(self.headers)))
                handler = server.routes.get(parts.path)
                if handler is None:
                    send(self, b"not found", status=404, content_type="text/plain")
                    return
                try:
                    handler(self, query)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _RequestHandler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.base_url}/{quote(path.lstrip('/'))}"

    def start(self) -> LocalServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def add(
        self,
        path: str,
        body: bytes,
        status: int = 200,
        content_type: str = "application/octet-stream",
        headers: dict[str, str] | None = None,
    ) -> str:
        """Serve ``body`` at ``path``; return its URL."""

        def handler(request: BaseHTTPRequestHandler, query: dict) -> None:
            send(request, body, status=status, content_type=content_type, headers=headers)

        return self.add_handler(path, handler)

    def add_file(self, path: str, file: Path, content_type: str = "image/jpeg") -> str:
        return self.add(path, Path(file).read_bytes(), content_type=content_type)

    def add_handler(self, path: str, handler: Handler) -> str:
        path = "/" + path.lstrip("/")
        self.routes[path] = handler
        return self.url(path)

    def requests_to(self, path: str) -> list[Request]:
        path = "/" + path.lstrip("/")
        return [request for request in self.requests if request.path == path]


def send(
    request: BaseHTTPRequestHandler,
    body: bytes,
    status: int = 200,
    content_type: str = "application/octet-stream",
    headers: dict[str, str] | None = None,
) -> None:
    """Write a complete response with a correct Content-Length."""
    request.send_response(status)
    request.send_header("Content-Type", content_type)
    request.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        request.send_header(name, value)
    request.end_headers()
    request.wfile.write(body)
