"""Feed footers: what publishing software appends to every item body, not the article.

WordPress plugins add "Permalink | No comment | Add to del.icio.us", "Post tags: …" and
"Feed enhanced by Better Feed"; others add "The post … appeared first on …", "Continue
reading", share links.  Archived as they come, every article of such a feed ends in the
same lines of furniture.  :func:`strip_footer` removes trailing blocks that read like that
(by a rule for all feeds and a few per outlet), and the ``<hr>`` or empty paragraphs that
set them apart, and nothing else: a body without such a footer comes back byte for byte,
and a block in the middle of the text is never touched.

It works on sanitized HTML (balanced tags, known void elements), finding the top-level
blocks with a tag scanner so the part kept is the original text, not a re-serialisation.
"""

from __future__ import annotations

import html
import re

_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)\b[^>]*?(/?)>")
_VOID = {"br", "hr", "img", "wbr", "source", "col", "area", "input", "embed", "track"}
_CONTAINERS = {"div", "section", "article", "main"}

# The rule for every feed: the line must start with one of these (or be the WordPress
# permalink line), and be short — a paragraph that merely mentions "read more" is text.
_FOOTER = re.compile(
    r"^(?:feed enhanced by|post tags\s*:|tags\s*:|filed under\s*:|标签\s*[:：]|"
    r"the post\b.{1,300}\bappeared first on|share this\s*:|like this\s*:|share\s*:|分享到|"
    r"related posts|related articles|相关文章|leave a comment|no comments?\b)"
    r"|\bpermalink\s*\||add to\s*del\.icio\.us",
    re.I,
)
# A link to the rest of the article.  It marks the body as a teaser, so a source that
# completes teasers from the page keeps it until then (see ``more``).
_MORE = re.compile(
    r"^(?:continue reading|read more|read the full|阅读全文|继续阅读|查看原文|点击阅读)", re.I
)
# Lines particular to an outlet's feed, by host of the item's link.
OUTLET_FOOTERS: dict[str, re.Pattern[str]] = {
    "chinadigitaltimes.net": re.compile(r"^©.{1,80}\bfor\s*中国数字时代|^(?:本文|文章)?版权所有"),
}
_MAX_FOOTER = 600  # characters of text in one footer block
# A word every pattern above needs (or an entity that could spell one), in lower case.  A
# body without any is returned at once: the block scan costs three times this check (and
# the check is three times slower with re.I than on a lower-cased copy).
_ANY_MARK = re.compile(
    r"enhanced|tags|filed|标签|appeared|share|like|分享|related|相关|comment|permalink|icio|"
    r"continue|read|阅读|查看原文|©|版权|&#|&copy"
)


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]*>", " ", fragment)).split())


def _blocks(body: str, start: int, end: int) -> list[tuple[int, int, str]]:
    """The top-level blocks of ``body[start:end]``: (start, end, tag or "" for text)."""
    out: list[tuple[int, int, str]] = []
    depth = 0
    open_at = start
    open_tag = ""
    pos = start
    for m in _TAG.finditer(body, start, end):
        closing, tag, selfclose = m.group(1), m.group(2).lower(), m.group(3)
        if depth == 0 and m.start() > pos and body[pos : m.start()].strip():
            out.append((pos, m.start(), ""))
        if closing:
            depth -= 1
            if depth == 0:
                out.append((open_at, m.end(), open_tag))
                pos = m.end()
            if depth < 0:
                return []  # not balanced: leave the body alone
        elif tag in _VOID or selfclose:
            if depth == 0:
                out.append((m.start(), m.end(), tag))
                pos = m.end()
        else:
            if depth == 0:
                open_at, open_tag = m.start(), tag
            depth += 1
    if depth != 0:
        return []
    if body[pos:end].strip():
        out.append((pos, end, ""))
    return out


def _is_footer(text: str, host: str, more: bool) -> bool:
    if not text or len(text) > _MAX_FOOTER:
        return False
    if _FOOTER.search(text) or (more and _MORE.search(text)):
        return True
    for suffix, pattern in OUTLET_FOOTERS.items():
        if (host == suffix or host.endswith("." + suffix)) and pattern.search(text):
            return True
    return False


def strip_footer(body: str, host: str = "", more: bool = True) -> str:
    """``body`` without the feed footer at its end (unchanged if it has none).

    ``more=False`` keeps a closing "continue reading" line, for a caller that still has to
    tell teasers by it.
    """
    if not _ANY_MARK.search(body.lower()):
        return body
    start, end = 0, len(body)
    blocks = _blocks(body, start, end)
    # A body wrapped in one container: the footer is inside it.
    while len(blocks) == 1 and blocks[0][2] in _CONTAINERS:
        s, e, _tag = blocks[0]
        inner_start = body.index(">", s) + 1
        inner_end = body.rindex("<", s, e)
        start, end = inner_start, inner_end
        blocks = _blocks(body, start, end)
    cut = None
    for s, _e, tag in reversed(blocks):
        text = _text(body[s:_e])
        if tag == "hr" or (not text and tag not in ("img", "figure", "iframe", "video")):
            continue  # separators and empty paragraphs go with the footer, if there is one
        if not _is_footer(text, host, more):
            break
        cut = s
    if cut is None:
        return body
    # Keep what precedes the footer; separators right before it go too.
    kept = blocks[: next(i for i, b in enumerate(blocks) if b[0] == cut)]
    while kept and (kept[-1][2] == "hr" or not _text(body[kept[-1][0] : kept[-1][1]])):
        if kept[-1][2] in ("img", "figure", "iframe", "video"):
            break
        kept.pop()
    if not kept:
        return body  # nothing but footer-like lines: better kept than an empty article
    return body[: kept[-1][1]] + body[end:]
