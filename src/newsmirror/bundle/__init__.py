"""Offline bundles: a period's articles as one file people can pass on (an EPUB 3 e-book,
a single HTML page), for readers whose routes to the archive close.

Everything a bundle shows is inside it: pictures come from the archive's image copies,
or are downloaded at bundle time under the usual limits; a picture that cannot be had
becomes its alternative text, never a remote reference.  Bodies are cleaned to a small
set of elements (what e-book readers and phones show well) and written as XHTML.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from lxml import etree
from lxml import html as lhtml

from ..config import Settings
from ..errors import NewsmirrorError, reason
from ..fetch.http import Fetcher
from ..render.html import READER_TZ, day_of
from ..render.markdown import parse_article_file
from ..store.catalog import Catalog
from ..store.rotation import Homes
from ..transform.images import unproxy
from ..transform.script import config_for, convert_html

log = logging.getLogger(__name__)

PERIODS = ("day", "week", "month")
# What e-book readers and phones render well; other elements give their text.
_KEEP = {
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "a", "strong",
    "b", "em", "i", "br", "img", "figure", "figcaption", "div", "span", "small", "table",
    "thead", "tbody", "tr", "td", "th", "pre", "code", "hr", "sub", "sup",
}  # fmt: skip
_DROP = {"script", "style", "noscript", "object", "embed", "template", "form", "button"}
_MEDIA = {"iframe", "video", "audio"}  # become a link to what they played


class BundleError(NewsmirrorError):
    """A bundle could not be made."""


@dataclass(frozen=True, slots=True)
class Item:
    """One article of a bundle, as its archive file has it."""

    source_id: str
    source_name: str
    title: str
    date_ms: int
    url: str
    body: str  # the archive file's HTML
    path: str  # in the archive


@dataclass(frozen=True, slots=True)
class Picture:
    """A picture's bytes, ready to be put inside a bundle."""

    data: bytes
    media_type: str

    @property
    def name(self) -> str:
        ext = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif"}.get(
            self.media_type, self.media_type.rsplit("/", 1)[-1]
        )
        return f"{hashlib.sha1(self.data).hexdigest()[:16]}.{ext}"


def parse_size(text: str) -> int:
    """Bytes of a size such as "50MB", "800KB", "1GB" or a plain number."""
    t = text.strip().upper().removesuffix("B")
    scale = {"K": 10**3, "M": 10**6, "G": 10**9}.get(t[-1:], 1)
    try:
        value = float(t[:-1] if scale > 1 else t)
    except ValueError:
        raise BundleError(f"{text!r}: not a size such as 50MB") from None
    if not 0 < value * scale < 2**63:
        raise BundleError(f"{text!r}: not a size such as 50MB")
    return int(value * scale)


def period(kind: str, day: str) -> tuple[int, int, str]:
    """The first and last-plus-one millisecond of the day, week (Monday on) or month of
    ``day`` (YYYY-MM-DD, in UTC+8 like the site), and its label."""
    try:
        d = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=READER_TZ)
    except ValueError:
        raise BundleError(f"{day!r}: not a date such as 2026-11-30") from None
    if kind == "day":
        start, end, label = d, d + timedelta(days=1), d.strftime("%Y-%m-%d")
    elif kind == "week":
        start = d - timedelta(days=d.weekday())
        end = start + timedelta(days=7)
        label = f"{start:%Y-%m-%d} – {end - timedelta(days=1):%Y-%m-%d}"
    elif kind == "month":
        start = d.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
        label = start.strftime("%Y-%m")
    else:
        raise BundleError(f"period {kind!r}: one of {', '.join(PERIODS)}")
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000), label


def select(
    settings: Settings, catalog: Catalog, start_ms: int, end_ms: int, sources: Sequence[str]
) -> list[Item]:
    """The period's articles of these sources (all when empty), by source then date."""
    names = {s.id: s.name for s in settings.sources}
    wanted = [s for s in (sources or list(names)) if s in names]
    if sources and len(wanted) != len(sources):
        unknown = sorted(set(sources) - set(names))
        raise BundleError(f"no source {unknown[0]!r} in the config")
    items = []
    marks = ",".join("?" * len(wanted))
    rows = catalog.db.execute(
        f"SELECT source, path, home FROM articles WHERE source IN ({marks}) AND date_ms >= ? "
        "AND date_ms < ? ORDER BY source, date_ms, id",
        (*wanted, start_ms, end_ms),
    )
    for sid, path, home in rows:
        try:
            parsed = parse_article_file((settings.repository(home) / path).read_bytes())
        except OSError as e:
            log.warning("bundle: %s: %s", path, e.strerror)
            continue
        if parsed is None:
            continue
        date_ms, title, url, body = parsed
        items.append(Item(sid, names[sid], title, date_ms, url, body, path))
    order = {sid: i for i, sid in enumerate(wanted)}
    items.sort(key=lambda it: (order[it.source_id], it.date_ms))
    return items


def in_script(items: Iterable[Item], script: str, traditional: str) -> list[Item]:
    """The items with title and body in ``script`` ("hans"/"hant"; else as they are)."""
    if script not in ("hans", "hant"):
        return list(items)
    config = config_for(script, traditional)  # type: ignore[arg-type]
    out = []
    for it in items:
        out.append(
            Item(
                it.source_id,
                it.source_name,
                convert_html(it.title, config),  # a title is HTML without markup
                it.date_ms,
                it.url,
                convert_html(it.body, config),
                it.path,
            )
        )
    return out


def estimate(items: Sequence[Item], pictures: dict[str, Picture | None], fmt: str) -> int:
    """Roughly how many bytes a bundle of ``items`` takes (pictures once each; base64
    in a single HTML page)."""
    used: dict[str, int] = {}
    for it in items:
        for src in _sources(it.body):
            p = pictures.get(src)
            if p is not None:
                used[p.name] = len(p.data)
    factor = 4 / 3 if fmt == "html" else 1.0
    return int(sum(len(it.body) + len(it.title) for it in items) + sum(used.values()) * factor)


def split(
    items: Sequence[Item], pictures: dict[str, Picture | None], fmt: str, cap: int
) -> list[tuple[str, list[Item]]]:
    """The bundle as parts of at most ``cap`` bytes where it can be cut: by source, then
    by day.  Each part is (name suffix, items); a single day of one source is not cut."""
    if estimate(items, pictures, fmt) <= cap:
        return [("", list(items))]
    for key in (lambda it: it.source_id, lambda it: day_of(it.date_ms)):
        groups: dict[str, list[Item]] = {}
        for it in items:
            groups.setdefault(key(it), []).append(it)
        if len(groups) > 1:
            out = []
            for name, group in groups.items():
                out += [(f"-{name}{sub}", part) for sub, part in split(group, pictures, fmt, cap)]
            return out
    return [("", list(items))]


def sniff(data: bytes) -> str | None:
    """A picture's media type from its first bytes (None: not a picture we embed)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


class Pictures:
    """The pictures of a bundle's articles: from the archive's copies, else downloaded."""

    def __init__(self, settings: Settings, catalog: Catalog) -> None:
        self.settings = settings
        self.catalog = catalog
        self.found: dict[str, Picture | None] = {}  # by src as the article file has it
        # A rotated article's pictures are in its period repository.
        self.repositories = [settings.archive.path] + [
            settings.repository(period) for period in Homes(catalog).counts()
        ]
        images = settings.images
        if images.repository is not None:
            self.repositories.append(images.repository)
        self.own_url = images.repository_url if images.repository is not None else ""

    def gather(self, items: Sequence[Item], download: bool = True) -> None:
        """Find every picture of ``items`` (one download per picture, concurrently)."""
        wanted: dict[str, str] = {}  # src -> where to get it (archive path or URL)
        originals: dict[str, str] = {}
        for it in items:
            for src in _sources(it.body):
                if src in wanted or src in self.found:
                    continue
                if self.own_url and src.startswith(self.own_url):  # the image repository
                    wanted[src] = src[len(self.own_url) :]
                elif "://" not in src:  # a copy in the archive, relative to the article file
                    wanted[src] = posixpath.normpath(
                        posixpath.join(posixpath.dirname(it.path), src)
                    )
                else:
                    originals[src] = unproxy(src, self.settings.images.proxies) or src
                    wanted[src] = originals[src]
        copies = self.catalog.asset_paths(sorted(set(originals.values())))
        remote: dict[str, str] = {}
        for src, where in wanted.items():
            local = copies.get(where, where if "://" not in where else None)
            if local is not None:
                self.found[src] = self._read(local)
            elif download:
                remote[src] = where
            else:
                self.found[src] = None
        if remote:
            asyncio.run(self._download(remote))

    def _read(self, path: str) -> Picture | None:
        if path.startswith(("/", "..")):
            return None
        for repo in self.repositories:
            try:
                data = (repo / path).read_bytes()
                break
            except OSError:
                continue
        else:
            return None
        kind = sniff(data)
        return Picture(data, kind) if kind else None

    async def _download(self, remote: dict[str, str]) -> None:
        async with Fetcher(self.settings.network) as fetcher:

            async def one(src: str, url: str) -> None:
                try:
                    r = await fetcher.get_retrying(
                        url, accept="image/*", max_bytes=self.settings.images.max_bytes
                    )
                    kind = sniff(r.content)
                    self.found[src] = Picture(r.content, kind) if kind else None
                except Exception as e:  # one picture that cannot be had is its caption
                    log.info("bundle: picture %s: %s", url, reason(e))
                    self.found[src] = None

            await asyncio.gather(*(one(s, u) for s, u in remote.items()))


def _sources(body: str) -> list[str]:
    root = _fragment(body)
    return [img.get("src") for img in root.iter("img") if img.get("src")]


def _fragment(body: str) -> lhtml.HtmlElement:
    return lhtml.fragment_fromstring(body or "<p></p>", create_parent="div")


def clean_body(body: str, picture_ref: dict[str, str]) -> str:
    """The body as XHTML of the kept elements; ``picture_ref`` maps a picture's src to
    its reference inside the bundle (pictures without one become their alt text)."""
    root = _fragment(body)
    for el in list(root.iter()):
        if el is root or not isinstance(el.tag, str):
            continue
        tag = el.tag.lower()
        if tag in _DROP:
            el.drop_tree()
        elif tag in _MEDIA:
            src = el.get("src") or ""
            link = lhtml.Element("p")
            if src.startswith(("http://", "https://")):
                a = etree.SubElement(link, "a", href=src)
                a.text = "视频/音频：" + src
            el.addprevious(link)
            el.drop_tree()
        elif tag not in _KEEP:
            el.drop_tag()
    for el in list(root.iter()):
        if el is root or not isinstance(el.tag, str):
            continue
        kept = {}
        if el.tag == "a":
            href = el.get("href") or ""
            if href.startswith(("http://", "https://")):
                kept["href"] = href
        elif el.tag == "img":
            ref = picture_ref.get(el.get("src") or "")
            if ref is None:
                alt = (el.get("alt") or "").strip()
                if alt:
                    span = lhtml.Element("span")
                    span.text = alt
                    span.tail = el.tail
                    el.addprevious(span)
                    el.getparent().remove(el)
                else:
                    el.drop_tree()
                continue
            kept = {"src": ref, "alt": el.get("alt") or ""}
        elif el.tag in ("td", "th"):
            kept = {
                k: v for k, v in el.attrib.items() if k in ("colspan", "rowspan") and v.isdigit()
            }
        el.attrib.clear()
        el.attrib.update(kept)
    out = [_escape(root.text or "")]
    for child in root:
        out.append(etree.tostring(child, encoding="unicode", method="xml"))
    return "".join(out)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
