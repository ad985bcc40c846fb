"""An article page as a tree we can trust: right charset, real image URLs, its metadata.

Three things go wrong before any extractor runs, and each loses text or images silently:

- **charsets**: Chinese pages declare ``gb2312`` and use GBK/GB18030 characters, declare
  ``utf-8`` and are GBK, or declare nothing and are Big5.  :func:`decode_html` believes
  bytes over labels: valid UTF-8 is UTF-8; a GB label means GB18030 (the superset); a label
  the bytes contradict is replaced by detection.
- **lazy images**: the ``src`` is a grey placeholder and the picture sits in ``data-src``,
  ``data-original``, a ``srcset``, or a ``<noscript>`` copy.  :func:`unlazy` makes every
  ``<img>`` carry its real, absolute URL in ``src``.
- **metadata** lives in ``ld+json`` blocks and ``<meta>`` tags: :func:`metadata` reads dates,
  authors, title, canonical link and the social image from both.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from charset_normalizer import from_bytes
from lxml import etree
from lxml import html as lhtml

from .. import urls

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.I)
_GB = {"gb2312", "gbk", "gb18030", "x-gbk", "cp936", "ms936", "euc-cn", "csgb2312", "gb_2312-80"}
_BIG5 = {"big5", "big5-hkscs", "cp950", "x-big5", "csbig5"}
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def declared_charset(raw: bytes, content_type: str = "") -> str | None:
    """The charset the HTTP header names, else the first ``<meta>`` one, lower-cased."""
    m = _HEADER_CHARSET.search(content_type or "")
    if m:
        return m.group(1).lower()
    mm = _META_CHARSET.search(raw[:8192])
    return mm.group(1).decode("ascii").lower() if mm else None


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    if label in _GB:
        return "gb18030"
    if label in _BIG5:
        return "big5hkscs"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def decode_html(raw: bytes, content_type: str = "") -> str:
    """The text of an HTML document, whatever charset it claims, without control characters.

    Order: a byte-order mark; valid UTF-8 (GBK or Big5 text is essentially never valid
    UTF-8, while UTF-8 pages labelled GBK are common); the declared charset if the bytes
    decode under it; detection among the charsets Chinese pages really use.
    """
    for bom, name in _BOMS:
        if raw.startswith(bom):
            return _CONTROL.sub("", raw.decode(name, "replace"))
    # Control characters go (libxml2 keeps them in text nodes, and lxml then refuses to move
    # such text around).  In every ASCII-compatible charset these bytes are the characters
    # themselves, never part of another one, and deleting bytes is far cheaper than text.
    raw = raw.translate(None, _CONTROL_BYTES)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    mostly = _mostly_utf8(raw)
    if mostly is not None:
        return mostly
    declared = _codec(declared_charset(raw, content_type))
    if declared and declared not in ("utf-8", "ascii"):
        try:
            return raw.decode(declared)
        except UnicodeDecodeError:
            pass
    best = from_bytes(
        raw[:200_000], cp_isolation=["gb18030", "big5hkscs", "cp1252", "shift_jis", "euc_kr"]
    ).best()
    encoding = best.encoding if best else (declared or "gb18030")
    return raw.decode(encoding, "replace")


def _mostly_utf8(raw: bytes) -> str | None:
    """The page as UTF-8 with its few bad bytes replaced, if it is UTF-8 but for those.

    A UTF-8 page with one stray Latin-1 byte is not valid UTF-8, and decoding all of it as
    a single-byte charset turns every other non-ASCII character into two ("MÃ¤scot").  Text
    in another multi-byte charset (GBK, Big5) fails UTF-8 at most of its characters, so a
    page where invalid sequences are rare beside valid multi-byte ones is UTF-8, whatever
    its language.
    """
    text = raw.decode("utf-8", "replace")
    bad = text.count("\ufffd")
    good = len(text) - len(text.encode("ascii", "ignore")) - bad
    return text if good >= 20 and bad * 50 <= good else None


# Comments and processing instructions go at parse time: left in the tree they split text
# nodes, and trafilatura, given a tree that has them, loses whole paragraphs (measured on
# the benchmark: recall 0.47 instead of 0.97 on some pages).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
# A soft hyphen marks where a word may break; in a copy of the text it only splits words
# for search and comparison ("Mit\xadtel\xadalter"), so it goes, written or as an entity.
_SOFT_HYPHEN = re.compile(r"&(?:shy|#0*173|#x0*ad);", re.I)
# libxml2 refuses a str that declares its encoding; the text is decoded already.
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*>")
_PARSER = lhtml.HTMLParser(remove_comments=True, remove_pis=True, collect_ids=False)
# lxml.html picks each element's class in Python (a call per element handed to Python, ~3% of
# an extraction); one class for all, chosen in C, keeps every HtmlElement method we and
# trafilatura use (only <form>/<input>'s own helpers, used by neither, are lost).
_PARSER.set_element_class_lookup(
    etree.ElementDefaultClassLookup(
        element=lhtml.HtmlElement,
        comment=lhtml.HtmlComment,
        pi=lhtml.HtmlProcessingInstruction,
        entity=lhtml.HtmlEntity,
    )
)


def parse_html(text: str) -> Any:
    """An lxml HTML document tree (never None: an empty document becomes ``<html/>``)."""
    # Given text, libxml2 ignores the page's meta charset, which is what we want.  The text
    # comes from decode_html, which has removed control characters.
    text = _SOFT_HYPHEN.sub("", _XML_DECLARATION.sub("", text, count=1).replace("\xad", ""))
    if not text.strip():
        return lhtml.document_fromstring("<html><body></body></html>", parser=_PARSER)
    try:
        return lhtml.document_fromstring(text, parser=_PARSER)
    except (etree.ParserError, ValueError):
        return lhtml.document_fromstring("<html><body></body></html>", parser=_PARSER)


# Attributes lazy-loading scripts keep the real picture in, most specific first.
LAZY_ATTRS = (
    "data-src",
    "data-original",
    "data-lazy-src",
    "data-actualsrc",
    "data-original-src",
    "data-hi-res-src",
    "data-full-src",
    "data-echo",
    "data-lazy",
    "data-url",
)
_PLACEHOLDER = re.compile(
    r"(?:^data:|placeholder|blank\.(?:gif|png)|spacer|transparent\.(?:gif|png)|"
    r"loading\.(?:gif|svg)|lazy(?:load)?\.(?:gif|png|svg)|grey\.(?:gif|png)|1x1\.)",
    re.I,
)


def _looks_like_url(value: str | None) -> bool:
    return bool(value) and not str(value).strip().lower().startswith(("data:", "javascript:"))


def best_from_srcset(srcset: str, target: int = 1024) -> str | None:
    """The candidate of a ``srcset`` whose width is nearest ``target`` (else the last)."""
    best: tuple[float, str] | None = None
    last = None
    for part in re.split(r",\s+(?=\S)", srcset.strip()):
        bits = part.strip().split()
        if not bits or not _looks_like_url(bits[0]):
            continue
        last = bits[0]
        desc = bits[1] if len(bits) > 1 else "1x"
        score: float
        try:
            if desc.endswith("w"):
                score = abs(int(desc[:-1]) - target)
            elif desc.endswith("x"):
                score = abs(float(desc[:-1]) * 800 - target)
            else:
                continue
        except ValueError:
            continue
        if best is None or score < best[0]:
            best = (score, bits[0])
    return best[1] if best else last


def real_src(img: Any) -> str | None:
    """The picture an ``<img>`` stands for, before it is made absolute."""
    attrib = img.attrib
    lazy = any(name.startswith("data-") for name in attrib)  # most <img> have none
    for attr in LAZY_ATTRS if lazy else ():
        value = attrib.get(attr)
        if _looks_like_url(value) and not _PLACEHOLDER.search(value or ""):
            return str(value).strip()
    src = (img.get("src") or "").strip()
    if src and not _PLACEHOLDER.search(src):
        return src
    for attr in ("data-srcset", "srcset", "data-lazy-srcset"):
        value = img.get(attr)
        if value:
            chosen = best_from_srcset(value)
            if chosen:
                return chosen
    # libxml2 does not know <source> is void: the <img> may end up inside it.
    picture = next((a for a in list(img.iterancestors())[:2] if a.tag == "picture"), None)
    if picture is not None:
        for source in picture.iter("source"):
            value = source.get("srcset") or source.get("data-srcset")
            chosen = best_from_srcset(value) if value else None
            if chosen:
                return chosen
    return None


def base_url(root: Any, page_url: str) -> str:
    """What the page's relative links are relative to: its ``<base href>``, else its URL."""
    for base in root.iter("base"):
        href = base.get("href")
        if href:
            try:
                return urls.serialize(href, page_url, keep_tracking=True)
            except urls.BadURLError:
                break
    return page_url


def unlazy(root: Any, page_url: str) -> None:
    """Give every ``<img>`` its real absolute URL in ``src`` (in place).

    A ``<noscript>`` holding the real image replaces a placeholder ``<img>`` just before
    it; any other ``<noscript>`` with images is unwrapped so its images count.  Images
    with no usable URL are removed.
    """
    base = base_url(root, page_url)
    for amp in list(root.iter("amp-img")):  # AMP pages: the picture element is amp-img
        for fallback in list(amp):
            amp.remove(fallback)
        amp.tag = "img"
    for ns in list(root.iter("noscript")):
        inner = [i for i in ns.iter("img") if real_src(i)]
        if not inner:
            continue
        prev = ns.getprevious()
        if prev is not None and prev.tag != "img":
            found = list(prev.iter("img"))
            prev = found[-1] if found else None
        if prev is not None and (not real_src(prev) or prev.get("src", "").startswith("data:")):
            prev.set("src", real_src(inner[0]) or "")
            for attr in LAZY_ATTRS:
                prev.attrib.pop(attr, None)
            ns.drop_tree()
        elif prev is not None and real_src(prev):
            ns.drop_tree()  # the same picture twice: the script-less copy goes
        else:
            ns.drop_tag()
    resolved: dict[str, str | None] = {}  # icons and spacers repeat: resolve each URL once
    for img in list(root.iter("img")):
        src = real_src(img)
        absolute = None
        if src:
            if src not in resolved:
                try:
                    resolved[src] = urls.serialize(src, base, keep_tracking=True)
                except urls.BadURLError:
                    resolved[src] = None
            absolute = resolved[src]
        if not absolute or not urls.scheme_ok(absolute):
            img.drop_tree()
            continue
        img.set("src", absolute)
        for attr in ("srcset", "data-srcset", "sizes", *LAZY_ATTRS):
            img.attrib.pop(attr, None)


def absolute_links(root: Any, base: str) -> None:
    """Resolve every ``<a href>`` against ``base`` (in place); bad ones lose the href."""
    for a in root.iter("a"):
        href = (a.get("href") or "").strip()
        if not href or href.startswith("#"):
            continue
        try:
            a.set("href", urls.serialize(href, base, keep_tracking=True))
        except urls.BadURLError:
            a.attrib.pop("href", None)


# ---- metadata -------------------------------------------------------------------------

_CN_DATE = re.compile(
    r"(\d{4})\s*[年/.-]\s*(\d{1,2})\s*[月/.-]\s*(\d{1,2})\s*日?"
    r"(?:\D{0,6}?(\d{1,2})[:：](\d{2})(?:[:：](\d{2}))?)?"
)


def parse_date(value: Any, tz_hours: float = 0) -> int | None:
    """Milliseconds since the epoch of an ISO 8601, RFC 2822 or ``2024年5月3日 10:20`` date.

    A date without a zone is taken to be in UTC+``tz_hours`` (the outlet's own time).
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    dt: datetime | None = None
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            dt = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            m = _CN_DATE.search(text)
            if m:
                y, mo, d, h, mi, s = (int(g) if g else 0 for g in m.groups())
                try:
                    dt = datetime(y, mo, d, h, mi, s)
                except ValueError:
                    dt = None
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone(timedelta(hours=tz_hours)) if tz_hours else UTC)
    return int(dt.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class Meta:
    """What a page says about itself, outside its text."""

    title: str = ""
    published_ms: int | None = None
    modified_ms: int | None = None
    authors: tuple[str, ...] = ()
    canonical: str = ""
    image: str = ""


_ARTICLE_TYPES = {
    "article",
    "newsarticle",
    "reportagenewsarticle",
    "analysisnewsarticle",
    "blogposting",
    "liveblogposting",
    "opinionnewsarticle",
    "webpage",
}


def walk_json(node: Any) -> Iterator[Mapping[str, Any]]:
    """Every object in a JSON document, in document order (depth first)."""
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, Mapping):
            yield cur
            stack.extend(reversed(list(cur.values())))
        elif isinstance(cur, list):
            stack.extend(reversed(cur))


def _types(obj: Mapping[str, Any]) -> set[str]:
    t = obj.get("@type")
    values = t if isinstance(t, list) else [t]
    return {str(v).lower() for v in values if v}


def _names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        name = value.get("name")
        return [name] if isinstance(name, str) else []
    if isinstance(value, list):
        return [n for v in value for n in _names(v)]
    return []


def ld_json(root: Any) -> list[Mapping[str, Any]]:
    """The article objects of every ``ld+json`` block, NewsArticle-like first."""
    found: list[tuple[int, Mapping[str, Any]]] = []
    for script in root.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        try:
            doc = json.loads(script.text or "")
        except ValueError:
            continue
        for obj in walk_json(doc):
            types = _types(obj)
            if types & _ARTICLE_TYPES:
                found.append((1 if types == {"webpage"} else 0, obj))
    found.sort(key=lambda pair: pair[0])
    return [obj for _rank, obj in found]


def _meta_tags(root: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in root.iter("meta"):
        key = (m.get("property") or m.get("name") or m.get("itemprop") or "").strip().lower()
        value = (m.get("content") or "").strip()
        if key and value and key not in out:
            out[key] = value
    return out


def clean_author(name: str) -> str:
    """A name without "By"/"记者：" and the like; empty for a profile URL."""
    name = " ".join(name.split())
    if name.lower().startswith(("http://", "https://")):
        return ""
    return re.sub(r"^(?:by|作者|记者|文)\s*[:：]?\s*", "", name, flags=re.I).strip()


# Where pages state their dates in <meta>, most specific first (Dublin Core, Open Graph,
# the news CMSs' own names).
_PUBLISHED_KEYS = (
    "article:published_time", "og:published_time", "article:published", "dcterms.created",
    "dcterms.issued", "dcterms.date", "dc.date.issued", "dc.date.created", "dc.date",
    "datepublished", "pubdate", "publishdate", "publish-date", "publication_date",
    "sailthru.date", "parsely-pub-date", "date", "og:release_date",
)  # fmt: skip
_MODIFIED_KEYS = (
    "article:modified_time", "og:updated_time", "dcterms.modified", "datemodified",
    "last-modified", "lastmod",
)  # fmt: skip
_DATE_HOLDERS = ("span", "div", "p", "em", "small", "font", "li", "td", "dd", "header", "section")
_DATED = re.compile(r"(?:date|time|publish|pubdate|posted|meta|info)", re.I)


def _first_date(tags: Mapping[str, str], keys: tuple[str, ...], tz_hours: float) -> int | None:
    for key in keys:
        found = parse_date(tags.get(key), tz_hours)
        if found is not None:
            return found
    return None


def _page_date(root: Any, tz_hours: float) -> int | None:
    """A date the page shows rather than declares: a ``<time datetime>`` (one marked as the
    publication first), else the first date written in an element whose class or id says
    it holds dates ("2025年11月30日 15:04", "2025-11-30 15:04")."""
    times = list(root.iter("time"))
    marked = [t for t in times if t.get("pubdate") is not None or "publish" in _marks(t)]
    for t in marked + times:
        found = parse_date(t.get("datetime"), tz_hours) or parse_date(t.text_content(), tz_hours)
        if found is not None:
            return found
    body = root.find("body")
    for el in body.iter(_DATE_HOLDERS) if body is not None else ():
        if not _DATED.search(_marks(el)):
            continue
        text = el.text_content()
        shown = _CN_DATE.search(text) if len(text) < 200 else None
        if shown is not None and (found := parse_date(shown.group(0), tz_hours)) is not None:
            return found
    return None


def _marks(el: Any) -> str:
    return f"{el.get('class') or ''} {el.get('id') or ''}".lower()


def _document_title(root: Any) -> str:
    """The ``<title>``, without the site's name around it when the page's ``<h1>`` is the
    headline it contains ("港特首梁振英就住宅违建事件道歉 - BBC中文网 - 两岸三地")."""
    t = root.find(".//title")
    title = " ".join((t.text_content() if t is not None else "").split())
    for h1 in root.iter("h1"):
        head = " ".join(h1.text_content().split())
        if len(head) >= 4 and head in title:
            return head
    return title


def metadata(root: Any, page_url: str, tz_hours: float = 0) -> Meta:
    """Title, dates, authors, canonical link and social image of a page."""
    articles = ld_json(root)
    tags = _meta_tags(root)
    first: Mapping[str, Any] = articles[0] if articles else {}
    published = parse_date(first.get("datePublished"), tz_hours) or _first_date(
        tags, _PUBLISHED_KEYS, tz_hours
    )
    modified = parse_date(first.get("dateModified"), tz_hours) or _first_date(
        tags, _MODIFIED_KEYS, tz_hours
    )
    if published is None:
        published = _page_date(root, tz_hours)
    names = _names(first.get("author")) or _names(tags.get("author") or tags.get("article:author"))
    authors = tuple(dict.fromkeys(a for a in (clean_author(n) for n in names) if a))
    title = str(first.get("headline") or tags.get("og:title") or "").strip()
    if not title:
        title = _document_title(root)
    canonical = ""
    for link in root.iter("link"):
        if (link.get("rel") or "").lower() == "canonical" and link.get("href"):
            with contextlib.suppress(urls.BadURLError):
                canonical = urls.serialize(link.get("href"), page_url)
            break
    image = tags.get("og:image") or tags.get("twitter:image") or ""
    if image:
        try:
            image = urls.serialize(image, page_url, keep_tracking=True)
        except urls.BadURLError:
            image = ""
    return Meta(title, published, modified, authors, canonical, image)
