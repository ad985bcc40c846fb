"""A fake DW: the RDF listing, graph-api JSON and article pages, from the shared samples
(``../shared/fixtures/dw``) plus samples of our own in ``tests/fixtures/dw``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from newsmirror import urls

from .fakeserver import Answer, FakeServer

OWN = Path(__file__).resolve().parent / "fixtures" / "dw"


def load(shared: Path, language: str, article_id: int) -> dict[str, Any]:
    """A graph-api document from the shared samples, else from ours."""
    for folder in (shared / "fixtures/dw/graph-api" / language, OWN / language):
        path = folder / f"article-{article_id}.json"
        if path.exists():
            return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    raise FileNotFoundError(f"no sample for {language}/{article_id}")


def page(doc: dict[str, Any]) -> bytes:
    """An article page embedding the document the way dw.com does."""
    state = {"/graph-api/content": doc, "other": {"__typename": "Navigation", "id": 1}}
    return (
        "<!doctype html><html><head><title>DW</title></head><body><div id=root></div>"
        f"<script>window.__APP_STATE__ = {json.dumps(state, ensure_ascii=False)};</script>"
        "</body></html>"
    ).encode()


def path_of(link: str) -> str:
    """The request path a link's page is fetched at (percent-encoded)."""
    return str(urls.parse(link).pathname)


class FakeDW:
    """Routes on a :class:`FakeServer`; tests change ``docs`` and ``listing`` as they go."""

    def __init__(self, server: FakeServer, shared: Path) -> None:
        self.server = server
        self.shared = shared
        self.listing = (shared / "fixtures/dw/rss-chi-all.rdf").read_bytes()
        server.routes["/rdf/rss-chi-all"] = lambda req: (
            Answer(200, self.listing, {"Content-Type": "application/rdf+xml", "ETag": '"l1"'})
            if req.headers.get("if-none-match") != '"l1"'
            else Answer(304, b"", {"ETag": '"l1"'})
        )

    def article(
        self,
        language: str,
        doc: dict[str, Any] | None,
        article_id: int,
        link: str = "",
        api: bytes | None = None,
        with_page: bool = True,
        content: str = "article",
    ) -> None:
        """Serve one article (or ``content`` "liveblog", "video"): graph-api JSON (or
        ``api`` bytes, or 404) and its page."""
        api_path = f"/graph-api/{language}/content/{content}/{article_id}"
        if api is not None:
            self.server.routes[api_path] = api
        elif doc is not None:
            self.server.routes[api_path] = json.dumps(doc, ensure_ascii=False).encode()
        else:
            self.server.routes.pop(api_path, None)
        if link:
            if with_page and doc is not None:
                self.server.routes[path_of(link)] = page(doc)
            else:
                self.server.routes.pop(path_of(link), None)

    def fixtures(self, language: str = "zh") -> None:
        """The two shared articles; 80000001 is absent (404), as the samples intend."""
        for aid in (90000011, 90000012):
            doc = (
                load(self.shared, language, aid)
                if language == "zh" or aid == 90000011
                else load(self.shared, "zh", aid)
            )
            self.article(language, doc, aid, doc["data"]["content"]["canonicalUrl"])

    def config(self, sid: str = "dw", language: str = "zh") -> dict[str, Any]:
        return {
            "id": sid,
            "name": "德国之声" if language == "zh" else "德國之聲",
            "kind": "dw",
            "language": language,
            "feed_url": self.server.url("/rdf/rss-chi-all"),
            "site_url": self.server.url(""),
        }
