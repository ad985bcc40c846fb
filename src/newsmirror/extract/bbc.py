"""BBC News 中文: the article is JSON in the page, not markup.

Current pages carry ``<script id="__NEXT_DATA__">`` whose
``props.pageProps.pageData.content.model.blocks`` is a tree of typed blocks: ``text →
paragraph → fragment`` (attributes ``bold``/``italic``) and ``urlLink``, ``subheadline``,
lists, ``image`` (``rawImage`` with ``originCode`` and ``locator``, ``caption``,
``altText``), ``video``, ``social``.  Dates are ``pageData.metadata.firstPublished`` /
``lastPublished`` (ms).  Older pages have no such JSON: their ``main[role=main]`` is read
with rules (:data:`~newsmirror.extract.outlets.BBC_MAIN`).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any

from .blocks import Block, Image, Page
from .document import Meta
from .outlets import BBC_MAIN

IMAGE_URL = "https://ichef.bbci.co.uk/news/1536/{origin}/{locator}"
_HEADINGS = {"subheadline", "crosshead"}


class BBCFormatError(ValueError):
    """The page's JSON is not the BBC article shape we know (names what is missing)."""


def _blocks(node: Any) -> list[Mapping[str, Any]]:
    model = node.get("model") if isinstance(node, Mapping) else None
    blocks = model.get("blocks") if isinstance(model, Mapping) else None
    return [b for b in blocks if isinstance(b, Mapping)] if isinstance(blocks, list) else []


def _inline(node: Mapping[str, Any]) -> str:
    """The HTML of the fragments under a block (bold, italic and links kept)."""
    out = []
    for b in _blocks(node):
        kind = b.get("type")
        model = b.get("model") or {}
        if kind == "fragment":
            text = html.escape(str(model.get("text") or ""), quote=False)
            attrs = model.get("attributes") or []
            if "italic" in attrs:
                text = f"<i>{text}</i>"
            if "bold" in attrs:
                text = f"<b>{text}</b>"
            out.append(text)
        elif kind == "urlLink":
            href = str(model.get("locator") or "")
            label = _inline(b) or html.escape(str(model.get("text") or href), quote=False)
            out.append(f'<a href="{html.escape(href)}">{label}</a>' if href else label)
        else:
            out.append(_inline(b))
    return "".join(out)


def _plain(node: Mapping[str, Any]) -> str:
    parts = []
    for b in _blocks(node):
        if b.get("type") == "fragment":
            parts.append(str((b.get("model") or {}).get("text") or ""))
        else:
            parts.append(_plain(b))
    return " ".join(p.strip() for p in parts if p.strip())


def _image(block: Mapping[str, Any]) -> Image | None:
    raw = next((b for b in _blocks(block) if b.get("type") == "rawImage"), None)
    model = (raw or {}).get("model") or {}
    locator, origin = model.get("locator"), model.get("originCode")
    if not locator or not origin:
        return None
    caption = next((_plain(b) for b in _blocks(block) if b.get("type") == "caption"), "")
    credit = str(model.get("copyrightHolder") or "").strip()
    if credit and credit not in caption:
        caption = f"{caption} 图像来源，{credit}" if caption else f"图像来源，{credit}"
    return Image(IMAGE_URL.format(origin=origin, locator=str(locator).lstrip("/")), caption)


class _Writer:
    def __init__(self, page_url: str) -> None:
        self.page_url = page_url
        self.out: list[Block] = []

    def walk(self, blocks: list[Mapping[str, Any]]) -> None:
        for b in blocks:
            kind = b.get("type")
            if kind == "text":
                self.walk(_blocks(b))
            elif kind == "paragraph":
                inner = _inline(b)
                if inner.strip():
                    self.out.append(f"<p>{inner}</p>")
            elif kind in _HEADINGS:
                inner = _inline(b)
                if inner.strip():
                    self.out.append(f"<h2>{inner}</h2>")
            elif kind in ("unorderedList", "orderedList"):
                tag = "ul" if kind == "unorderedList" else "ol"
                items = "".join(f"<li>{_inline(i)}</li>" for i in _blocks(b))
                self.out.append(f"<{tag}>{items}</{tag}>")
            elif kind == "image":
                img = _image(b)
                if img is not None:
                    self.out.append(img)
            elif kind == "video":
                caption = next((_plain(c) for c in _blocks(b) if c.get("type") == "caption"), "")
                label = html.escape(caption or "视频", quote=False)
                self.out.append(f'<p><a href="{html.escape(self.page_url)}">▶ {label}</a></p>')
            elif kind == "social":
                src = str((b.get("model") or {}).get("source") or "")
                if src.startswith(("http://", "https://")):
                    s = html.escape(src)
                    self.out.append(f'<p><a href="{s}">{s}</a></p>')


def _next_data(root: Any) -> Mapping[str, Any] | None:
    for script in root.iter("script"):
        if script.get("id") == "__NEXT_DATA__":
            try:
                data = json.loads(script.text or "")
            except ValueError as e:
                raise BBCFormatError(f"__NEXT_DATA__ is not JSON ({e})") from e
            return data if isinstance(data, Mapping) else None
    return None


def _get(node: Any, *path: str) -> Any:
    for key in path:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node


def _byline(blocks: list[Mapping[str, Any]]) -> tuple[str, ...]:
    names: list[str] = []
    for b in blocks:
        if b.get("type") == "byline":
            stack = list(_blocks(b))
            while stack:
                cur = stack.pop(0)
                if cur.get("type") == "name":
                    names.append(_plain(cur))
                else:
                    stack.extend(_blocks(cur))
    return tuple(n for n in names if n)


def extract(root: Any, page_url: str, meta: Meta) -> Page:
    """The article of a BBC page, from its JSON, else from its main element."""
    data = _next_data(root)
    if data is None:
        return BBC_MAIN.extract(root, page_url, meta)
    page_data = _get(data, "props", "pageProps", "pageData")
    content = _get(page_data, "content")
    if not isinstance(content, Mapping):
        raise BBCFormatError("__NEXT_DATA__ has no props.pageProps.pageData.content")
    blocks = _blocks(content)
    writer = _Writer(page_url)
    writer.walk([b for b in blocks if b.get("type") not in ("headline", "byline", "timestamp")])
    md = _get(page_data, "metadata") or {}
    first, last = md.get("firstPublished"), md.get("lastPublished")
    promo_title = _plain(next((b for b in blocks if b.get("type") == "headline"), {}))
    return Page(
        blocks=tuple(writer.out),
        title=promo_title or meta.title,
        published_ms=int(first) if isinstance(first, int | float) else meta.published_ms,
        modified_ms=int(last) if isinstance(last, int | float) else meta.modified_ms,
        authors=_byline(blocks) or meta.authors,
        canonical=meta.canonical,
    )
