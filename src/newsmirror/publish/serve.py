"""``newsmirror serve``: the built site over HTTP, with live search over the catalog.

Static files come from the site folder as they are; ``search.html?q=…`` is answered from the
catalog's full-text index instead (ranked, with snippets, no JavaScript), so search works
the moment an article is archived, without waiting for the static index.  Meant for one
machine or a small audience behind a real web server, like ``python -m http.server``.
"""

from __future__ import annotations

import logging
import threading
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..config import Settings
from ..render.html import Pages, md_to_html, when
from ..store.catalog import Catalog
from ..store.search import MAX_COUNT, QueryError, SearchIndex

log = logging.getLogger(__name__)


class _Handler(SimpleHTTPRequestHandler):
    live: LiveSearch

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path in ("/search.html", "/search") and parts.query:
            query = parse_qs(parts.query).get("q", [""])[0]
            body = self.live.page(query)
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


class LiveSearch:
    """Search pages rendered from the catalog; one connection, used under a lock."""

    def __init__(self, settings: Settings, pages: Pages, limit: int = 30) -> None:
        self.settings = settings
        self.pages = pages
        self.limit = limit
        self.names = {s.id: s.name for s in settings.sources}
        self.catalog = Catalog(settings.catalog_path, create=False, shared=True)
        self.lock = threading.Lock()

    def page(self, query: str) -> bytes:
        """The search page for ``query``: results, or the error that explains the query."""
        live: dict[str, Any] = {"query": query, "error": None, "hits": [], "total": 0}
        if query.strip():
            with self.lock:
                try:
                    index = SearchIndex(self.catalog)
                    index.sync()
                    hits, total = index.search(query, limit=self.limit)
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
        self.catalog.close()


def make_server(
    settings: Settings, pages: Pages, host: str, port: int
) -> tuple[ThreadingHTTPServer, LiveSearch]:
    """A server for the site folder (not yet serving); port 0 picks a free one."""
    live = LiveSearch(settings, pages)
    handler = type("Handler", (_Handler,), {"live": live})
    server = ThreadingHTTPServer((host, port), partial(handler, directory=str(settings.site.path)))
    return server, live
