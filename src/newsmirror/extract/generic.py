"""The extractor for sites without rules of their own: trafilatura for the text, our own
pass for the pictures.

trafilatura finds an article's text better than anything else we measured, but asked for
images it keeps few and changes its text choice for the worse (``bench/extract.py`` shows
both), and it never keeps captions.  So it runs for text only, and the pictures come from
the page itself: each ``<img>`` in the region that holds the extracted paragraphs (climbed
up to include a headline figure) is placed after the paragraph it follows in the page,
with the caption found next to it; a paragraph that repeats a caption goes.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import trafilatura
from lxml import html as lhtml

from .blocks import (
    Block,
    BlockWriter,
    Image,
    Page,
    block_text,
    caption_of,
    content_image,
    norm,
    text_of,
)
from .document import Meta

_KEY = 40  # characters of a paragraph that identify it in the page
_TEXT_TAGS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "dd", "td"}
_FURNITURE = re.compile(
    r"related|recommend|share|social|sidebar|promo|newsletter|comment|footer|"
    r"(?:^|[\s_-])nav|more-?(?:news|stories)|also-?read|widget|(?:^|[\s_-])ads?(?:$|[\s_-])|"
    r"advert|author-?(?:bio|card|box)|byline|breadcrumb|tags?(?:$|[\s_-])|popular|trending",
    re.I,
)


_LINK = re.compile(r"<a\b.*?</a>", re.S | re.I)


class NoText(ValueError):
    """Nothing on the page looks like an article's text."""


def _text_blocks(root: Any, page_url: str) -> list[Block]:
    out = trafilatura.extract(
        copy.deepcopy(root),
        url=page_url or None,
        output_format="html",
        include_comments=False,
        include_formatting=True,
        include_links=True,
        include_images=False,
        include_tables=True,
        with_metadata=False,
        deduplicate=False,
    )
    if not out:
        return []
    doc = lhtml.document_fromstring(out)
    body = doc.find("body")
    return BlockWriter().run(body if body is not None else doc)


def _key(text: str) -> str:
    return text[:_KEY]


def _key_of(el: Any) -> str:
    """``_key(text_of(el))`` without reading more of a long element than the key needs."""
    pieces: list[str] = []
    size = 0
    for piece in el.itertext():
        pieces.append(piece)
        size += len(piece)
        if size > 4 * _KEY:  # enough even if white space collapses a lot
            break
    return _key(norm("".join(pieces)))


def _region(matched: list[tuple[Any, int]]) -> Any:
    """The deepest element holding nine tenths of the matched text."""
    weight: dict[Any, int] = {}
    depth: dict[Any, int] = {}
    total = 0
    for el, w in matched:
        total += w
        chain = [el, *el.iterancestors()]
        for d, anc in enumerate(reversed(chain)):
            weight[anc] = weight.get(anc, 0) + w
            depth[anc] = d
    best = None
    for anc, w in weight.items():
        if w >= 0.9 * total and (best is None or depth[anc] > depth[best]):
            best = anc
    return best


def _widen(region: Any) -> Any:
    """Climb while the parent adds little text: headline figures sit just outside."""
    size = len(text_of(region))
    while True:
        parent = region.getparent()
        if parent is None or parent.tag in ("body", "html"):
            return region
        if len(text_of(parent)) > size * 1.25 + 200:
            return region
        region = parent


def _furniture(img: Any, region: Any) -> bool:
    for anc in img.iterancestors():
        if anc is region:
            return False
        marks = f"{anc.get('class') or ''} {anc.get('id') or ''}"
        if anc.tag in ("nav", "aside", "footer") or (marks.strip() and _FURNITURE.search(marks)):
            return True
    return True  # not inside the region at all


def extract(root: Any, page_url: str, meta: Meta) -> Page:
    """The article of any page (``root`` already decoded, unlazied, links absolute)."""
    texts = _text_blocks(root, page_url)
    if not any(_own_text(b) for b in texts):
        # Nothing, or only links (a menu trafilatura fell back to): not an article.
        raise NoText("no article text found on the page")
    plain = [block_text(b) if isinstance(b, str) else "" for b in texts]
    keys: dict[str, int] = {}
    for i, t in enumerate(plain):
        if t:
            keys.setdefault(_key(t), i)
    matched: list[tuple[Any, int]] = []
    pictures: list[tuple[Any, int]] = []
    anchor = -1
    for el in root.iter():
        tag = el.tag
        if tag == "img":
            if el.get("src"):
                pictures.append((el, anchor))
            continue
        if tag not in _TEXT_TAGS and not (tag == "div" and (el.text or "").strip()):
            continue
        hit = keys.get(_key_of(el))
        if hit is not None:
            anchor = max(anchor, hit)
            matched.append((el, len(text_of(el))))
    placed: dict[int, list[Image]] = {}
    captions: set[str] = set()
    region = _region(matched) if matched else None
    if region is not None:
        region = _widen(region)
        seen: set[str] = set()
        for img, at in pictures:
            src = img.get("src")
            if src in seen or not content_image(img) or _furniture(img, region):
                continue
            seen.add(src)
            caption, _holder = caption_of(img, region)
            captions.add(caption)
            placed.setdefault(at, []).append(Image(src, caption))
    if not placed and meta.image:
        lead = _social_image(root, meta.image)
        if lead is not None:
            caption, _holder = caption_of(lead)
            captions.add(caption)
            placed[-1] = [Image(meta.image, caption)]
    out: list[Block] = list(placed.get(-1, []))
    title = norm(meta.title)
    for i, (b, t) in enumerate(zip(texts, plain, strict=True)):
        if t and (t in captions or (i == 0 and t == title)):
            pass  # the caption is shown under its picture; the title is the file's title
        else:
            out.append(b)
        out.extend(placed.get(i, []))
    return Page(
        blocks=tuple(out),
        title=meta.title,
        published_ms=meta.published_ms,
        modified_ms=meta.modified_ms,
        authors=meta.authors,
        canonical=meta.canonical,
    )


def _own_text(block: Block) -> str:
    """A text block's text outside links."""
    if not isinstance(block, str):
        return ""
    return block_text(_LINK.sub(" ", block))


def _social_image(root: Any, src: str) -> Any:
    """The page's own ``<img>`` of its social-card picture, if it shows it."""
    bare = src.split("?", 1)[0]
    for img in root.iter("img"):
        if (img.get("src") or "").split("?", 1)[0] == bare and content_image(img):
            return img
    return None
