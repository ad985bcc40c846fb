"""URL handling: WHATWG serialization (ada-url), tracking parameters, outlet ids.

Links are serialized exactly as a browser's ``new URL(link).href`` does, because the article
files of the existing mirrors were written that way and must stay byte-compatible.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import unquote

import ada_url

from .errors import NewsmirrorError

_TRACKING_EXACT = frozenset({"maca", "at_medium", "at_campaign"})
_TRACKING_PREFIX = ("utm_",)


class BadURLError(NewsmirrorError, ValueError):
    """The string is not a URL ada-url can parse (message names the value)."""


def parse(url: str, base: str | None = None) -> ada_url.URL:
    """Parse ``url`` (relative to ``base`` if given) or raise :class:`BadURLError`."""
    try:
        return ada_url.URL(url.strip(), base) if base else ada_url.URL(url.strip())
    except ValueError as e:
        raise BadURLError(f"not a valid URL: {url!r}") from e


def is_tracking_param(name: str) -> bool:
    """True for query parameters that only track the reader (``utm_*``, ``maca``, ...)."""
    n = unquote(name).lower()
    return n in _TRACKING_EXACT or n.startswith(_TRACKING_PREFIX)


def strip_tracking(u: ada_url.URL) -> None:
    """Remove tracking parameters in place, keeping the others byte for byte."""
    search = u.search
    if not search:
        return
    parts = [p for p in search[1:].split("&") if p]
    kept = [p for p in parts if not is_tracking_param(p.split("=", 1)[0])]
    if len(kept) != len(parts):
        u.search = "&".join(kept)


def serialize(url: str, base: str | None = None, *, keep_tracking: bool = False) -> str:
    """The WHATWG ``href`` of ``url``, tracking parameters removed unless ``keep_tracking``."""
    u = parse(url, base)
    if not keep_tracking:
        strip_tracking(u)
    return str(u.href)


def canonical(url: str, base: str | None = None) -> str:
    """The identity form of a link: WHATWG-serialized, no tracking, no fragment."""
    u = parse(url, base)
    strip_tracking(u)
    u.hash = ""
    return str(u.href)


class LinkForms:
    """The three forms of one item link, from a single parse.

    ``absolute``: resolved, WHATWG-serialized, verbatim otherwise; ``shown``: what the
    article file links to (tracking removed unless kept); ``canonical``: the identity form
    (no tracking, no fragment); ``host``: its host name.
    """

    __slots__ = ("absolute", "canonical", "host", "outlet_id", "shown")

    def __init__(self, link: str, base: str | None = None, *, keep_tracking: bool = False):
        u = parse(link, base)
        self.absolute = str(u.href)
        self.host = str(u.hostname)
        self.outlet_id = outlet_id_of(self.host, str(u.pathname))
        strip_tracking(u)
        clean = str(u.href)
        self.shown = self.absolute if keep_tracking else clean
        self.canonical = clean.split("#", 1)[0]


def scheme_ok(url: str) -> bool:
    """Only http and https are ever fetched or linked as article URLs."""
    return url.lower().startswith(("http://", "https://"))


# Outlet ids that stay the same when a story is republished under an edited slug.
_OUTLET_IDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("dw.com", re.compile(r"/((?:a|live|video)-\d+)(?:$|[/?#])")),  # article, live blog, video
    ("dw.com", re.compile(r"^/api/detail/article/(\d+)(?:$|[/?#])")),  # api.dw.com links
    ("bbc.com", re.compile(r"/articles/([a-z0-9]+)(?:$|[/?#])")),
    ("bbc.co.uk", re.compile(r"/articles/([a-z0-9]+)(?:$|[/?#])")),
    ("voachinese.com", re.compile(r"/a/(?:[^/?#]*/)?(\d+)\.html")),
)

_KEY_OK = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")


def outlet_id(url: str) -> str | None:
    """The outlet's own article id found in a known outlet's URL, e.g. ``a-63558196`` for DW."""
    try:
        u = parse(url)
    except BadURLError:
        return None
    return outlet_id_of(str(u.hostname), str(u.pathname))


def outlet_id_of(host: str, path: str) -> str | None:
    """:func:`outlet_id` for an already parsed URL's host and path."""
    host = host.lower()
    for suffix, pattern in _OUTLET_IDS:
        if host == suffix or host.endswith("." + suffix):
            m = pattern.search(path)
            if m:
                value = m.group(1).replace("/", "-")
                return f"a-{value}" if suffix == "dw.com" and value.isdigit() else value
    return None


def short_hash(text: str) -> str:
    """A short stable hash used as a file key when the outlet gives no usable id."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def file_key(outlet: str | None, canonical_url: str) -> str:
    """A file-name-safe key: the outlet id when it is already safe, else a hash.

    Keys never contain a path separator or start with a dot, so a hostile id cannot make a
    file escape the archive folder, and they stay distinct files on every system people
    check archives out on.
    """
    if outlet and _KEY_OK.fullmatch(outlet) and ".." not in outlet and _portable(outlet):
        return outlet
    return short_hash(outlet or canonical_url)


# Names Windows refuses for a file whatever its extension (people check archives out there).
_RESERVED = frozenset(
    ["con", "prn", "aux", "nul"] + [f"{p}{i}" for p in ("com", "lpt") for i in range(1, 10)]
)


def _portable(key: str) -> bool:
    """A key whose files cannot collide with another key's: not a Windows device name, no
    trailing dot, and no second-script suffix (``k.hant`` would be ``k``'s Traditional
    file, ``k.hant.md``)."""
    lower = key.lower()
    if lower.split(".", 1)[0] in _RESERVED or lower.endswith("."):
        return False
    return not lower.endswith((".hans", ".hant"))


def identity(guid: str, link: LinkForms) -> tuple[str, str]:
    """``(ident, key)`` for an item: outlet id from the link, else guid, else canonical link."""
    canon = link.canonical
    if link.outlet_id:
        return f"id:{link.outlet_id}", file_key(link.outlet_id, canon)
    guid = guid.strip()
    if guid and guid != link.absolute:
        if scheme_ok(guid):
            try:
                gcanon = canonical(guid)
                if gcanon != canon:
                    return f"url:{gcanon}", file_key(None, gcanon)
            except BadURLError:
                pass
            return f"url:{canon}", file_key(None, canon)
        return f"id:{guid}", file_key(guid, canon)
    return f"url:{canon}", file_key(None, canon)
