"""Image URLs rewritten when an article is stored: through an image proxy, or to a copy.

Readers behind the wall often cannot reach an outlet's image host; a proxy they can reach
serves the image instead, or the archive holds a copy of it.  Proxy templates are URL
patterns with a placeholder:

- ``{url}``: the image URL, escaped for use inside a query string;
- ``{url_noscheme}``: the same without ``https://`` (the community's weserv habit:
  ``https://images.weserv.nl/?url=static.dw.com/image/1_303.jpg``).

Only characters that would break the proxy's query (``&``, ``#``, ``%``, ``+``, space,
non-ASCII) are escaped, so plain image URLs look exactly as in the existing mirrors.  The
first template is used; the rest are the fallbacks an operator switches to when one gets
blocked.  An image already in the first template's form is left alone; one served through
another known proxy is unwrapped and proxied through the first, which is what lets
``rewrite-images`` move a whole archive off a blocked proxy.

In copy mode an image whose download succeeded is referenced as an archive file (resolved
relative to the article file when it is rendered); the others keep the proxied URL.

Works on sanitized HTML (nh3's serialization: attributes double-quoted, ``&`` as ``&amp;``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from urllib.parse import quote, unquote, urlsplit

from ..model import ARCHIVE_REF

DEFAULT_PROXY = "https://images.weserv.nl/?url={url_noscheme}"
# Proxies known to wrap images in the mirrors of this community, recognised (and unwrapped)
# even when the config no longer lists them.
KNOWN_PROXIES = (
    DEFAULT_PROXY,
    "https://images.weserv.nl/?url={url}",
    "https://wsrv.nl/?url={url_noscheme}",
    "https://wsrv.nl/?url={url}",
)

_IMG_TAG = re.compile(r"<(img|source)\b[^>]*>")
_ATTR = re.compile(r'\s(src|srcset)="([^"]*)"')
_RESPONSIVE = re.compile(r'\s(?:srcset|sizes)="[^"]*"')
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_SAFE = "/:@!$'()*,;=?~-._"


def proxy_url(url: str, template: str) -> str:
    """``url`` as served through ``template``."""
    noscheme = _SCHEME.sub("", url)
    return template.replace("{url_noscheme}", quote(noscheme, safe=_SAFE)).replace(
        "{url}", quote(url, safe=_SAFE)
    )


def proxy_hosts(templates: Sequence[str]) -> frozenset[str]:
    """The hosts of the configured proxies: images there are proxied already."""
    return frozenset(
        (urlsplit(t.replace("{url_noscheme}", "x").replace("{url}", "x")).hostname or "")
        for t in templates
    )


def _unwrap(url: str, template: str) -> str | None:
    noscheme = "{url_noscheme}" in template
    placeholder = "{url_noscheme}" if noscheme else "{url}"
    if placeholder not in template:
        return None
    before, _, after = template.partition(placeholder)
    if "{url" in before or "{url" in after:
        return None
    if not (url.startswith(before) and url.endswith(after)) or len(url) <= len(before) + len(after):
        return None
    inner = unquote(url[len(before) : len(url) - len(after)])
    if noscheme and not _SCHEME.match(inner):
        inner = "https://" + inner
    return inner if inner.lower().startswith(("http://", "https://")) else None


def unproxy(url: str, templates: Sequence[str] = ()) -> str | None:
    """The image URL behind a proxied one, or None when no known template made it."""
    for template in (*templates, *KNOWN_PROXIES):
        original = _unwrap(url, template)
        if original is not None:
            return original
    return None


class ImageRewriter:
    """Rewrites one body's image URLs; built once per source and pass.

    ``templates``: proxy templates, first one used (empty: leave URLs as given);
    ``assets``: image URL -> archive path of its copy (copy mode).
    """

    def __init__(self, templates: Sequence[str], assets: Mapping[str, str] | None = None):
        self.templates = tuple(templates)
        self.template = self.templates[0] if self.templates else None
        self.hosts = proxy_hosts((*self.templates, *KNOWN_PROXIES))
        self.assets = assets or {}

    def url(self, url: str) -> str:
        """One image URL as it is stored."""
        if not url.lower().startswith(("http://", "https://")):
            return url
        first = _unwrap(url, self.template) if self.template else None
        original = first or unproxy(url, self.templates) or url
        local = self.assets.get(original)
        if local is not None:
            return ARCHIVE_REF + local
        if self.template is None or first is not None:
            return url
        if original != url:
            return proxy_url(original, self.template)
        if (urlsplit(url).hostname or "") in self.hosts:
            return url  # on a proxy, in a form we cannot unwrap: leave it
        return proxy_url(url, self.template)

    def _srcset(self, value: str) -> str:
        out = []
        for candidate in value.split(","):
            parts = candidate.strip().split()
            if parts:
                out.append(" ".join([self.url(parts[0]), *parts[1:]]))
        return ", ".join(out)

    def _tag(self, m: re.Match[str]) -> str:
        tag = m.group(0)
        copied = False

        def attr(a: re.Match[str]) -> str:
            nonlocal copied
            value = html.unescape(a.group(2))
            if a.group(1) == "srcset":
                new = self._srcset(value)
            else:
                new = self.url(value)
                copied = new.startswith(ARCHIVE_REF)
            return f' {a.group(1)}="{html.escape(new)}"'

        tag = _ATTR.sub(attr, tag)
        if copied and m.group(1) == "img":
            # A browser prefers srcset over src and never falls back: with the image
            # copied, the remote candidates would only be a way to lose it.
            tag = _RESPONSIVE.sub("", tag)
        return tag

    def body(self, body: str) -> str:
        """Every ``img``/``source`` ``src`` and ``srcset`` rewritten."""
        if (self.template is None and not self.assets) or (
            "<img" not in body and "<source" not in body
        ):
            return body
        return _IMG_TAG.sub(self._tag, body)


def rewrite_images(body: str, templates: Sequence[str]) -> str:
    """Every ``img``/``source`` ``src`` and ``srcset`` through the first template."""
    return ImageRewriter(templates).body(body)


def image_sources(body: str, templates: Sequence[str] = ()) -> list[str]:
    """The original URLs of the body's ``<img src>`` images (proxies unwrapped), in order.

    These are what copy mode downloads; ``srcset`` candidates are not (see ``_tag``).
    """
    out: dict[str, None] = {}
    for m in _IMG_TAG.finditer(body):
        if m.group(1) != "img":
            continue
        for a in _ATTR.finditer(m.group(0)):
            if a.group(1) == "src":
                url = html.unescape(a.group(2))
                if url.lower().startswith(("http://", "https://")):
                    out[unproxy(url, templates) or url] = None
    return list(out)
