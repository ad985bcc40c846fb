"""The article file, byte for byte as the existing mirror repositories write it::

    <!--{date_ms}-->
    [{title}]({url})
    ------

    {body}

The body is the HTML with every line trimmed (JavaScript's ``String.prototype.trim`` white
space, which is what the original tooling used) and the lines joined with nothing between.
"""

from __future__ import annotations

import hashlib
import html
import posixpath
import re
from collections.abc import Callable
from urllib.parse import quote

from ..model import ARCHIVE_REF, Article, one_line

_DATE_LINE = re.compile(rb"<!--(\d{1,15})-->")
_UNESCAPE = re.compile(r"\\([\\\[\]<>`])")
_REF = re.compile(re.escape(ARCHIVE_REF) + r"([^\s\"'<>,]*)")

# JavaScript's trim() set: WhiteSpace and LineTerminator of ECMA-262.
JS_WHITESPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)


def join_lines(html: str) -> str:
    """Every line stripped of leading/trailing white space, joined with nothing."""
    return "".join(line.strip(JS_WHITESPACE) for line in html.split("\n"))


def clean_title(title: str) -> str:
    """Title as stored: one line of printable text, trimmed (a carriage return or a form
    feed no longer starts a Markdown heading or list in the file)."""
    return " ".join(one_line(title).split("\n")).strip(JS_WHITESPACE)


def escape_link_text(text: str) -> str:
    """Markdown link text that cannot end the link early or open HTML.

    Titles without these characters (nearly all news titles) are unchanged, which keeps the
    files byte-compatible with the existing mirrors.
    """
    out = []
    for ch in text:
        if ch in "\\[]<>`":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def link_destination(url: str) -> str:
    """A URL safe inside ``( )``: parentheses, backslashes (a final one escaped the closing
    parenthesis) and white space percent-encoded."""
    return (
        url.replace("\\", "%5C")
        .replace("(", "%28")
        .replace(")", "%29")
        .replace(" ", "%20")
        .replace("\n", "")
        .replace("\r", "")
    )


def relative(target: str, path: str) -> str:
    """Archive path ``target`` as seen from the file at archive path ``path``."""
    return posixpath.relpath(target, posixpath.dirname(path) or ".")


# Where a target lives when it is not in the repository of the file linking to it:
# ``away(target, origin)`` -> the target's absolute URL, or None when both are together.
Away = Callable[[str, str], str | None]


def localize(body: str, path: str | None, away: Away | None = None) -> str:
    """Archive references in ``body`` made relative to the file at ``path``.

    Relative links work wherever the archive is put: GitHub, a static site under any
    prefix, a folder on a USB stick.  A target in another repository (a rotated archive's
    period repositories, see ``rotate.py``) gets the absolute URL ``away`` gives.
    """
    if ARCHIVE_REF not in body:
        return body
    if path is None:
        raise ValueError("a body with archive references needs its file's path to render")

    def ref(m: re.Match[str]) -> str:
        target = m.group(1)
        url = away(html.unescape(target), path) if away is not None else None
        return html.escape(url) if url else relative(target, path)

    return _REF.sub(ref, body)


def away_url(base: str, target: str) -> str:
    """``target`` (an archive path) under the URL ``base`` ends with a slash."""
    return base + quote(target, safe="/")


def render_article(article: Article, path: str | None = None, away: Away | None = None) -> bytes:
    """The complete file for one article, to be written at archive path ``path``."""
    title = escape_link_text(clean_title(article.title))
    text = (
        f"<!--{article.date_ms}-->\n"
        f"[{title}]({link_destination(article.url)})\n"
        "------\n\n"
        f"{join_lines(localize(article.body, path, away))}\n"
    )
    return text.encode("utf-8")


_UNDER_GIL_RELEASE = 2047  # bytes


def file_hash(rendered: bytes) -> str:
    """What decides "changed": the file's bytes after its date line.

    Two renderings with the same hash produce the same file but for the date, so a feed
    that bumps an item's date on every fetch does not rewrite it each hour, and a file
    adopted from an existing archive is recognised when the feed still carries it.
    """
    cut = rendered.find(b"\n")
    body = memoryview(rendered)[cut + 1 :] if cut >= 0 else b""
    h = hashlib.sha256()
    # In pieces hashlib hashes without releasing the GIL (it does from 2,048 bytes): the
    # event loop hashes every file of a pass, and each release handed the GIL to a thread
    # writing files and waited to take it back, longer than the 3 µs hash (a pass over
    # 10,000 articles: ~7 % faster, the process's CPU 8 % less).
    for start in range(0, len(body), _UNDER_GIL_RELEASE):
        h.update(body[start : start + _UNDER_GIL_RELEASE])
    return h.hexdigest()


def parse_article_file(data: bytes) -> tuple[int, str, str, str] | None:
    """``(date_ms, title, url, body)`` of an article file; None if it is not one."""
    first, _, rest = data.partition(b"\n")
    m = _DATE_LINE.fullmatch(first)
    link_line, _, rest = rest.partition(b"\n")
    rule, _, rest = rest.partition(b"\n")
    blank, _, body = rest.partition(b"\n")
    if not m or rule != b"------" or blank != b"":
        return None
    try:
        line = link_line.decode("utf-8")
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    cut = line.rfind("](")
    if not (line.startswith("[") and line.endswith(")")) or cut < 0:
        return None
    return int(m.group(1)), _UNESCAPE.sub(r"\1", line[1:cut]), line[cut + 2 : -1], text
