"""Source kind ``feed``: RSS 0.90-2.0, RSS 1.0/RDF, Atom 0.3/1.0 and JSON Feed 1.0/1.1.

Well-formed RSS, RDF and Atom are read from an lxml tree with feedparser's rules
(:mod:`.feedxml`, ~20x faster than feedparser and held to its answers on its own test
corpus); JSON Feed by :mod:`.feedjson`; everything else (broken XML, CDF, pre-Atom drafts)
by feedparser, which is lenient.  None of them sanitizes, and we do not want them to: the
body passes through our own allow-list later.

Each item becomes an :class:`~newsmirror.model.Article`; an item that cannot (no link, a link
that is not a URL) becomes an :class:`~newsmirror.model.ItemError` and the rest go on.
"""

from __future__ import annotations

import calendar
import html
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import feedparser
from lxml import etree

from .. import urls
from ..config import SourceSettings
from ..errors import ParseError, reason
from ..model import Article, ItemError, SourceResult
from ..render.markdown import clean_title
from ..store.db import deflated
from ..store.rows import SourceState
from ..transform.footer import strip_footer
from ..transform.sanitize import DEFAULT_IFRAME_HOSTS, sanitize
from . import Context
from .charset import xml_to_utf8
from .feedjson import read_json
from .feedxml import Entry, read_tree

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
    # The xml:base in scope of the link and of the body, when the document declares one.
    link_base: str = ""
    body_base: str = ""
    title_is_html: bool = False


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


def _is_html(detail: Any, default: bool) -> bool:
    ctype = detail.get("type") if isinstance(detail, Mapping) else None
    if not isinstance(ctype, str):
        return default
    return ctype.lower() in ("text/html", "application/xhtml+xml", "html", "xhtml")


def _body(entry: Mapping[str, Any]) -> tuple[str, bool]:
    for c in entry.get("content") or []:
        value = c.get("value") if isinstance(c, Mapping) else None
        if isinstance(value, str) and value.strip():
            return value, _is_html(c, True)
    # dict.get: FeedParserDict.get would map a missing summary to content.
    desc = dict.get(entry, "summary") or "" if isinstance(entry, dict) else ""
    return (desc if isinstance(desc, str) else ""), _is_html(entry.get("summary_detail"), True)


def _raw_item(
    e: Mapping[str, Any], updated: int | None, published: int | None, feed_url: str
) -> RawItem:
    """One entry as feedparser gives it (the link is already resolved)."""
    body, is_html = _body(e)
    detail = next((c for c in e.get("content") or [] if c.get("value") == body), None)
    base = (detail or e.get("summary_detail") or {}).get("base") or ""
    # feedparser records the document's URL or the xml:base in scope; only a declared base
    # changes where the body's links point.
    base = base if isinstance(base, str) and base != feed_url else ""
    return RawItem(
        guid=str(e.get("id") or ""),
        link=str(e.get("link") or ""),
        title=str(e.get("title") or ""),
        updated=updated,
        published=published,
        body=body,
        body_is_html=is_html,
        authors=_authors(e),
        body_base=base,
        title_is_html=_is_html(e.get("title_detail"), False),
    )


def _from_entry(e: Entry) -> RawItem:
    body = e.content if e.content is not None and e.content.value.strip() else e.summary
    return RawItem(
        guid=e.guid,
        link=e.link,
        title=e.title.value if e.title else "",
        updated=e.updated,
        published=e.published,
        body=body.value if body else "",
        body_is_html=body.is_html if body else True,
        authors=tuple(e.authors),
        link_base=e.link_base,
        body_base=(e.content_base if body is e.content else e.summary_base) if body else "",
        title_is_html=e.title.is_html if e.title else False,
    )


def _from_feedparser(raw: bytes, feed_url: str) -> list[RawItem]:
    d = feedparser.parse(
        raw,
        sanitize_html=False,
        resolve_relative_uris=False,
        # The bytes are UTF-8 with a truthful declaration by now (xml_to_utf8); a document
        # URL without a content type would make feedparser assume Latin-1.
        response_headers={"content-location": feed_url, "content-type": "application/xml"}
        if feed_url
        else None,
    )
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
            feed_url,
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


def _xml_tree(raw: bytes, feed_url: str) -> Any | None:
    """The document's tree if it is well-formed XML, else None."""
    try:
        return etree.fromstring(raw, STRICT_XML, base_url=feed_url or None)
    except etree.XMLSyntaxError:
        return None


def read_document(raw: bytes, feed_url: str = "") -> tuple[list[RawItem], list[tuple[str, str]]]:
    """All entries of a feed document, whatever its format, and ``(where, why)`` for each
    entry that could not be read.

    Raises :class:`ParseError` when the document as a whole is not a feed.
    """
    if not raw.strip():
        raise ParseError("empty response, not a feed")
    raw = defuse(raw)
    if raw.lstrip()[:1] in (b"{", b"["):
        entries, problems = read_json(raw)
        return [_from_entry(e) for e in entries], problems
    raw = xml_to_utf8(raw)
    tree = _xml_tree(raw, feed_url)
    read = read_tree(tree) if tree is not None else None
    if read is not None:
        return [_from_entry(e) for e in read], []
    try:
        return _from_feedparser(raw, feed_url), []
    except ParseError:
        raise
    except Exception as e:
        raise ParseError(f"not a feed: {e}") from e


def read_items(raw: bytes, feed_url: str = "") -> list[RawItem]:
    """:func:`read_document` without the per-entry problems."""
    return read_document(raw, feed_url)[0]


def to_article(
    item: RawItem,
    *,
    source: str,
    feed_url: str,
    now_ms: int,
    keep_tracking: bool,
    iframe_hosts: tuple[str, ...] = DEFAULT_IFRAME_HOSTS,
    guid_identifies: bool = True,
    strip_more: bool = True,
) -> Article:
    """Build the :class:`Article` for one raw item; raises :class:`ParseError` naming the
    problem.

    ``guid_identifies`` is False for an item whose guid other items of the document share
    with other links: then the link identifies it.  ``strip_more=False`` keeps a closing
    "continue reading" line (the source completes teasers from their pages, and that line
    tells one).
    """
    raw_link = item.link.strip() or (item.guid if urls.scheme_ok(item.guid) else "")
    if not raw_link:
        raise ParseError("item has no link")
    link = urls.LinkForms(raw_link, item.link_base or feed_url, keep_tracking=keep_tracking)
    if not urls.scheme_ok(link.absolute):
        raise ParseError(f"item link is not http(s): {link.absolute!r}")
    ident, key = urls.identity(item.guid if guid_identifies else "", link)
    body = item.body if item.body_is_html else f"<p>{html.escape(item.body)}</p>"
    # An undated item is dated now (full-text completion relies on this to recognise it).
    date_ms = item.updated or item.published or now_ms
    title = clean_title(html_text(item.title) if item.title_is_html else item.title)
    return Article(
        source=source,
        ident=ident,
        key=key,
        url=link.shown,
        title=title or link.shown,
        date_ms=date_ms,
        body=strip_footer(
            sanitize(body, item.body_base or link.absolute, iframe_hosts),
            link.host,
            more=strip_more,
        ),
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
    strip_more: bool = True,
) -> tuple[list[Article], list[ItemError]]:
    """Articles and per-item errors of one feed document (``strip_more``: see
    :func:`to_article`).

    Raises :class:`ParseError` only when the document as a whole is not a feed.
    """
    items, problems = read_document(raw, feed_url)
    articles: list[Article] = []
    errors = [ItemError(source=source, where=w, reason=r) for w, r in problems]
    shared = _shared_guids(items)
    for i, item in enumerate(items):
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
                    guid_identifies=item.guid.strip() not in shared,
                    strip_more=strip_more,
                )
            )
        except Exception as e:  # whatever an item does, it costs only that item
            errors.append(ItemError(source=source, where=where, reason=reason(e)))
    return _dedupe(articles), errors


def _shared_guids(items: Iterable[RawItem]) -> set[str]:
    """Guids that items with different links share: such a guid identifies nothing.

    Some generators give every item the feed's URL, or a constant, as its guid; merged by
    guid, all but one item would be lost.  Each of them is identified by its link instead
    (and the catalog finds an article by its link too, so the identity holds when the
    document later lists one of them alone).
    """
    links: dict[str, set[tuple[str, str]]] = {}
    for item in items:
        guid = item.guid.strip()
        if guid:
            links.setdefault(guid, set()).add((item.link.strip(), item.link_base))
    shared = {guid for guid, found in links.items() if len(found) > 1}
    for guid in shared:
        log.info(
            "guid %r is shared by %d different links: identified by link", guid, len(links[guid])
        )
    return shared


def html_text(markup: str) -> str:
    """The text of an HTML fragment (a title a feed marked as HTML)."""
    if "<" not in markup and "&" not in markup:
        return markup
    return html.unescape(_TAGS.sub("", markup))


_TAGS = re.compile(r"<[^>]*>")


def _dedupe(articles: Iterable[Article]) -> list[Article]:
    """A feed listing the same story twice keeps its first (newest-first feeds: the latest).

    Items merged here have one identity: the same outlet id, guid or link.
    """
    seen: set[str] = set()
    out = []
    for a in articles:
        if a.ident not in seen:
            seen.add(a.ident)
            out.append(a)
    return out


def parse_and_deflate(
    parse: Callable[..., tuple[list[Article], list[ItemError]]],
    raw: bytes,
    deflate: bool,
    **options: Any,
) -> tuple[list[Article], list[ItemError], dict[str, bytes]]:
    """``parse`` (:func:`parse_feed`), and with ``deflate`` each body as the catalog keeps it
    (by ident): both run in the parsing worker, beside the other sources' storing."""
    articles, errors = parse(raw, **options)
    packed = {}
    for a in articles if deflate else ():
        try:
            made = deflated(a.body)
        except Exception:  # an aid only: the article's store deflates it, or says why not
            continue
        if made is not None:
            packed[a.ident] = made
    return articles, errors, packed


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
        # Parsing and sanitizing are CPU work: off the event loop, so one huge or hostile
        # document never stalls the other sources' requests.
        articles, errors, packed = await ctx.cpu(
            parse_and_deflate,
            parse_feed,
            response.content,
            ctx.deflate,
            source=source.id,
            feed_url=response.url,
            now_ms=ctx.now_ms,
            keep_tracking=ctx.keep_tracking,
            iframe_hosts=ctx.iframe_hosts,
            strip_more=source.fulltext == "feed",
        )
    except ParseError as e:
        raise ParseError(f"{source.url}: {e}") from e
    listed = tuple((a.ident, a.date_ms) for a in articles)
    answers: dict[str, Any] = {"": response}
    if source.fulltext != "feed":
        from .fulltext import complete  # the extractors load only for sources that use them

        parsed = {a.ident: a for a in articles}
        articles, page_errors, pages = await complete(source, articles, ctx)
        errors += page_errors
        answers.update(pages)
        # An article completed from its page has another body: it is deflated when stored.
        kept = {id(a) for a in articles}
        packed = {i: p for i, p in packed.items() if id(parsed[i]) in kept}
    return SourceResult(
        source=source.id,
        articles=articles,
        item_errors=errors,
        etag=response.etag,
        last_modified=response.last_modified,
        max_age=response.max_age,
        listed=listed,
        answers=answers,
        packed=packed,
    )
