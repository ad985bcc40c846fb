"""Source kind ``dw``: DW read natively, not through a third-party full-text feed.

The RSS/RDF listing names the articles (id from ``dwsyn:contentID``, else ``/a-<id>`` in the
link); each article comes from the graph-api JSON, or, when that fails, from the
``window.__APP_STATE__`` JSON inside the article page.  An article whose listing date equals
the one in the catalog is not fetched again.  An article that cannot be had today (404,
broken JSON) becomes an item error naming its id, and is tried again on the next run.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree

from .. import urls
from ..config import SourceSettings
from ..errors import ParseError, reason
from ..extract.document import parse_date, walk_json
from ..model import Article, ItemError, SourceResult
from ..store.rows import SourceState
from ..transform.sanitize import sanitize
from . import Context
from .charset import xml_to_utf8
from .dw_body import DWFormatError, build
from .feed import STRICT_XML, defuse, read_items

_APP_STATE = re.compile(rb"window\.__APP_STATE__\s*=\s*")
# A DW link ends in the kind of content and its id: /a-<id> an article, /live-<id> a live
# blog, /video-<id> a video.  Each kind has its own graph-api path and page object.
_CONTENT_ID = re.compile(r"/(a|live|video)-(\d+)(?:$|[/?#])")
API_PATHS = {"a": "article", "live": "liveblog", "video": "video"}
PAGE_TYPES = {"a": "Article", "live": "LiveBlog", "video": "Video"}


@dataclass(frozen=True, slots=True)
class Entry:
    """One piece of content named by the listing: ``kind`` is "a", "live" or "video"."""

    id: int
    link: str
    date_ms: int | None
    kind: str = "a"

    @property
    def key(self) -> str:
        """The file key and the catalog identity's tail: ``a-123``, ``live-123``."""
        return f"{self.kind}-{self.id}"

    @property
    def ident(self) -> str:
        """The catalog identity: DW's id, whatever the slug or language."""
        return f"id:{self.key}"


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _id_from(link: str, content_id: str | None) -> tuple[str, int] | None:
    """The kind and id of a listed item (the link says the kind; articles by default)."""
    m = _CONTENT_ID.search(link)
    kind = m.group(1) if m else "a"
    if content_id and content_id.strip().isdigit():
        return kind, int(content_id.strip())
    return (kind, int(m.group(2))) if m else None


def list_entries(raw: bytes) -> list[Entry]:
    """The articles of a DW listing (RSS 1.0/RDF, RSS 2.0 or Atom), in feed order."""
    raw = xml_to_utf8(defuse(raw))
    try:
        root = etree.fromstring(raw, STRICT_XML)
    except etree.XMLSyntaxError:
        root = None
    out: list[Entry] = []
    if root is not None:
        for el in root.iter():
            if _local(el.tag) not in ("item", "entry"):
                continue
            fields: dict[str, str] = {}
            for child in el:
                name = _local(child.tag)
                value = child.get("href") if name == "link" and child.get("href") else child.text
                if value and name not in fields:
                    fields[name] = value.strip()
            link = (
                fields.get("link")
                or el.get("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about")
                or ""
            )
            found = _id_from(link, fields.get("contentID"))
            if found is not None:
                date = fields.get("date") or fields.get("pubDate") or fields.get("updated")
                out.append(Entry(found[1], link, parse_date(date), found[0]))
    else:  # not well-formed: the lenient parsers, ids from links only
        for item in read_items(raw):
            found = _id_from(item.link, None)
            if found is not None:
                out.append(Entry(found[1], item.link, item.updated or item.published, found[0]))
    unique: dict[str, Entry] = {}
    for e in out:
        unique.setdefault(e.key, e)
    return list(unique.values())


def entry_of(ident: str, link: str) -> Entry | None:
    """The listing entry an archived DW article came from (by its catalog identity)."""
    m = re.fullmatch(r"id:(a|live|video)-(\d+)", ident)
    return Entry(int(m.group(2)), link, None, m.group(1)) if m else None


def content_from_page(page: bytes, article_id: int, kind: str = "a") -> Mapping[str, Any]:
    """The content object (an article, live blog or video, by ``kind``) inside a page's
    ``window.__APP_STATE__``."""
    m = _APP_STATE.search(page)
    if not m:
        raise DWFormatError("the page has no __APP_STATE__")
    try:
        state, _end = json.JSONDecoder().raw_decode(page[m.end() :].decode("utf-8", "replace"))
        if isinstance(state, str):  # some pages embed it as a JSON string
            state = json.loads(state)
    except ValueError as e:
        raise DWFormatError(f"__APP_STATE__ is not JSON ({e})") from e
    typename = PAGE_TYPES.get(kind, "Article")
    for obj in walk_json(state):
        if (
            obj.get("__typename") == typename
            and str(obj.get("id")) == str(article_id)
            and ("text" in obj or "teaser" in obj)
        ):
            return obj
    raise DWFormatError(f"__APP_STATE__ holds no {typename.lower()} {article_id}")


def content_from_api(raw: bytes) -> Mapping[str, Any]:
    """``data.content`` of a graph-api answer."""
    try:
        doc = json.loads(raw)
    except ValueError as e:
        raise DWFormatError(f"graph-api answer is not JSON ({e})") from e
    content = ((doc or {}).get("data") or {}).get("content") if isinstance(doc, dict) else None
    if not isinstance(content, Mapping):
        raise DWFormatError("graph-api answer has no data.content")
    return content


def language_of(source: SourceSettings) -> str:
    """The DW edition a source reads (Chinese unless it says otherwise)."""
    return source.language or "zh"


class Reader:
    """Fetches and builds the articles of one DW source."""

    def __init__(self, source: SourceSettings, ctx: Context) -> None:
        self.source = source
        self.ctx = ctx
        self.language = language_of(source)

    async def article(self, entry: Entry) -> Article | ItemError:
        """One article, or its error (whatever went wrong, it costs only this article)."""
        try:
            return await self._article_of(entry)
        except Exception as e:
            return ItemError(source=self.source.id, where=entry.key, reason=reason(e), retry=True)

    async def _article_of(self, entry: Entry) -> Article | ItemError:
        try:
            return await self._from_api(entry)
        except Exception as api_error:
            try:
                return await self._from_page(entry)
            except Exception as page_error:
                return ItemError(
                    source=self.source.id,
                    where=entry.key,
                    reason=f"graph-api: {reason(api_error)}; page: {reason(page_error)}",
                    retry=True,
                )

    def api_url(self, entry: Entry) -> str:
        """Where the graph-api answers for this content."""
        path = API_PATHS.get(entry.kind, "article")
        return f"{self.source.site_url}/graph-api/{self.language}/content/{path}/{entry.id}"

    async def from_api(self, raw: bytes, entry: Entry) -> Article:
        """The article of a graph-api answer (JSON parsing, building and sanitizing are CPU
        work: they run where the context runs such work, off the event loop)."""
        return await self.ctx.cpu(
            article_of, "api", raw, entry, self.source, self.ctx.keep_tracking,
            self.ctx.iframe_hosts,
        )  # fmt: skip

    async def _from_api(self, entry: Entry) -> Article:
        response = await self.ctx.fetcher.get(self.api_url(entry), accept="application/json")
        return await self.from_api(response.content, entry)

    async def _from_page(self, entry: Entry) -> Article:
        path = str(urls.parse(entry.link).pathname) if entry.link else ""
        if not path.startswith("/"):
            path = f"/{self.language}/{entry.key}"
        response = await self.ctx.fetcher.get(self.source.site_url + path, accept="text/html")
        return await self.ctx.cpu(
            article_of, "page", response.content, entry, self.source, self.ctx.keep_tracking,
            self.ctx.iframe_hosts,
        )  # fmt: skip


def article_of(
    kind: str,
    raw: bytes,
    entry: Entry,
    source: SourceSettings,
    keep_tracking: bool,
    iframe_hosts: tuple[str, ...],
) -> Article:
    """The article of a graph-api answer (``kind`` "api") or of an article page ("page")."""
    language = language_of(source)
    content = (
        content_from_api(raw) if kind == "api" else content_from_page(raw, entry.id, entry.kind)
    )
    a = build(content, language=language, image_format=source.image_format, kind=entry.kind)
    link = urls.LinkForms(a.canonical_url, keep_tracking=keep_tracking)
    return Article(
        source=source.id,
        ident=entry.ident,
        key=entry.key,
        url=link.shown,
        title=a.title,
        date_ms=a.date_ms,
        body=sanitize(a.body, link.absolute, iframe_hosts),
        authors=a.authors,
        language=language,
        canonical=link.canonical,
    )


async def collect(source: SourceSettings, state: SourceState | None, ctx: Context) -> SourceResult:
    """The ``dw`` driver: the listing, then each new or re-dated article's JSON."""
    response = await ctx.fetcher.get(
        source.url,
        etag=state.etag if state else None,
        last_modified=state.last_modified if state else None,
        accept="application/rdf+xml, application/rss+xml, application/xml;q=0.9, */*;q=0.5",
    )
    if response.not_modified:
        return SourceResult(source=source.id, not_modified=True, max_age=response.max_age)
    entries = list_entries(response.content)
    if not entries and not response.content.strip():
        raise ParseError(f"{source.url}: empty listing")
    known = ctx.known_dates([e.ident for e in entries])
    todo = [e for e in entries if e.date_ms is None or known.get(e.ident) != e.date_ms]
    reader = Reader(source, ctx)
    results = await asyncio.gather(*(reader.article(e) for e in todo))
    return SourceResult(
        source=source.id,
        articles=[r for r in results if isinstance(r, Article)],
        item_errors=[r for r in results if isinstance(r, ItemError)],
        etag=response.etag,
        last_modified=response.last_modified,
        max_age=response.max_age,
        listed=tuple((e.ident, e.date_ms) for e in entries if e.date_ms is not None),
    )
