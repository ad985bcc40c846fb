"""A real HTTP server on 127.0.0.1 that plays the outlets in tests.

Routes map a path (with query) to either bytes (served with an ETag and Last-Modified and
honouring conditional requests, like a well-behaved outlet) or a function that builds the
whole answer.  Every request is recorded with its headers so tests can check the wire.
"""

from __future__ import annotations

import hashlib
import select
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Answer:
    """A complete answer: status, headers, body."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Sent piece by piece with a pause before each, without Content-Length (for slow
    # servers); body is ignored then.
    stream: list[bytes] | None = None
    pause: float = 0.0


@dataclass
class Request:
    """One request as the server saw it."""

    path: str
    headers: dict[str, str]
    body: bytes = b""
    method: str = "GET"
    # Whether the client has hung up: a slow handler stops working for it, as a server
    # behind a proxy does.
    gone: Callable[[], bool] = field(default=lambda: False, compare=False, repr=False)


def _hung_up(conn: socket.socket) -> bool:
    """Whether the client closed its end (readable, with nothing to read)."""
    try:
        if not select.select([conn], [], [], 0)[0]:
            return False
        return conn.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default 5 drops concurrent connects into SYN retries
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client that hung up before its answer: tests kill clients on purpose
        super().handle_error(request, client_address)


Handler = Callable[[Request], Answer]

LAST_MODIFIED = "Wed, 26 Oct 2022 02:00:00 GMT"


class FakeServer:
    """Start with ``with FakeServer() as s:``; ``s.url(path)`` gives the absolute URL."""

    def __init__(self) -> None:
        self.routes: dict[str, bytes | Handler] = {}
        self.requests: list[Request] = []
        self.content_type = "application/rss+xml; charset=utf-8"
        server = self

        class _H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self._serve("GET", b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self._serve("POST", self.rfile.read(length))

            def _serve(self, method: str, body: bytes) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                req = Request(self.path, headers, body, method, lambda: _hung_up(self.connection))
                server.requests.append(req)
                answer = server.answer(req)
                self.send_response(answer.status)
                for k, v in answer.headers.items():
                    self.send_header(k, v)
                if answer.stream is not None:
                    self.send_header("Connection", "close")
                    self.end_headers()
                    try:
                        for piece in answer.stream:
                            time.sleep(answer.pause)
                            self.wfile.write(piece)
                            self.wfile.flush()
                    except OSError:
                        pass  # the client gave up, as it should
                    self.close_connection = True
                    return
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                if answer.body:
                    self.wfile.write(answer.body)

        self.httpd = _Server(("127.0.0.1", 0), _H)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def answer(self, req: Request) -> Answer:
        route = self.routes.get(req.path)
        if route is None:
            return Answer(404, b"not found", {"Content-Type": "text/plain"})
        if callable(route):
            return route(req)
        etag = '"' + hashlib.sha1(route).hexdigest()[:16] + '"'
        if req.headers.get("if-none-match") == etag:
            return Answer(304, b"", {"ETag": etag})
        return Answer(
            200,
            route,
            {"Content-Type": self.content_type, "ETag": etag, "Last-Modified": LAST_MODIFIED},
        )

    def url(self, path: str) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def hits(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
