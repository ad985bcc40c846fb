"""Source kind ``feed``: RSS 0.9x/2.0, RSS 1.0/RDF, Atom and JSON Feed.

fastfeedparser reads nearly everything ~25x faster than feedparser; what it rejects
(broken XML, odd encodings) goes to feedparser, which is lenient.  Neither sanitizes, and we
do not want them to: the body passes through our own allow-list later.

Each item becomes an :class:`~newsmirror.model.Article`; an item that cannot (no link, a link
that is not a URL) becomes an :class:`~newsmirror.model.ItemError` and the rest go on.
"""

from __future__ import annotations

import calendar
import html
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import fastfeedparser
import feedparser
from lxml import etree

from .. import urls
from ..config import SourceSettings
from ..errors import ParseError
from ..model import Article, ItemError, SourceResult
from ..render.markdown import clean_title
from ..store.catalog import SourceState
from ..transform.sanitize import DEFAULT_IFRAME_HOSTS, sanitize
from . import Context
from .charset import xml_to_utf8

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RawItem:
    """An entry as the parsers give it, before identity and sanitizing."""

    guid: str
    link: str
    title: str
    updated: int | None
    published: int | None
    body: str
    body_is_html: bool
    authors: tuple[str, ...]


def _iso_ms(value: Any) -> int | None:
    if not value or not isinstance(value, str):
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def _struct_ms(value: Any) -> int | None:
    if not value:
        return None
    try:
        return int(calendar.timegm(value)) * 1000
    except (TypeError, ValueError, OverflowError):
        return None


def _authors(entry: Mapping[str, Any]) -> tuple[str, ...]:
    names = [a.get("name", "") for a in entry.get("authors") or [] if isinstance(a, Mapping)]
    if not names and isinstance(entry.get("author"), str):
        names = [entry["author"]]
    return tuple(n.strip() for n in names if isinstance(n, str) and n.strip())


def _body(entry: Mapping[str, Any]) -> tuple[str, bool]:
    for c in entry.get("content") or []:
        value = c.get("value") if isinstance(c, Mapping) else None
        if isinstance(value, str) and value.strip():
            ctype = (c.get("type") or "html").lower()
            return value, "plain" not in ctype and ctype != "text"
    desc = entry.get("description") or entry.get("summary") or ""
    return (desc if isinstance(desc, str) else ""), True


def _raw_item(e: Mapping[str, Any], updated: int | None, published: int | None) -> RawItem:
    """One entry of either parser (they share field names, not date types)."""
    body, is_html = _body(e)
    return RawItem(
        guid=str(e.get("id") or ""),
        link=str(e.get("link") or ""),
        title=str(e.get("title") or ""),
        updated=updated,
        published=published,
        body=body,
        body_is_html=is_html,
        authors=_authors(e),
    )


def _from_fast(raw: bytes) -> list[RawItem]:
    feed = fastfeedparser.parse(raw)
    return [
        _raw_item(e, _iso_ms(e.get("updated")), _iso_ms(e.get("published")))
        for e in feed.get("entries") or []
    ]


def _from_feedparser(raw: bytes) -> list[RawItem]:
    d = feedparser.parse(raw, sanitize_html=False, resolve_relative_uris=False)
    if d.get("bozo") and not d.get("entries"):
        exc = d.get("bozo_exception")
        raise ParseError(f"not a feed: {exc}" if exc else "not a feed")
    # dict.get, not FeedParserDict.get: the latter maps a missing updated_parsed to
    # published_parsed (with a deprecation warning), which would fake an update date.
    return [
        _raw_item(
            e,
            _struct_ms(dict.get(e, "updated_parsed")),
            _struct_ms(dict.get(e, "published_parsed")),
        )
        for e in d.get("entries") or []
    ]


# Entities are never expanded and nothing is fetched: a strict parse only to learn whether
# the document is well-formed (billion-laughs and external entities stay inert).
STRICT_XML = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=False
)


# A DOCTYPE whose internal subset declares entities.  Feeds never need their own entities;
# hostile ones use them for billion-laughs expansion or to read local files (XXE).
_ENTITY_DOCTYPE = re.compile(rb"<!DOCTYPE[^\[>]*\[[^\]]*<!ENTITY.*?\]\s*>", re.S | re.I)


def defuse(raw: bytes) -> bytes:
    """The document without an entity-declaring DOCTYPE (uses of them stay, undefined)."""
    head = raw[:65536]
    if b"<!ENTITY" not in head and b"<!entity" not in head:
        return raw
    return _ENTITY_DOCTYPE.sub(b"", raw, count=1)


def _well_formed_xml(raw: bytes) -> bool:
    try:
        etree.fromstring(raw, STRICT_XML)
    except etree.XMLSyntaxError:
        return False
    return True


def read_items(raw: bytes) -> list[RawItem]:
    """All entries of a feed document, whatever its format.

    fastfeedparser "recovers" from malformed XML by dropping text (``A&nbsp;B`` becomes
    ``A``), so only well-formed XML and JSON go to it; the rest goes to feedparser, whose
    loose parser keeps the text.  Raises :class:`ParseError` when neither can read it.
    """
    if not raw.strip():
        raise ParseError("empty response, not a feed")
    raw = defuse(raw)
    is_json = raw.lstrip()[:1] in (b"{", b"[")
    if not is_json:
        raw = xml_to_utf8(raw)
    if is_json or _well_formed_xml(raw):
        try:
            return _from_fast(raw)
        except Exception as fast_error:  # any failure of the fast path: try the lenient one
            log.debug("fastfeedparser rejected the feed (%s); trying feedparser", fast_error)
    try:
        return _from_feedparser(raw)
    except ParseError:
        raise
    except Exception as e:
        raise ParseError(f"not a feed: {e}") from e


def to_article(
    item: RawItem,
    *,
    source: str,
    feed_url: str,
    now_ms: int,
    keep_tracking: bool,
    iframe_hosts: tuple[str, ...] = DEFAULT_IFRAME_HOSTS,
) -> Article:
    """Build the :class:`Article` for one raw item; raises ``ValueError`` naming the problem."""
    raw_link = item.link.strip() or (item.guid if urls.scheme_ok(item.guid) else "")
    if not raw_link:
        raise ValueError("item has no link")
    link = urls.LinkForms(raw_link, feed_url, keep_tracking=keep_tracking)
    if not urls.scheme_ok(link.absolute):
        raise ValueError(f"item link is not http(s): {link.absolute!r}")
    ident, key = urls.identity(item.guid, link)
    body = item.body if item.body_is_html else f"<p>{html.escape(item.body)}</p>"
    # An undated item is dated now (full-text completion relies on this to recognise it).
    date_ms = item.updated or item.published or now_ms
    title = clean_title(item.title)
    return Article(
        source=source,
        ident=ident,
        key=key,
        url=link.shown,
        title=title or link.shown,
        date_ms=date_ms,
        body=sanitize(body, link.absolute, iframe_hosts),
        authors=item.authors,
        canonical=link.canonical,
    )


def parse_feed(
    raw: bytes,
    *,
    source: str,
    feed_url: str,
    now_ms: int,
    keep_tracking: bool = False,
    iframe_hosts: tuple[str, ...] = DEFAULT_IFRAME_HOSTS,
) -> tuple[list[Article], list[ItemError]]:
    """Articles and per-item errors of one feed document.

    Raises :class:`ParseError` only when the document as a whole is not a feed.
    """
    articles: list[Article] = []
    errors: list[ItemError] = []
    for i, item in enumerate(read_items(raw)):
        where = item.link or item.guid or f"item #{i + 1}"
        try:
            articles.append(
                to_article(
                    item,
                    source=source,
                    feed_url=feed_url,
                    now_ms=now_ms,
                    keep_tracking=keep_tracking,
                    iframe_hosts=iframe_hosts,
                )
            )
        except (ValueError, urls.BadURLError) as e:
            errors.append(ItemError(source=source, where=where, reason=str(e)))
    return _dedupe(articles), errors


def _dedupe(articles: Iterable[Article]) -> list[Article]:
    """A feed listing the same story twice keeps its first (newest-first feeds: the latest)."""
    seen: set[str] = set()
    out = []
    for a in articles:
        if a.ident not in seen:
            seen.add(a.ident)
            out.append(a)
    return out


async def collect(source: SourceSettings, state: SourceState | None, ctx: Context) -> SourceResult:
    """The ``feed`` driver: one conditional GET, then every item of the document (and the
    article pages of the items, when the source takes its text from them)."""
    response = await ctx.fetcher.get(
        source.url,
        etag=state.etag if state else None,
        last_modified=state.last_modified if state else None,
        accept="application/rss+xml, application/atom+xml, application/feed+json, "
        "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5",
    )
    if response.not_modified:
        return SourceResult(source=source.id, not_modified=True, max_age=response.max_age)
    try:
        articles, errors = parse_feed(
            response.content,
            source=source.id,
            feed_url=response.url,
            now_ms=ctx.now_ms,
            keep_tracking=ctx.keep_tracking,
            iframe_hosts=ctx.iframe_hosts,
        )
    except ParseError as e:
        raise ParseError(f"{source.url}: {e}") from e
    if source.fulltext != "feed":
        from .fulltext import complete  # the extractors load only for sources that use them

        articles, page_errors = await complete(source, articles, ctx)
        errors += page_errors
    return SourceResult(
        source=source.id,
        articles=articles,
        item_errors=errors,
        etag=response.etag,
        last_modified=response.last_modified,
        max_age=response.max_age,
    )
