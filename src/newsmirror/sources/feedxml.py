"""Reading well-formed RSS, RDF and Atom documents from an lxml tree.

feedparser is the reference for what a feed says: its rules are the ones feed readers and
publishers have converged on over twenty years.  It is also ~25x slower than a tree walk,
and it runs on every document of every pass.  This module reads the same item fields
(identity, link, title, body, dates, authors) with feedparser's rules, from a tree lxml built
in C; ``tests/test_feed_corpus.py`` holds it to feedparser's answers on feedparser's own
test corpus.  Documents of a shape it does not know (CDF, the pre-Atom drafts, broken XML)
return ``None`` and go to feedparser itself.

The rules, as feedparser applies them:

- RSS (every version: 0.90, 0.91-0.94, 1.0/RDF, 2.0) and Atom (0.3, 1.0) elements are
  recognised by local name whatever namespace of the family they use; Dublin Core,
  ``content:encoded`` and ``xhtml:body`` by theirs.
- A text construct's type comes from ``type`` (``text``/``html``/``xhtml`` or a MIME type) or
  the element's default; ``mode="base64"`` and non-text MIME types are base64; child
  elements make it markup (feedparser calls that "inline XHTML"), except a lone ``<div>``
  wrapper, which goes.  Outside Atom a plain-text value that looks like HTML (a closing tag
  or an entity, every tag a known one) is HTML.
- The link is the last ``rel="alternate"`` HTML link or RSS ``<link>``; without one a
  ``<guid>`` that is a permalink stands in.  Links and bodies resolve against the
  ``xml:base`` in scope and then the document's URL.
- A second ``<description>``/``<summary>`` of an item without content is its content.
- Of two elements of one field the later wins; only an item's own children count
  (an Atom ``<source>`` or an ``<author>`` describes something else).
"""

from __future__ import annotations

import base64
import binascii
import calendar
import contextlib
import html
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from html.entities import entitydefs
from typing import Any

from feedparser.datetimes import _parse_date

from ..model import EARLIEST_MS, LATEST_MS

_RSS_FAMILY = frozenset(
    {
        "",
        "http://backend.userland.com/rss",
        "http://blogs.law.harvard.edu/tech/rss",
        "http://purl.org/rss/1.0/",
        "http://my.netscape.com/rdf/simple/0.9/",
        "http://purl.org/rss/1.0/modules/rss091#",
        "http://purl.org/atom/ns#",
        "http://www.w3.org/2005/atom",
    }
)
ATOM10 = "http://www.w3.org/2005/atom"
ATOM03 = "http://purl.org/atom/ns#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_PREFIXES = {
    "http://purl.org/dc/elements/1.1/": "dc",
    "http://purl.org/dc/terms/": "dcterms",
    "http://purl.org/rss/1.0/modules/content/": "content",
    "http://www.w3.org/1999/xhtml": "xhtml",
    "http://search.yahoo.com/mrss/": "media",
    "http://search.yahoo.com/mrss": "media",
    "http://www.itunes.com/dtds/podcast-1.0.dtd": "itunes",
    RDF: "rdf",
}

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})

# Elements feedparser treats as HTML when a plain-text field holds them (its sanitizer's
# list).  A field with any other tag is text that happens to contain '<'.
_HTML_ELEMENTS = frozenset(
    [
        "a",
        "abbr",
        "acronym",
        "address",
        "area",
        "article",
        "aside",
        "audio",
        "b",
        "big",
        "blockquote",
        "br",
        "button",
        "canvas",
        "caption",
        "center",
        "cite",
        "code",
        "col",
        "colgroup",
        "command",
        "datagrid",
        "datalist",
        "dd",
        "del",
        "details",
        "dfn",
        "dialog",
        "dir",
        "div",
        "dl",
        "dt",
        "em",
        "event-source",
        "fieldset",
        "figcaption",
        "figure",
        "font",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "i",
        "img",
        "input",
        "ins",
        "kbd",
        "keygen",
        "label",
        "legend",
        "li",
        "m",
        "map",
        "menu",
        "meter",
        "multicol",
        "nav",
        "nextid",
        "noscript",
        "ol",
        "optgroup",
        "option",
        "output",
        "p",
        "pre",
        "progress",
        "q",
        "s",
        "samp",
        "section",
        "select",
        "small",
        "sound",
        "source",
        "spacer",
        "span",
        "strike",
        "strong",
        "sub",
        "sup",
        "table",
        "tbody",
        "td",
        "textarea",
        "tfoot",
        "th",
        "thead",
        "time",
        "tr",
        "tt",
        "u",
        "ul",
        "var",
        "video",
    ]
)
_CLOSE_TAG = re.compile(r"</(\w+)>")
_ENTITY = re.compile(r"&#?\w+;")
_TAG = re.compile(r"</?(\w+)")
_NAMED = re.compile(r"&(\w+);")
_C1 = {i: bytes([i]).decode("cp1252", "replace") for i in range(0x80, 0xA0)}
_C1 = {k: v for k, v in _C1.items() if v != "\ufffd"}


def looks_like_html(s: str) -> bool:
    """feedparser's test for "plain text" that is really HTML."""
    if not (_CLOSE_TAG.search(s) or _ENTITY.search(s)):
        return False
    if any(t.lower() not in _HTML_ELEMENTS for t in _TAG.findall(s)):
        return False
    return all(e in entitydefs for e in _NAMED.findall(s))


@dataclass(slots=True)
class Text:
    """A text construct's value and whether it is markup."""

    value: str
    is_html: bool


@dataclass(slots=True)
class Entry:
    """What one item says, before identity and sanitizing (see ``feed.RawItem``)."""

    guid: str = ""
    link: str = ""
    link_base: str = ""
    title: Text | None = None
    summary: Text | None = None
    summary_base: str = ""
    content: Text | None = None
    content_base: str = ""
    updated: int | None = None
    published: int | None = None
    authors: list[str] = field(default_factory=list)


def _name(el: Any) -> tuple[str, str] | None:
    """``(prefix, local)`` with the RSS/Atom family as prefix ``""``; None for the rest."""
    tag = el.tag
    if not isinstance(tag, str):
        return None  # comments, processing instructions
    try:
        return _NAMES[tag]
    except KeyError:
        pass
    name = _name_of(tag)
    if len(_NAMES) < 4096:  # a hostile document's endless names are not all kept
        _NAMES[tag] = name
    return name


_NAMES: dict[str, tuple[str, str] | None] = {}


def _name_of(tag: str) -> tuple[str, str] | None:
    if tag[0] == "{":
        ns, _, local = tag[1:].partition("}")
        ns = ns.lower()
    else:
        ns, local = "", tag
    local = local.lower()
    if ns in _RSS_FAMILY or "backend.userland.com/rss" in ns:
        return "", local
    prefix = _PREFIXES.get(ns)
    return (prefix, local) if prefix else None


def _local(tag: str) -> str:
    return tag.rpartition("}")[2] if tag[0] == "{" else tag


def _serialize(el: Any, out: list[str]) -> None:
    """An element as markup without namespaces (the body goes to an HTML sanitizer)."""
    if isinstance(el.tag, str):
        name = _local(el.tag)
        attrs = "".join(
            f' {_local(k)}="{html.escape(v, quote=True)}"' for k, v in el.attrib.items()
        )
        out.append(f"<{name}{attrs}>")
        if el.text:
            out.append(html.escape(el.text, quote=False))
        for child in el:
            _serialize(child, out)
        out.append(f"</{name}>")
    if el.tail:
        out.append(html.escape(el.tail, quote=False))


def _inner_markup(el: Any, is_atom10_xhtml: bool) -> str:
    children = [c for c in el if isinstance(c.tag, str)]
    if (
        is_atom10_xhtml
        and len(children) == 1
        and _local(children[0].tag).lower() == "div"
        and not (el.text or "").strip()
        and not (children[0].tail or "").strip()
    ):
        el = children[0]
    out: list[str] = [html.escape(el.text, quote=False)] if el.text else []
    for child in el:
        _serialize(child, out)
    return "".join(out)


def _map_type(value: str) -> str:
    value = value.lower()
    return {"text": "text/plain", "plain": "text/plain", "html": "text/html"}.get(
        value, "application/xhtml+xml" if value == "xhtml" else value
    )


def _is_base64(el: Any, ctype: str) -> bool:
    if el.get("mode", "") == "base64":
        return True
    return not (ctype.startswith("text/") or ctype.endswith("+xml") or ctype.endswith("/xml"))


def _repair(value: str) -> str:
    """feedparser's two repairs of every value: UTF-8 read as Latin-1, and C1 controls that
    stand for cp1252 punctuation."""
    if not _NOT_LATIN1.search(value):
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            value = value.encode("iso-8859-1").decode("utf-8")
    if _has_c1(value):
        value = value.translate(_C1)
    return value


def _has_c1(value: str) -> bool:
    """Whether ``value`` holds a C1 control.  In UTF-8 each of them starts with byte C2:
    finding that byte in the encoded text is several times faster than a scan of the
    characters by a regular expression (this runs on every body)."""
    if value.isascii():
        return False
    if b"\xc2" not in value.encode("utf-8", "surrogatepass"):
        return False
    return _C1_CHARS.search(value) is not None


_NOT_LATIN1 = re.compile(r"[^\x00-\xff]")
_C1_CHARS = re.compile(r"[\x80-\x9f]")


def text_construct(el: Any, default_type: str, version: str) -> Text:
    """The value of a title, summary or content element, as feedparser reads it."""
    ctype = _map_type(el.get("type") or default_type)
    has_children = any(isinstance(c.tag, str) for c in el)
    if _is_base64(el, ctype):
        raw = "".join(el.itertext()).strip()
        try:
            value = base64.decodebytes(raw.encode("utf-8")).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            value = raw
        value = _repair(value.strip())
        return Text(value, _html_guess(value, ctype, version))
    if has_children and not ctype.endswith("xml"):
        # Markup written unescaped into a field that declared text or escaped HTML.  A lone
        # <div> wrapper does not count (feedparser drops it: TypePad wrote feeds that way).
        if all(_local(c.tag).lower() == "div" for c in el.iter() if c is not el):
            value = "".join(el.itertext()).strip()
            return Text(_repair(value), _html_guess(value, ctype, version))
        ctype = "application/xhtml+xml"
    if ctype.endswith("xml"):
        value = _inner_markup(el, version == "atom10" and ctype == "application/xhtml+xml")
        return Text(_repair(value.strip()), ctype in HTML_TYPES or ctype.endswith("xml"))
    value = _repair((el.text or "").strip())
    return Text(value, _html_guess(value, ctype, version))


def _html_guess(value: str, ctype: str, version: str) -> bool:
    if ctype == "text/plain" and not version.startswith("atom") and looks_like_html(value):
        return True
    return ctype in HTML_TYPES


def _date_ms(el: Any) -> int | None:
    return date_ms("".join(el.itertext()))


# The two forms nearly every feed uses, read without feedparser's tour of twenty formats.
_RFC822 = re.compile(
    r"(?:[A-Za-z]{3},\s*)?\d{1,2} [A-Za-z]{3} \d{4} \d\d:\d\d(?::\d\d)? (?:[+-]\d{4}|GMT|UTC|UT|Z)"
)
_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d{1,6})?)?(?:Z|[+-]\d\d:\d\d)")


def date_ms(value: str) -> int | None:
    """Milliseconds since the epoch of a feed date in any form feedparser reads, or None."""
    value = value.strip()
    if not value:
        return None
    ms: int | None = None
    try:
        if _ISO.fullmatch(value):
            ms = int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
        elif _RFC822.fullmatch(value):
            ms = int(parsedate_to_datetime(value).timestamp() * 1000)
        else:
            parsed = _parse_date(value)
            ms = int(calendar.timegm(parsed)) * 1000 if parsed else None
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    if ms is None or not EARLIEST_MS <= ms <= LATEST_MS:  # not believed: undated
        return None
    return ms


_RSS_AUTHOR = re.compile(r"^\s*\S+@\S+\s*\((?P<name>[^)]*)\)\s*$")


def _author_name(el: Any) -> str:
    names = [c for c in el if _name(c) == ("", "name")]
    if names:
        return "".join(names[0].itertext()).strip()
    text = (el.text or "").strip()
    m = _RSS_AUTHOR.match(text)
    return m.group("name").strip() if m else text


def _children(item: Any) -> Any:
    """An item's own elements, with those of a ``<media:group>`` in its place."""
    for el in item:
        name = _name(el)
        if name == ("media", "group"):
            for inner in el:
                inner_name = _name(inner)
                if inner_name is not None:
                    yield inner, inner_name
        elif name is not None:
            yield el, name


def _declared_base(el: Any) -> str:
    """The element's base URL if an ``xml:base`` is in scope, else ``""``."""
    node = el
    while node is not None:
        if node.get(XML_BASE) is not None:
            return str(el.base or "")
        node = node.getparent()
    return ""


XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
_TITLES = frozenset({("", "title"), ("dc", "title")})
_SUMMARIES = {
    ("", "description"): "text/html",
    ("dc", "description"): "text/html",
    ("media", "description"): "text/html",
    ("", "summary"): "text/plain",
    ("itunes", "summary"): "text/plain",
    ("", "abstract"): "text/plain",
}
_CONTENTS = {
    ("", "content"): "text/plain",
    ("content", "encoded"): "text/html",
    ("", "fullitem"): "text/html",
    ("", "body"): "application/xhtml+xml",
    ("xhtml", "body"): "application/xhtml+xml",
}
_PUBLISHED = frozenset({("", "published"), ("", "issued"), ("", "pubdate"), ("dcterms", "issued")})
_UPDATED = frozenset({("", "updated"), ("", "modified"), ("dc", "date"), ("dcterms", "modified")})
_AUTHORS = frozenset({("", "author"), ("dc", "creator"), ("dc", "author")})


def _read_entry(item: Any, version: str) -> Entry:
    e = Entry()
    about = item.get(f"{{{RDF}}}about")
    if about:
        e.guid = about
    has_link = False
    media_title: Text | None = None
    for el, name in _children(item):
        if name in _TITLES:
            if e.title is None:  # the first title stands (feedparser's title_depth)
                t = text_construct(el, "text/plain", version)
                e.title = t if t.value else None
        elif name == ("media", "title"):
            t = text_construct(el, "text/plain", version)
            media_title = media_title or (t if t.value else None)
        elif name in _SUMMARIES:
            t = text_construct(el, _SUMMARIES[name], version)
            if e.summary is not None and e.content is None:
                e.content, e.content_base = t, _declared_base(el)
            else:
                e.summary, e.summary_base = t, _declared_base(el)
        elif name in _CONTENTS:
            if e.content is None:
                e.content = text_construct(el, _CONTENTS[name], version)
                e.content_base = _declared_base(el)
        elif name in (("", "guid"), ("", "id")):
            e.guid = "".join(el.itertext()).strip()
            permalink = el.get("isPermaLink", el.get("ispermalink", "true")) == "true"
            if permalink and not has_link and not e.link:
                e.link, e.link_base = e.guid, el.base or ""
        elif name == ("", "link"):
            href = el.get("href") or el.get("url") or el.get("uri")
            if href is not None:
                rel = (el.get("rel") or "alternate").lower()
                default = "application/atom+xml" if rel == "self" else "text/html"
                if rel == "alternate" and _map_type(el.get("type") or default) in HTML_TYPES:
                    e.link, e.link_base, has_link = href.strip(), el.base or "", True
            else:
                e.link, e.link_base = "".join(el.itertext()).strip(), el.base or ""
                has_link = True
        elif name in _PUBLISHED:
            e.published = _date_ms(el) or e.published
        elif name in _UPDATED:
            e.updated = _date_ms(el) or e.updated
        elif name in _AUTHORS:
            author = _author_name(el)
            if author:
                e.authors.append(author)
    if e.title is None:
        e.title = media_title
    return e


def feed_version(root: Any) -> str | None:
    """``rss``, ``rdf``, ``atom10`` or ``atom03`` for a root we read, else None."""
    tag = root.tag
    if not isinstance(tag, str):
        return None
    ns, _, local = tag[1:].partition("}") if tag[0] == "{" else ("", "", tag)
    ns, local = ns.lower(), local.lower()
    if local == "rss" and ns == "":
        return "rss"
    if local == "rdf" and ns == RDF:
        return "rdf"
    if local == "feed" and ns == ATOM10:
        return "atom10"
    if local == "feed" and ns == ATOM03:
        return "atom03"
    return None


def read_tree(root: Any) -> list[Entry] | None:
    """Every item of a parsed feed document, or None when its format is not one we read."""
    version = feed_version(root)
    if version is None:
        return None
    return [_read_entry(el, version) for el in _items(root)]


_ITEMS = frozenset({("", "item"), ("", "entry")})


def _items(root: Any) -> list[Any]:
    """The items of the document in order, wherever they sit, but not those inside an item
    or an Atom ``<source>`` (they describe another feed)."""
    found: list[Any] = []
    stack = [iter(root)]
    while stack:
        for el in stack[-1]:
            name = _name(el)
            if name in _ITEMS:
                found.append(el)
            elif name != ("", "source") and len(el):
                stack.append(iter(el))
                break
        else:
            stack.pop()
    return found
