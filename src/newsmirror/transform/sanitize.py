"""The body allow-list: what HTML from a hostile feed may keep.

nh3 (ammonia) parses with html5ever and re-serializes, so whatever we keep is well-formed and
nothing outside the allow-list survives: no script, style, event handler, form, or URL scheme
other than http(s)/mailto.  The lists are chosen so that the bodies of the existing mirrors
(grey ``<small style="color: #999;">`` captions, ``rel="ArticleRef"`` links,
``<img width="100%">``) pass through byte for byte.

Relative URLs are made absolute against the article's link while sanitizing, so a mirrored
copy never points at the mirror's own host by accident.
"""

from __future__ import annotations

import contextvars
import logging
import re
from collections.abc import Sequence

import nh3

from .. import urls
from ..model import printable

log = logging.getLogger(__name__)

TAGS = frozenset(
    {
        "a",
        "abbr",
        "b",
        "blockquote",
        "br",
        "caption",
        "cite",
        "code",
        "col",
        "colgroup",
        "dd",
        "del",
        "details",
        "dfn",
        "div",
        "dl",
        "dt",
        "em",
        "figcaption",
        "figure",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "ins",
        "kbd",
        "li",
        "mark",
        "ol",
        "p",
        "picture",
        "pre",
        "q",
        "rp",
        "rt",
        "ruby",
        "s",
        "samp",
        "small",
        "source",
        "span",
        "strike",
        "strong",
        "sub",
        "summary",
        "sup",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "time",
        "tr",
        "tt",
        "u",
        "ul",
        "var",
        "wbr",
    }
)

ATTRIBUTES: dict[str, set[str]] = {
    "*": {"title", "lang", "dir", "style"},
    "a": {"href", "rel", "hreflang"},
    "img": {"src", "srcset", "sizes", "alt", "width", "height"},
    "source": {"srcset", "sizes", "type", "media"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align", "scope"},
    "col": {"span"},
    "ol": {"start", "type", "reversed"},
    "li": {"value"},
    "time": {"datetime"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "del": {"cite", "datetime"},
    "ins": {"cite", "datetime"},
}

# Presentation only: nothing that can position an element over the page or load a resource.
STYLE_PROPERTIES = frozenset(
    {
        "color",
        "background-color",
        "font-weight",
        "font-style",
        "text-align",
        "text-decoration",
        "font-size",
    }
)

URL_SCHEMES = frozenset({"http", "https", "mailto"})
_HAS_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_URL_ATTRS = frozenset({"href", "src", "cite"})
_SRCSET_ATTRS = frozenset({"srcset"})


def _absolutize(value: str, base: str) -> str | None:
    """Resolve a relative URL against ``base``; absolute URLs with an allowed scheme are
    left byte for byte, others refused (every URL attribute gets this one check: nh3 does
    not look at ``cite``)."""
    v = value.strip()
    m = _HAS_SCHEME.match(v)
    if m:
        return value if m.group(0)[:-1].lower() in URL_SCHEMES else None
    try:
        return str(urls.parse(v, base).href)
    except urls.BadURLError:
        return None


_STYLE_BAD = ("url(", "expression", "\\", "@", "<", "/*", "image(", "attr(", "var(")


def _style(value: str) -> str | None:
    """Keep allowed declarations; an entirely allowed value is kept byte for byte.

    nh3's own style filter re-serializes (``color: #999;`` becomes ``color:#999``), which
    would break the byte-exact archive format.
    """
    if any(bad in value.lower() for bad in _STYLE_BAD):
        return None
    decls = [d for d in value.split(";") if d.strip()]
    kept = []
    for decl in decls:
        name, sep, val = decl.partition(":")
        if sep and name.strip().lower() in STYLE_PROPERTIES and val.strip():
            kept.append(decl)
    if len(kept) == len(decls):
        return value
    return ";".join(d.strip() for d in kept) or None


def _srcset(value: str, base: str) -> str | None:
    out = []
    for candidate in value.split(","):
        parts = candidate.strip().split()
        if not parts:
            continue
        url = _absolutize(parts[0], base)
        if url is None or not urls.scheme_ok(url):
            continue
        out.append(" ".join([url, *parts[1:]]))
    return ", ".join(out) if out else None


# The article URL that relative links resolve against, for the call in progress.  A context
# variable lets one pre-built Cleaner (40% cheaper than building one per call) serve every
# article, thread- and task-safely.
_BASE: contextvars.ContextVar[str] = contextvars.ContextVar("sanitize_base")


DEFAULT_IFRAME_HOSTS = ("www.youtube.com", "www.youtube-nocookie.com", "player.vimeo.com")
_IFRAME_HOSTS: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar(
    "iframe_hosts", default=frozenset()
)


def _iframe_src(value: str) -> str | None:
    """An embed is kept only from an allowed host, over https."""
    try:
        u = urls.parse(value)
    except urls.BadURLError:
        return None
    if u.protocol != "https:" or str(u.hostname).lower() not in _IFRAME_HOSTS.get():
        return None
    return str(u.href)


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    if tag == "iframe" and attr == "src":
        return _iframe_src(_absolutize(value, _BASE.get()) or "")
    if attr in _URL_ATTRS:
        return _absolutize(value, _BASE.get())
    if attr in _SRCSET_ATTRS:
        return _srcset(value, _BASE.get())
    if attr == "style":
        return _style(value)
    return value


_CLEAN_CONTENT = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "iframe",
        "object",
        "embed",
        "svg",
        "math",
        "form",
        "textarea",
        "select",
        "button",
    }
)

_CLEANER = nh3.Cleaner(
    tags=set(TAGS),
    clean_content_tags=set(_CLEAN_CONTENT),
    attributes=ATTRIBUTES,
    attribute_filter=_attribute_filter,
    link_rel=None,
    url_schemes=set(URL_SCHEMES),
    strip_comments=True,
)


# For bodies with an iframe: the same, plus iframes whose src passes `_iframe_src`, sandboxed.
_IFRAME_CLEANER = nh3.Cleaner(
    tags=set(TAGS) | {"iframe"},
    clean_content_tags=set(_CLEAN_CONTENT - {"iframe"}),
    attributes={**ATTRIBUTES, "iframe": {"src", "width", "height", "title", "allowfullscreen"}},
    attribute_filter=_attribute_filter,
    link_rel=None,
    url_schemes=set(URL_SCHEMES),
    strip_comments=True,
)
# After cleaning: an iframe whose src was refused goes; a kept one is emptied (its content
# is raw text that another sanitizer, unwrapping the iframe, could read as markup) and gets
# its sandbox in a fixed order (nh3's own attribute setting orders them by hash).
_IFRAME = re.compile(r"<iframe\b([^>]*)>.*?</iframe>", re.S)
_IFRAME_OPEN = re.compile(r"<iframe", re.I)  # not lower(): a copy of every body
_IFRAME_EXTRA = (
    ' sandbox="allow-scripts allow-same-origin allow-popups" referrerpolicy="no-referrer"'
)


def _finish_iframe(m: re.Match[str]) -> str:
    attrs = m.group(1)
    return f"<iframe{attrs}{_IFRAME_EXTRA}></iframe>" if ' src="' in attrs else ""


# The same allow-list without a Python callback.  Only for bodies that `_needs_filter` has
# shown need no rewriting: nh3 releases the GIL while cleaning and must take it back for
# every callback, which costs up to the interpreter's switch interval (5 ms) per attribute
# whenever another thread runs Python (measured: 74 us -> 14 ms per 4 KB body).
_FAST_CLEANER = nh3.Cleaner(
    tags=set(TAGS),
    clean_content_tags=set(_CLEAN_CONTENT),
    attributes=ATTRIBUTES,
    link_rel=None,
    url_schemes=set(URL_SCHEMES),
    strip_comments=True,
)

# Every attribute value that the filter would look at, found in the raw text by scanning
# for "=" (rare in Chinese prose, so this is fast) and looking at the name before it.  The
# scan is deliberately broader than HTML's grammar (it also matches inside text or
# `data-src=`): a false match only sends the body down the slow, filtering path.
_VALUE = re.compile(r"""=\s*("[^"]*"|'[^']*'|[^\s>]*)""")
_NAME_BEFORE = re.compile(r"(?i)(href|src|srcset|cite|style)$")
_SPACE = frozenset(" \t\n\r\f\v")
_ABSOLUTE = re.compile(r"(?i)https?://")
# A style value made only of allowed properties and plain characters: no entity (`&`), no
# escape, no parenthesis, so html5ever's decoding cannot turn it into something else.
_PLAIN_STYLE = re.compile(
    r"(?i)\s*(?:(?:" + "|".join(sorted(STYLE_PROPERTIES)) + r")\s*:[#\w\s.,%+-]*;?\s*)*"
)


def _needs_filter(html: str) -> bool:
    """True unless every URL is absolute http(s) and every style is plain and allowed.

    Every "=" is looked at on its own: the raw text need not follow HTML's grammar, and a
    value matched as quoted (``'><img src=x …'``) must not hide the attributes inside it.
    """
    at = html.find("=")
    while at >= 0:
        # The attribute name ends at the last non-space before "=", however many spaces
        # stand between (``style        =`` once passed verbatim).
        end = at
        while end > 0 and html[end - 1] in _SPACE:
            end -= 1
        before = _NAME_BEFORE.search(html, max(0, end - 6), end)
        if before is not None:
            m = _VALUE.match(html, at)
            name, value = before.group(1).lower(), m.group(1).strip("\"'") if m else ""
            if name == "style":
                if not _PLAIN_STYLE.fullmatch(value):
                    return True
            elif name == "srcset":
                if not all(_ABSOLUTE.match(c.strip()) for c in value.split(",") if c.strip()):
                    return True
            elif not _ABSOLUTE.match(value.strip()):
                return True
        at = html.find("=", at + 1)
    return False


def sanitize(html: str, base_url: str, iframe_hosts: Sequence[str] = DEFAULT_IFRAME_HOSTS) -> str:
    """The body with only allowed tags, attributes and URL schemes, URLs made absolute,
    and no control characters (character references included).

    Iframes survive only from ``iframe_hosts`` (https, sandboxed, no referrer).
    """
    if html.count("<") > MAX_DEPTH and nesting_depth(html) > MAX_DEPTH:
        # html5ever's cost grows with the square of the nesting (150,000 nested <div>s:
        # a minute of CPU); no article nests that deep, so such a body keeps its text only.
        log.warning("a body nested more than %d elements deep kept as text", MAX_DEPTH)
        html = "<p>" + " ".join(_ANY_TAG.sub(" ", html).split()) + "</p>"
    # printable() after: controls, and character references the parser decoded to them.
    # A lone surrogate makes the parser's encoding of its input fail: printable() first
    # then (one scan fewer for every other body).
    try:
        clean = _sanitize(html, base_url, iframe_hosts)
    except UnicodeEncodeError:
        clean = _sanitize(printable(html), base_url, iframe_hosts)
    return printable(clean)


MAX_DEPTH = 512
_TAG_EDGE = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)[^>]*?(/?)>")
_ANY_TAG = re.compile(r"<[^>]*>?")
_VOID = frozenset(
    "area base br col embed hr img input link meta param source track wbr".split()  # noqa: SIM905
)


def nesting_depth(html: str) -> int:
    """The deepest element nesting in ``html`` (a linear scan of its tags)."""
    depth = deepest = 0
    for m in _TAG_EDGE.finditer(html):
        if m.group(1):
            depth = max(0, depth - 1)
        elif not m.group(3) and m.group(2).lower() not in _VOID:
            depth += 1
            deepest = max(deepest, depth)
    return deepest


def _sanitize(html: str, base_url: str, iframe_hosts: Sequence[str]) -> str:
    if iframe_hosts and _IFRAME_OPEN.search(html):
        base, hosts = _BASE.set(base_url), _IFRAME_HOSTS.set(frozenset(iframe_hosts))
        try:
            return _IFRAME.sub(_finish_iframe, _IFRAME_CLEANER.clean(html))
        finally:
            _BASE.reset(base)
            _IFRAME_HOSTS.reset(hosts)
    if not _needs_filter(html):
        return _FAST_CLEANER.clean(html)
    token = _BASE.set(base_url)
    try:
        return _CLEANER.clean(html)
    finally:
        _BASE.reset(token)
