"""The extracted article as a list of blocks, and the article body built from it.

Every extractor (outlet rules, BBC's JSON, the generic one) produces a :class:`Page`: its
text as blocks in reading order, each either the HTML of one paragraph, heading, list,
quote or table, or an :class:`Image` with its caption.  :func:`render_body` then writes the
body in the conventions of the archive (DESIGN.md): a dateline, images as
``<img src=… width="100%">`` with a grey caption under them, the paragraphs.

:func:`blocks_of` turns a container element of a page into blocks; :func:`caption_of`
finds the caption of a picture in the shapes pages really use (``<figcaption>``, a
``.caption`` next to the image, a centred or small line under it).
"""

from __future__ import annotations

import copy
import html
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from ..render.body import CAPTION, dateline, image_html, iso_ms_z

__all__ = ["CAPTION", "Block", "Image", "Page", "iso_ms_z", "render_body"]


@dataclass(frozen=True, slots=True)
class Image:
    """A picture of the article and its caption (plain text)."""

    src: str
    caption: str = ""


Block = str | Image  # str: the HTML of one paragraph, heading, list, quote or table


@dataclass(frozen=True, slots=True)
class Page:
    """What an extractor found on an article page."""

    blocks: tuple[Block, ...]
    title: str = ""
    published_ms: int | None = None
    modified_ms: int | None = None
    authors: tuple[str, ...] = ()
    canonical: str = ""

    @property
    def images(self) -> list[Image]:
        """The pictures, in order."""
        return [b for b in self.blocks if isinstance(b, Image)]

    def text(self, captions: bool = True) -> str:
        """The plain text of the blocks (and captions, unless told), one block a line."""
        lines = []
        for b in self.blocks:
            if isinstance(b, Image):
                if captions and b.caption:
                    lines.append(b.caption)
            else:
                lines.append(block_text(b))
        return "\n".join(line for line in lines if line)


def render_body(page: Page, date_ms: int, authors: Iterable[str]) -> str:
    """The article body: dateline, then the blocks (pictures with captions under them)."""
    parts = [dateline(authors, iso_ms_z(date_ms))]
    for b in page.blocks:
        if isinstance(b, Image):
            parts.append(image_html(b.src, html.escape(b.caption, quote=False)))
        else:
            parts.append(b)
    return "".join(parts)


# ---- text helpers ------------------------------------------------------------------------

_TAG = re.compile(r"<[^>]+>")
# Tags that separate words: line breaks and the edges of block elements (list items,
# table cells...).  Inline tags (b, a, span) separate nothing.
_BR = re.compile(
    r"</?(?:br|p|div|li|ul|ol|dl|dt|dd|td|th|tr|table|h[1-6]|blockquote|pre)\b[^>]*>", re.I
)


def norm(text: str) -> str:
    """White space collapsed, ends stripped (``str.split`` and ``\\s`` agree on what white
    space is; the split runs several times faster than the regex)."""
    return " ".join(text.split())


def mark_breaks(root: Any) -> None:
    """Make each ``<br>`` count as white space in the tree's text (in place)."""
    for br in root.iter("br"):
        br.tail = "\n" + (br.tail or "")


def text_of(el: Any) -> str:
    """An element's text, white space collapsed (see :func:`mark_breaks`)."""
    return norm("".join(el.itertext()))


def _has_text(el: Any) -> bool:
    """Whether an element holds any text (stops at the first)."""
    return any(not t.isspace() for t in el.itertext() if t)


def block_text(markup: str) -> str:
    """The text of one block's HTML."""
    if "<" not in markup and "&" not in markup:
        return norm(markup)
    # Line breaks and block edges are spaces, other tags nothing (as text_of reads the tree after
    # mark_breaks); entities are decoded last so a literal "&lt;b&gt;" stays text.
    return norm(html.unescape(_TAG.sub("", _BR.sub(" ", markup))))


# ---- pictures ----------------------------------------------------------------------------

_NOT_CONTENT = re.compile(
    r"(?:^|[\s_-])(?:logo|icon|avatar|sprite|emoji|badge|pixel|tracking|spacer|"
    r"ad|ads|advert\w*|banner|qrcode|qr|share|social|author-photo|headshot)(?:$|[\s_-])",
    re.I,
)
_NOT_CONTENT_SRC = re.compile(
    r"(?:\.svg(?:$|\?)|/(?:logo|icons?|avatars?|emoji|sprites?|badges?|pixel)[/._-]|"
    r"(?:logo|icon|avatar|qrcode|spacer|pixel)\.(?:png|gif|jpe?g|webp)|"
    # ad servers, counters and beacons (not resizers such as image.php?src=…), and a
    # site's bare home page given as a picture
    r"/(?:ads?|adserver|delivery|banners?|counter|beacon|"
    r"track(?:ing)?|analytics)/|doubleclick\.|counter\.|^https?://[^/]+/?(?:$|\?))",
    re.I,
)


def _size(value: Any) -> int | None:
    m = re.match(r"\s*(\d+)", str(value or ""))
    return int(m.group(1)) if m else None


def content_image(img: Any) -> bool:
    """False for logos, icons, avatars, tracking pixels and other tiny pictures."""
    src = img.get("src") or ""
    if not src or _NOT_CONTENT_SRC.search(src):
        return False
    w, h = _size(img.get("width")), _size(img.get("height"))
    if (w is not None and w < 100) or (h is not None and h < 60):
        return False
    return not _NOT_CONTENT.search(_marks(img))


_CAPTION_MARK = re.compile(
    r"caption|credit|legend|desc|figcap|img-?text|pic-?text|photo-?text|image-?text|"
    r"wp-caption-text|note|说明|图注",
    re.I,
)
_CAPTION_PREFIX = re.compile(
    r"^\s*(?:[（(\[【]?\s*(?:图|圖|图片|圖片|图为|圖為|资料图|資料圖|照片|摄影|攝影|"
    r"photo|image|picture|pic|file photo)|[◎▲△↑]|图片来源|圖片來源)",
    re.I,
)
_INLINE_CAPTION_TAGS = {"small", "em", "i", "figcaption", "font", "cite"}
MAX_CAPTION = 300


def _marks(el: Any) -> str:
    return f"{el.get('class') or ''} {el.get('id') or ''}"


def _is_caption(el: Any) -> bool:
    if not isinstance(el.tag, str) or el.tag in ("img", "script", "style"):
        return False
    if el.find(".//img") is not None:
        return False
    text = text_of(el)
    if not text or len(text) > MAX_CAPTION:
        return False
    if el.tag == "figcaption" or _CAPTION_MARK.search(_marks(el)):
        return True
    if el.tag in _INLINE_CAPTION_TAGS:
        return True
    children = [c for c in el if isinstance(c.tag, str)]
    if (
        len(children) == 1
        and children[0].tag in _INLINE_CAPTION_TAGS
        and text_of(children[0]) == text
    ):
        return True
    style = (el.get("style") or "").replace(" ", "").lower()
    if "text-align:center" in style or el.get("align", "").lower() == "center":
        return len(text) <= 150
    return bool(_CAPTION_PREFIX.match(text)) and len(text) <= 150


def _next_element(el: Any) -> Any:
    nxt = el.getnext()
    while nxt is not None and (not isinstance(nxt.tag, str) or nxt.tag == "br"):
        nxt = nxt.getnext()
    return nxt


_CREDIT = re.compile(r"credit|copyright|photographer|byline|source|来源|來源", re.I)


def caption_text(el: Any) -> str:
    """A caption's text, a credit inside it set apart by a space (pages run them together:
    ``说明<span class="credit">Photo: X</span>``)."""
    credits = [
        c for c in el.iterdescendants() if isinstance(c.tag, str) and _CREDIT.search(_marks(c))
    ]
    if not credits:
        return text_of(el)
    parts = []
    for piece in el.xpath(".//text()"):
        holder = piece.getparent()
        if piece.is_tail:
            holder = holder.getparent()
        in_credit = any(holder is c or c in holder.iterancestors() for c in credits)
        parts.append((in_credit, str(piece)))
    main = norm("".join(t for credit, t in parts if not credit))
    credit = norm(" ".join(norm(t) for credit, t in parts if credit))
    return f"{main} {credit}".strip()


def _text_after_break(node: Any) -> str:
    """``<img><br>说明</p>``: short text after a line break that follows the picture, up to
    the end of its parent, when nothing else is in the parent."""
    br = node.getnext()
    parent = node.getparent()
    if br is None or br.tag != "br" or parent is None or (node.tail or "").strip():
        return ""
    if (parent.text or "").strip() or any(
        c.tag == "img" or c.find(".//img") is not None
        for c in parent
        if c is not node and isinstance(c.tag, str)
    ):
        return ""
    pieces = [br.tail or ""]
    for sib in br.itersiblings():
        if isinstance(sib.tag, str):
            pieces.append("".join(sib.itertext()))
        pieces.append(sib.tail or "")
    text = norm("".join(pieces))
    return text if 0 < len(text) <= 150 else ""


def caption_of(img: Any, stop: Any = None) -> tuple[str, Any]:
    """The caption of a picture and the element holding it (``("", None)`` if none).

    Looks in the enclosing ``<figure>``, then climbs out of the picture's own wrappers
    (never past ``stop`` or a wrapper holding other pictures) and looks inside them and at
    the element right after each.
    """
    fig = img
    for _ in range(5):
        fig = fig.getparent()
        if fig is None or fig is stop:
            break
        if fig.tag == "figure":
            cap = fig.find(".//figcaption")
            if cap is None:
                cap = next((c for c in fig.iter() if c is not fig and _is_caption(c)), None)
            if cap is not None and text_of(cap):
                return caption_text(cap)[:MAX_CAPTION], cap
            break
    node = img
    for _ in range(3):
        nxt = _next_element(node)
        if nxt is not None and _is_caption(nxt):
            return caption_text(nxt), nxt
        after = _text_after_break(node)
        if after:
            return after, None
        parent = node.getparent()
        if parent is None or parent is stop or parent.tag in ("body", "article", "main"):
            break
        if sum(1 for _ in parent.iter("img")) > 1 or len(text_of(parent)) > MAX_CAPTION:
            break
        for c in parent.iter():
            if (
                c is not parent
                and c is not node
                and _CAPTION_MARK.search(_marks(c))
                and _is_caption(c)
            ):
                return caption_text(c), c
        node = parent
    return "", None


# ---- DOM -> blocks -----------------------------------------------------------------------

BLOCK_TAGS = {
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "blockquote", "table", "pre",
}  # fmt: skip
CONTAINER_TAGS = {
    "div", "section", "article", "main", "header", "footer", "aside", "figure", "center",
    "body", "html", "span", "font", "dd", "li",
}  # fmt: skip
SKIP_TAGS = {
    "script", "style", "noscript", "template", "form", "button", "input", "select",
    "textarea", "svg", "nav", "menu", "head", "title", "meta", "link", "object", "embed",
}  # fmt: skip
KEEP_ATTRS = {"href", "src", "colspan", "rowspan", "start", "datetime"}


def clean_html(el: Any, owned: bool = False) -> str:
    """An element's HTML without its tail, attributes other than links removed, and the
    source's indentation (a line break and the spaces around it) made one space, none at
    the block's edges: ``<h2>\n    <strong>Title</strong>\n  </h2>`` is ``<h2><strong>Title…``.
    """
    tail = el.tail
    c = el if owned else copy.deepcopy(el)  # a tree nobody reads again is cleaned in place
    c.tail = None
    try:
        return _cleaned(c)
    finally:
        if owned:
            el.tail = tail


def _cleaned(c: Any) -> str:
    flatten = c.tag != "pre" and c.find(".//pre") is None
    for node in c.iter():
        if not isinstance(node.tag, str):
            continue
        for attr in list(node.attrib):
            if attr not in KEEP_ATTRS:
                del node.attrib[attr]
        if flatten:
            if node.text and "\n" in node.text:
                node.text = _INDENT.sub(" ", node.text)
            if node is not c and node.tail and "\n" in node.tail:
                node.tail = _INDENT.sub(" ", node.tail)
    if flatten:
        _trim_edges(c)
    if c.tag == "h1":
        c.tag = "h2"
    return str(etree.tostring(c, encoding="unicode", method="html"))


_INDENT = re.compile(r"[ \t\r]*\n\s*")


def _trim_edges(el: Any) -> None:
    """No white space just inside a block's first and last text (recursing into the first
    and last inline elements, where that text may sit)."""
    first = el
    while True:
        if first.text:
            first.text = first.text.lstrip()
            break
        if not len(first):
            break
        first = first[0]
    last = el
    while len(last):
        child = last[-1]
        if child.tail and child.tail.strip():
            child.tail = child.tail.rstrip()
            return
        child.tail = None
        last = child
    if last.text:
        last.text = last.text.rstrip()


def _has_block(el: Any) -> bool:
    for d in el.iterdescendants():
        tag = d.tag
        if isinstance(tag, str) and (
            tag in BLOCK_TAGS or tag in ("div", "section", "figure", "img", "article", "li")
        ):
            return True
    return False


@dataclass
class BlockWriter:
    """Walks a container element and collects its blocks.

    ``drop`` holds elements already used (captions, furniture) that must not appear as text.
    """

    drop: set[Any] = field(default_factory=set)
    owned: bool = False  # the tree is ours to change (an extractor's output, read once)
    blocks: list[Block] = field(default_factory=list)
    seen_images: set[str] = field(default_factory=set)
    _inline: list[str] = field(default_factory=list)

    def run(self, container: Any) -> list[Block]:
        """Every block under ``container``, in document order."""
        self._walk_children(container)
        self._flush()
        return self.blocks

    def image(self, img: Any, stop: Any = None) -> None:
        """Add one picture (once per URL) with its caption."""
        src = img.get("src") or ""
        if not src or src in self.seen_images or not content_image(img):
            return
        self.seen_images.add(src)
        caption, holder = caption_of(img, stop)
        if holder is not None:
            self.drop.add(holder)
        self._flush()
        self.blocks.append(Image(src, caption))

    def _flush(self) -> None:
        text = "".join(self._inline).strip()
        self._inline.clear()
        plain = block_text(text)
        if not plain:
            return
        last = self.blocks[-1] if self.blocks else None
        if isinstance(last, Image) and last.caption == plain:
            return  # the caption, already shown under its picture
        self.blocks.append(f"<p>{text}</p>")

    def _text(self, value: str | None) -> None:
        if value:
            self._inline.append(html.escape(value, quote=False))

    def _walk_children(self, el: Any) -> None:
        self._text(el.text)
        for child in el:
            self._node(child)
            self._text(child.tail)

    def _node(self, el: Any) -> None:
        tag = el.tag
        if not isinstance(tag, str) or el in self.drop or tag in SKIP_TAGS:
            return
        if tag == "img":
            self.image(el)
        elif tag == "figure":
            for img in el.iter("img"):
                self.image(img, stop=el.getparent())
            for cap in el.iter("figcaption"):
                self.drop.add(cap)
            # Anything else in a figure that is not its caption (rare) is dropped too.
        elif tag == "br":
            # Two line breaks in a row (white space between them, such as the newline
            # mark_breaks puts after each) end a paragraph.
            while self._inline and not self._inline[-1].strip():
                self._inline.pop()
            if self._inline and self._inline[-1] == "<br>":
                self._inline.pop()
                self._flush()
            else:
                self._inline.append("<br>")
        elif tag in BLOCK_TAGS:
            self._flush()
            imgs = list(el.iter("img"))
            if imgs and tag in ("p", "h2", "h3", "h4", "h5", "h6"):
                self._walk_children(el)  # a paragraph wrapping a picture: split it
                self._flush()
            elif imgs or _has_text(el):
                for img in imgs:
                    if not content_image(img):
                        img.drop_tree()
                if _has_text(el):
                    self.blocks.append(clean_html(el, self.owned))
        elif tag in CONTAINER_TAGS or _has_block(el):
            self._flush()
            self._walk_children(el)
            self._flush()
        elif tag == "iframe":
            self._flush()
            self.blocks.append(clean_html(el, self.owned))
        elif el.find(".//img") is not None:
            self._walk_children(el)  # an inline wrapper (a link) around a picture
        else:
            self._inline.append(clean_html(el, self.owned))
