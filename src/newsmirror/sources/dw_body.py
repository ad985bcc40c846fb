"""DW's graph-api article JSON -> the article body in the archive's conventions.

Pure: JSON in, HTML out.  The conventions are those of the existing mirrors (DESIGN.md):
a dateline ``<div><i>{authors}<br>{ISO date}</i></div>``, the lead image as
``<img src=… width="100%">`` with a grey ``<small>`` caption, the text's paragraphs and
sub-heads, inline images the same way, embedded video/audio/YouTube as a poster image or a
plain link, then the source and copyright lines as DW gives them.  Page furniture (ads, svg
icons, topic-wrapper spans) goes.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lxml import etree
from lxml import html as lhtml

from ..render.body import CAPTION, dateline, image_html, iso_z

# The public site: links in bodies and the title line always point here, whatever base URL
# the articles were fetched from.
PUBLIC_SITE = "https://www.dw.com"
_API_LINK = re.compile(r"^https?://api\.dw\.com/api/detail/article/(\d+)")
_ARTICLE_PATH = re.compile(r"/a-(\d+)(?:$|[/?#])")
_YOUTUBE_ID = re.compile(
    r"(?:youtube(?:-nocookie)?\.com/(?:embed/|watch\?v=)|youtu\.be/)([\w-]{6,})"
)


class DWFormatError(ValueError):
    """The JSON is not a DW article as we know it (names what is missing)."""


@dataclass(frozen=True, slots=True)
class DWArticle:
    """What the body builder extracts from one graph-api document."""

    id: int
    title: str
    canonical_url: str
    date_ms: int
    authors: tuple[str, ...]
    body: str


def _iso(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def image_url(static_url: str, image_format: int) -> str:
    """``https://static.dw.com/image/<id>_<format>.jpg`` from a ``${formatId}`` template."""
    return static_url.replace("${formatId}", str(image_format))


def _public(path_or_url: str) -> str:
    if path_or_url.startswith("/"):
        return PUBLIC_SITE + path_or_url
    return path_or_url


def _caption(link: Mapping[str, Any] | None) -> str:
    """Description and credit of a content link, escaped."""
    if not link:
        return ""
    text = str(link.get("description") or link.get("name") or "").strip()
    credit = str((link.get("target") or {}).get("licenserSupplement") or "").strip()
    if credit and credit not in text:
        text = f"{text} ©{credit}" if text else f"©{credit}"
    return html.escape(text, quote=False)


def _authors(content: Mapping[str, Any]) -> tuple[str, ...]:
    names = [
        str(p.get("fullName") or "").strip()
        for p in content.get("persons") or []
        if isinstance(p, Mapping)
    ]
    names = [n for n in names if n]
    if not names and isinstance(content.get("legacyAuthor"), str):
        names = [content["legacyAuthor"].strip()]
    return tuple(n for n in names if n)


class _Body:
    """Rewrites DW's text HTML in place."""

    def __init__(self, content: Mapping[str, Any], language: str, image_format: int) -> None:
        self.language = language
        self.image_format = image_format
        self.links: dict[int, Mapping[str, Any]] = {}
        for link in content.get("contentLinks") or []:
            if isinstance(link, Mapping) and isinstance(link.get("targetId"), int):
                self.links[link["targetId"]] = link
        self.images_seen: set[int] = set()

    def rewrite(self, text: str) -> str:
        root = lhtml.fragment_fromstring(text or "", create_parent="div")
        for el in list(root.iter("svg", "{http://www.w3.org/2000/svg}svg")):
            _drop(el)
        for el in list(root.iter("span")):
            cls = el.get("class") or ""
            if "rich-text-ad" in cls:
                _drop(el)
            elif el.get("data-type") == "AUTO_TOPIC" or "placeholder" in cls.split():
                el.drop_tag()
        for el in list(root.iter("div")):
            cls = (el.get("class") or "").split()
            if "placeholder-image" in cls:
                self._replace(el, self._inline_image(el))
            elif any(c.startswith("placeholder") for c in cls) or el.get("data-id"):
                self._replace(el, self._placeholder_link(el))
            elif "embed" in cls or "vjs-wrapper" in cls or "yt-wrapper" in cls:
                self._replace(el, self._embed(el))
        for el in list(root.iter("video", "audio", "iframe")):  # embeds outside a wrapper
            self._replace(el, self._embed(el))
        for a in root.iter("a"):
            self._link(a)
        return "".join(
            [html.escape(root.text or "", quote=False)]
            + [etree.tostring(child, encoding="unicode", method="html") for child in root]
        )

    @staticmethod
    def _replace(el: Any, markup: str) -> None:
        parent = el.getparent()
        if parent is None:
            return
        if markup:
            new = lhtml.fragments_fromstring(markup)
            index = parent.index(el)
            for offset, node in enumerate(new):
                if isinstance(node, str):  # a leading text node
                    continue
                parent.insert(index + offset, node)
        _drop(el)

    def _inline_image(self, el: Any) -> str:
        img = el.find(".//img")
        if img is None:
            return ""
        data_id = _int(img.get("data-id"))
        link = self.links.get(data_id) if data_id is not None else None
        template = (
            img.get("data-url")
            or img.get("src")
            or (((link or {}).get("target") or {}).get("staticUrl") or "")
        )
        if not template:
            return ""
        if data_id is not None:
            self.images_seen.add(data_id)
        return image_html(image_url(template, self.image_format), _caption(link))

    def _placeholder_link(self, el: Any) -> str:
        """A gallery, infobox or other embedded DW item: a plain link to its page."""
        data_id = _int(el.get("data-id"))
        link = self.links.get(data_id) if data_id is not None else None
        named = ((link or {}).get("target") or {}).get("namedUrl")
        if not named:
            return ""
        label = (
            html.escape(str(link.get("description") or link.get("name") or named), quote=False)
            if link
            else ""
        )
        return f'<p><a href="{html.escape(_public(str(named)))}">▶ {label}</a></p>'

    def _embed(self, el: Any) -> str:
        video = el if el.tag in ("video", "audio") else el.find(".//video")
        if video is None:
            video = el.find(".//audio")
        if video is not None:
            data_id = _int(video.get("data-id"))
            link = self.links.get(data_id) if data_id is not None else None
            target = (link or {}).get("target") or {}
            page = _public(str(target.get("namedUrl") or ""))
            source = video.find(".//source")
            media = video.get("src") or (source.get("src") if source is not None else "")
            href = page or media
            label = _caption(link) or ("视频" if video.tag == "video" else "音频")
            poster = video.get("data-posterurl") or video.get("poster")
            if poster and href:
                return (
                    f'<a href="{html.escape(href)}">'
                    f'<img src="{html.escape(image_url(poster, self.image_format))}" '
                    f'width="100%"></a>' + CAPTION.format(f"▶ {label}")
                )
            return f'<p><a href="{html.escape(href)}">▶ {label}</a></p>' if href else ""
        frame = el if el.tag == "iframe" else el.find(".//iframe")
        if frame is None:
            return ""
        src = frame.get("data-src") or frame.get("src") or ""
        m = _YOUTUBE_ID.search(src)
        if m:
            vid = m.group(1)
            watch = f"https://www.youtube.com/watch?v={vid}"
            return (
                f'<a href="{watch}"><img src="https://i.ytimg.com/vi/{vid}/hqdefault.jpg" '
                f'width="100%"></a>' + CAPTION.format("▶ YouTube")
            )
        return f'<p><a href="{html.escape(src)}">{html.escape(src)}</a></p>' if src else ""

    def _link(self, a: Any) -> None:
        href = (a.get("href") or "").strip()
        m = _API_LINK.match(href)
        if m:
            target = self.links.get(int(m.group(1)))
            named = ((target or {}).get("target") or {}).get("namedUrl")
            a.set(
                "href", _public(named) if named else f"{PUBLIC_SITE}/{self.language}/a-{m.group(1)}"
            )
        elif href.startswith("/") and not href.startswith("//"):
            a.set("href", PUBLIC_SITE + href)
        for attr in ("class", "target", "data-id"):
            a.attrib.pop(attr, None)


def _drop(el: Any) -> None:
    """Remove an element but keep the text that follows it."""
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail
    prev = el.getprevious()
    if tail:
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(el)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# What stands for a video or a live blog we cannot copy: a link to it on DW's site.
_WATCH = {"video": "▶ 在德国之声网站观看视频", "live": "▶ 在德国之声网站阅读直播全文"}


def build(
    content: Mapping[str, Any], *, language: str, image_format: int, kind: str = "a"
) -> DWArticle:
    """The archive article for one graph-api ``data.content`` object (``kind``: "a" an
    article, "live" a live blog, "video" a video)."""
    if not isinstance(content, Mapping):
        raise DWFormatError("no article content")
    aid = _int(content.get("id"))
    title = str(content.get("title") or "").strip()
    if aid is None or not title:
        raise DWFormatError("article content without id or title")
    canonical = str(content.get("canonicalUrl") or "").strip()
    if not canonical.startswith(("http://", "https://")):
        named = str(content.get("namedUrl") or "")
        canonical = (
            _public(named) if named.startswith("/") else f"{PUBLIC_SITE}/{language}/{kind}-{aid}"
        )
    first = _iso(content.get("firstPublicationDate")) or _iso(content.get("contentDate"))
    shown = _iso(content.get("contentDate")) or first
    updated = _iso(content.get("lastModifiedDate")) or _iso(content.get("lastPublicationDate"))
    date = updated or first or shown
    if date is None:
        raise DWFormatError("article content without any date")
    authors = _authors(content)
    body = _Body(content, language, image_format)
    raw_text = str(content.get("text") or "").strip()
    if not raw_text and content.get("teaser"):  # video and audio items carry no text
        raw_text = f"<p>{html.escape(str(content['teaser']), quote=False)}</p>"
    text = body.rewrite(raw_text)
    if kind in _WATCH or not raw_text:
        # The video itself, or a live blog's later posts, are not in the text: say where.
        label = _WATCH.get(kind, f"▶ {title}")
        text += f'<p><a href="{html.escape(canonical)}">{html.escape(label, quote=False)}</a></p>'
    parts = [dateline(authors, iso_z(shown or date))]
    main = content.get("mainContentImageLink")
    if isinstance(main, Mapping):
        main_id = _int(main.get("targetId"))
        static = str((main.get("target") or {}).get("staticUrl") or "")
        if static and main_id not in body.images_seen:
            parts.append(image_html(image_url(static, image_format), _caption(main)))
    parts.append(text)
    return DWArticle(
        id=aid,
        title=title,
        canonical_url=canonical,
        date_ms=int(date.timestamp() * 1000),
        authors=authors,
        body="".join(parts),
    )
