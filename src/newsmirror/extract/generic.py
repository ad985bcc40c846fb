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

import re
from typing import Any

import trafilatura
from trafilatura.htmlprocessing import convert_to_html

from .blocks import (
    Block,
    BlockWriter,
    Image,
    Page,
    block_text,
    caption_of,
    content_image,
    norm,
)
from .document import Meta, absolute_links, base_url

_KEY = 40  # characters of a paragraph that identify it in the page
_START = 6  # of which the first few rule out most elements cheaply
_TEXT_TAGS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "dd", "td"}
# Elements that hold text of their own on pages without paragraph markup.
_LOOSE_TAGS = {"div", "section", "article", "main", "span", "font", "center", "nav", "aside",
               "header", "footer", "menu", "strong", "b"}  # fmt: skip
_INLINE = {"span", "strong", "b", "font"}
# Page furniture by element: text found only inside these is not an article.
_FURNITURE_TAGS = {"nav", "aside", "footer", "header", "menu"}
# The tags the matching pass looks at, filtered in C by lxml's iter (each element handed to
# Python costs a class lookup).  An XPath doing the text test too was slower (measured).
_WALKED = ("img", *_TEXT_TAGS, *_LOOSE_TAGS)
_FURNITURE = re.compile(
    r"related|recommend|share|social|sidebar|promo|newsletter|comment|footer|"
    r"(?:^|[\s_-])nav|more-?(?:news|stories)|also-?read|widget|(?:^|[\s_-])ads?(?:$|[\s_-])|"
    r"advert|author-?(?:bio|card|box)|byline|breadcrumb|tags?(?:$|[\s_-])|popular|trending|"
    r"most-?read|top-?stories|(?:pub|publish|post)-?dates?|dateline|timestamp",
    re.I,
)


# Stricter than for pictures: only whole words, and none that article containers also use
# ("widget", "tags", "ad").
_FURNITURE_TEXT = re.compile(
    r"(?:^|[\s_-])(?:related|recommend\w*|share|sharing|social|promo|newsletter|byline|"
    r"breadcrumbs?|comments?|most-?read|top-?stories|pub-?dates?)(?:$|[\s_-])",
    re.I,
)
_LINK = re.compile(r"<a\b.*?</a>", re.S | re.I)
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


class NoText(ValueError):
    """Nothing on the page looks like an article's text."""


def _text_blocks(root: Any, page_url: str) -> list[Block]:
    # bare_extraction hands back trafilatura's own tree: no serialising to HTML and parsing
    # it again, no fingerprint of the text.  Given a tree, it works on a copy of it.  Links
    # of the text are resolved here, once trafilatura has chosen them.
    base = base_url(root, page_url)
    doc = trafilatura.bare_extraction(
        root,
        output_format="python",
        include_comments=False,
        include_formatting=True,
        include_links=True,
        include_images=False,
        include_tables=True,
        with_metadata=False,
        deduplicate=False,
    )
    body = getattr(doc, "body", None)
    if body is None:
        return []
    html = convert_to_html(body).find("body")
    absolute_links(html, base)
    return BlockWriter(owned=True).run(html)


def _squeeze(text: str, n: int) -> str:
    """The first ``n`` characters of ``text`` that are not white space.  Only a prefix is
    read; split-and-join runs in C, several times faster than ``str.translate``."""
    size = 2 * n
    while True:
        out = "".join(text[:size].split())
        if len(out) >= n or size >= len(text):
            return out[:n]
        size *= 4


def _key(text: str) -> str:
    """The start of a text without white space: an extractor adds spaces at block edges
    (``<li>Home</li><li>News</li>`` comes out "Home News") that the page does not have."""
    return _squeeze(text, _KEY)


def _key_of(el: Any, starts: set[str] | None = None) -> str:
    """``_key`` of an element's text without reading more of it than the key needs; ""
    as soon as its first characters begin none of ``starts`` (when given)."""
    acc = ""
    for piece in el.itertext():
        acc += "".join(piece.split())
        if starts is not None and len(acc) >= _START:
            if acc[:_START] not in starts:
                return ""
            starts = None  # checked once
        if len(acc) >= _KEY:
            break
    return acc[:_KEY]


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


def _size(el: Any) -> int:
    """How much text an element holds, white space not counted (cheaper than text_of)."""
    text: str = el.text_content()
    return len(text) - sum(map(text.count, " \n\t\r"))


def _widen(region: Any) -> Any:
    """Climb while the parent adds little text: headline figures sit just outside."""
    size = _size(region)
    while True:
        parent = region.getparent()
        if parent is None or parent.tag in ("body", "html"):
            return region
        if _size(parent) > size * 1.25 + 200:
            return region
        region = parent


def _marked(el: Any, marks_re: re.Pattern[str] = _FURNITURE) -> bool:
    """An element that page furniture sits in, by its tag, class, id or landmark label."""
    if el.tag in ("nav", "aside", "footer"):
        return True
    marks = f"{el.get('class') or ''} {el.get('id') or ''} {el.get('aria-labelledby') or ''}"
    return bool(marks.strip()) and bool(marks_re.search(marks))


def _furniture(img: Any, region: Any) -> bool:
    """A picture outside the article's region, or inside furniture within it (a marked
    box, or a list of teasers: related stories, most read)."""
    for anc in img.iterancestors():
        if anc is region:
            return False
        if _marked(anc) or (anc.tag == "li" and _teasers(anc.getparent())):
            return True
    return True  # not inside the region at all


_IMAGE_FILE = re.compile(r"\.(?:jpe?g|png|gif|webp|avif)(?:$|[?#])", re.I)


def _teasers(items: Any) -> bool:
    """A list whose items each link to another page with a headline: stories, not pictures
    of this one (a gallery's items link to the pictures themselves, if anywhere)."""
    if items is None:
        return False
    found = 0
    for li in items.iterchildren("li"):
        for a in li.iter("a"):
            href = a.get("href") or ""
            if (
                href
                and not href.startswith("#")
                and not _IMAGE_FILE.search(href)
                and len(norm(a.text_content())) >= 8
            ):
                found += 1
                break
        if found >= 2:
            return True
    return False


def _furniture_text(el: Any, region: Any, sizes: dict[Any, int], marked: dict[Any, bool]) -> bool:
    """Text the extractor took from furniture inside the article's region (a byline box,
    a newsletter promo, related links); text outside the region is its choice to keep.

    Class names are a weak signal (an article element may carry ``url-breadcrumb``): a
    marked box holding a large share of the region's text is the article, not furniture.
    """
    for node in (el, *el.iterancestors()):
        if node is region:
            return False
        if node not in marked:
            marked[node] = _marked(node, _FURNITURE_TEXT)
        if marked[node]:
            if not _contains(region, node):
                return False
            for known in (node, region):
                if known not in sizes:
                    sizes[known] = _size(known)
            return sizes[node] * 4 < sizes[region]
    return False


def extract(root: Any, page_url: str, meta: Meta) -> Page:
    """The article of any page (``root`` already decoded, unlazied, links absolute)."""
    texts = _text_blocks(root, page_url)
    if not any(_reads_as_text(b) for b in texts):
        # Nothing, or only short links (a menu trafilatura fell back to): not an article.
        raise NoText("no article text found on the page")
    plain = [block_text(b) if isinstance(b, str) else "" for b in texts]
    keys: dict[str, int] = {}
    for i, t in enumerate(plain):
        if t:
            keys.setdefault(_key(t), i)
    starts = {k[:_START] for k in keys}
    # A short block may be the start of its element: the extractor left out the rest.
    short = sorted({len(k) for k in keys if 8 <= len(k) < _KEY}, reverse=True)
    matched: list[tuple[Any, int]] = []
    found: dict[int, list[tuple[int, Any]]] = {}  # first block of a key -> (order, element)
    pictures: list[tuple[Any, int]] = []
    anchor = -1
    for order, el in enumerate(root.iter(_WALKED)):
        tag = el.tag
        if tag == "img":
            if el.get("src"):
                pictures.append((el, anchor))
            continue
        if tag in _INLINE and el.getparent().tag in _TEXT_TAGS:
            continue  # a run of text inside a paragraph: the paragraph stands for it
        head = el.text
        if head and len(first := _squeeze(head, _START)) == _START:
            if first not in starts:
                continue  # its own first words begin no paragraph (the cheap common case)
        elif tag not in _TEXT_TAGS and tag not in _FURNITURE_TAGS and not (head and head.strip()):
            continue  # a wrapper: its text is its children's
        key = _key_of(el, starts)  # "" at once if its first words begin no paragraph
        hit = keys.get(key)
        if hit is None and len(key) == _KEY:
            hit = next((h for n in short if (h := keys.get(key[:n])) is not None), None)
        if hit is not None:
            anchor = max(anchor, hit)
            matched.append((el, _size(el)))
            found.setdefault(hit, []).append((order, el))
    where = _align(plain, keys, found)
    if matched and all(_in_furniture(el) for el, _w in matched):
        raise NoText("the only text on the page is its menus and footers")
    placed: dict[int, list[Image]] = {}
    captions: set[str] = set()
    holders: list[tuple[Any, Any, str]] = []  # (caption element, picture's parent, caption)
    region = _region(matched) if matched else None
    if region is not None:
        region = _widen(region)
        seen: set[str] = set()
        inside = set(region.iter("img"))  # the same proxies as in pictures: they are alive
        for img, at in pictures:
            src = img.get("src")
            if img not in inside or src in seen or not content_image(img):
                continue
            if _furniture(img, region):
                continue
            seen.add(src)
            caption, holder = caption_of(img, region)
            captions.add(caption)
            holders.append((holder, img.getparent(), caption))
            placed.setdefault(at, []).append(Image(src, caption))
    if not placed and meta.image:
        lead = _social_image(root, meta.image)
        if lead is not None:
            caption, holder = caption_of(lead)
            captions.add(caption)
            holders.append((holder, lead.getparent(), caption))
            placed[-1] = [Image(meta.image, caption)]
    out: list[Block] = list(placed.get(-1, []))
    title = norm(meta.title)
    sizes: dict[Any, int] = {}
    marked: dict[Any, bool] = {}
    for i, (b, t) in enumerate(zip(texts, plain, strict=True)):
        el = where.get(i)
        furniture = el is not None and region is not None and bool(t)
        if furniture and _furniture_text(el, region, sizes, marked):
            pass  # a byline box, a newsletter promo inside the article's region
        elif _label_only(t):
            pass  # "发表时间：", "By:" whose value the extractor left out
        elif not (t and _repeats(b, t, el, i == 0 and t == title, captions, holders)):
            out.append(b)
        out.extend(placed.get(i, []))
    while out and isinstance(out[-1], str) and _button(out[-1]):
        out.pop()
    return Page(
        blocks=tuple(out),
        title=meta.title,
        published_ms=meta.published_ms,
        modified_ms=meta.modified_ms,
        authors=meta.authors,
        canonical=meta.canonical,
    )


def _align(
    plain: list[str], keys: dict[str, int], found: dict[int, list[tuple[int, Any]]]
) -> dict[int, Any]:
    """The page element each text block stands for: of the elements whose text starts like
    the block, the first after the previous block's (a caption and a paragraph that repeats
    it, a menu item and a paragraph ending in the same word, are told apart by order)."""
    where: dict[int, Any] = {}
    last = -1
    for i, text in enumerate(plain):
        if not text:
            continue
        first = keys.get(_key(text))
        candidates = found.get(first, []) if first is not None else []
        if not candidates:
            continue
        order, el = next(((o, e) for o, e in candidates if o > last), candidates[0])
        where[i] = el
        last = max(last, order)
    return where


def _reads_as_text(block: Block) -> bool:
    """A block with text outside links, or a link long enough to be a paragraph."""
    if not isinstance(block, str):
        return False
    if _own_text(block):
        return True
    text = block_text(block)
    return len(text.split()) >= 8 or len(_HAN.findall(text)) >= 20


def _button(block: str) -> bool:
    """A closing block that is one short link: "Subscribe", "订阅", "Share" — a button."""
    text = block_text(block)
    return 0 < len(text) <= 12 and not _own_text(block)


def _own_text(block: str) -> str:
    """A text block's text outside links."""
    return block_text(_LINK.sub(" ", block))


def _label_only(text: str) -> bool:
    return 0 < len(text) <= 12 and text[-1] in ":："


def _in_furniture(el: Any) -> bool:
    return el.tag in _FURNITURE_TAGS or any(a.tag in _FURNITURE_TAGS for a in el.iterancestors())


def _repeats(
    block: Block,
    text: str,
    el: Any,
    is_title: bool,
    captions: set[str],
    holders: list[tuple[Any, Any, str]],
) -> bool:
    """Whether a text block only repeats the title or a picture's caption.

    Judged by where the text sits, not by its words alone: a heading equal to the title
    goes, a paragraph that happens to read like the title stays; text found inside a
    caption goes (even with a credit or a button label around it in the page), a real
    paragraph that a caption quotes stays.
    """
    if is_title and isinstance(block, str) and block.startswith(("<h", "<H")):
        return True
    if el is None:
        return text in captions  # not found in the page: only its words can tell
    for holder, parent, caption in holders:
        if holder is not None and (holder is el or _contains(holder, el)):
            return True
        # The caption's element, or the picture's parent, found holding just the caption.
        if caption == text and (parent is el or (holder is not None and _contains(el, holder))):
            return True
    return False


def _contains(outer: Any, el: Any) -> bool:
    return any(a is outer for a in el.iterancestors())


def _social_image(root: Any, src: str) -> Any:
    """The page's own ``<img>`` of its social-card picture, if it shows it."""
    bare = src.split("?", 1)[0]
    for img in root.iter("img"):
        if (img.get("src") or "").split("?", 1)[0] == bare and content_image(img):
            return img
    return None
