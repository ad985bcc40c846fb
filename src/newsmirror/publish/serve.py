"""``newsmirror serve``: the built site over HTTP, with live search over the catalog.

Static files come from the site folder as they are; ``search.html?q=…`` is answered from the
catalog's full-text index instead (ranked, with snippets, no JavaScript), so search works
the moment an article is archived, without waiting for the static index.  Meant for one
machine or a small audience behind a real web server, like ``python -m http.server``, but
safe to expose: only regular files inside the site folder are served (no symbolic link
out of it, no listing, no dot-file), idle connections are closed after a timeout and
their number is capped, and a query is bounded in size and runs on its own connection.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ..config import Settings
from ..render.html import Pages, md_to_html, when
from ..store.catalog import Catalog
from ..store.search import MAX_COUNT, QueryError, SearchIndex

log = logging.getLogger(__name__)


IDLE_TIMEOUT = 15.0  # seconds a connection may sit without sending a request
MAX_CONNECTIONS = 64  # open at once; more are closed at once (a slowloris gets no thread)


class _Handler(SimpleHTTPRequestHandler):
    live: LiveSearch
    timeout = IDLE_TIMEOUT

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path in ("/search.html", "/search") and parts.query:
            query = parse_qs(parts.query, max_num_fields=8).get("q", [""])[0]
            body = self.live.page(query)
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def send_head(self) -> Any:
        """Only regular files inside the site folder: no listing, no dot-file (the build's
        own state), no symbolic link leading out."""
        path = unquote(urlsplit(self.path).path)
        if any(part.startswith(".") for part in path.split("/") if part):
            self.send_error(HTTPStatus.NOT_FOUND)
            return None
        target = Path(self.translate_path(self.path))
        if target.is_dir():
            target = target / "index.html"
        root = Path(self.directory).resolve()
        try:
            real = target.resolve(strict=True)
        except (OSError, RuntimeError):
            real = None
        if real is None or not real.is_relative_to(root) or not real.is_file():
            self.send_error(HTTPStatus.NOT_FOUND)
            return None
        return super().send_head()

    def list_directory(self, path: str | os.PathLike[str]) -> None:
        self.send_error(HTTPStatus.NOT_FOUND)
        return None

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


class LiveSearch:
    """Search pages rendered from the catalog.  Each serving thread reads on a connection
    of its own (SQLite lets readers run side by side); only bringing the index up to date
    takes a lock, so one slow query never makes the others wait."""

    def __init__(self, settings: Settings, pages: Pages, limit: int = 30) -> None:
        self.settings = settings
        self.pages = pages
        self.limit = limit
        self.names = {s.id: s.name for s in settings.sources}
        self.catalog = Catalog(settings.catalog, create=False, shared=True)
        self.lock = threading.Lock()
        self._local = threading.local()
        self._opened: list[Catalog] = []

    def _reader(self) -> Catalog:
        catalog: Catalog | None = getattr(self._local, "catalog", None)
        if catalog is None:
            catalog = Catalog(self.settings.catalog, create=False, shared=True)
            self._local.catalog = catalog
            with self.lock:
                self._opened.append(catalog)
        return catalog

    def page(self, query: str) -> bytes:
        """The search page for ``query``: results, or the error that explains the query."""
        live: dict[str, Any] = {"query": query, "error": None, "hits": [], "total": 0}
        if query.strip():
            try:
                with self.lock:
                    SearchIndex(self.catalog).sync()
                hits, total = SearchIndex(self._reader()).search(query, limit=self.limit)
                live["total"] = f"{MAX_COUNT}+" if total > MAX_COUNT else str(total)
            except QueryError as e:
                live["error"] = str(e)
                hits = []
            for h in hits:
                iso, shown = when(h.date_ms)
                live["hits"].append(
                    {
                        "title": h.title,
                        "page": md_to_html(h.path),
                        "source_name": self.names.get(h.source, h.source),
                        "iso": iso,
                        "when": shown,
                        "snippet": h.snippet,
                    }
                )
        return self.pages.render("search.html", "search.html", live=live, bundles=[])

    def close(self) -> None:
        with self.lock:
            for catalog in self._opened:
                catalog.close()
        self.catalog.close()


class _Server(ThreadingHTTPServer):
    """A thread per connection, at most :data:`MAX_CONNECTIONS` of them."""

    daemon_threads = True

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)  # full: closed at once, no thread
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        super().server_bind()


def make_server(
    settings: Settings, pages: Pages, host: str, port: int
) -> tuple[ThreadingHTTPServer, LiveSearch]:
    """A server for the site folder (not yet serving); port 0 picks a free one."""
    live = LiveSearch(settings, pages)
    handler = type("Handler", (_Handler,), {"live": live})
    server = _Server((host, port), partial(handler, directory=str(settings.site.path)))
    return server, live
