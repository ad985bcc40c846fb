"""Image URLs rewritten through an image proxy when an article is stored.

Readers behind the wall often cannot reach an outlet's image host; a proxy they can reach
serves the image instead.  Templates are URL patterns with a placeholder:

- ``{url}``: the image URL, escaped for use inside a query string;
- ``{url_noscheme}``: the same without ``https://`` (the community's weserv habit:
  ``https://images.weserv.nl/?url=static.dw.com/image/1_303.jpg``).

Only characters that would break the proxy's query (``&``, ``#``, ``%``, ``+``, space,
non-ASCII) are escaped, so plain image URLs look exactly as in the existing mirrors.  An
image already served by one of the configured proxies is left alone.  The first template is
used; the rest are the fallbacks an operator switches to when one gets blocked.

Works on sanitized HTML (nh3's serialization: attributes double-quoted, ``&`` as ``&amp;``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from urllib.parse import quote, urlsplit

DEFAULT_PROXY = "https://images.weserv.nl/?url={url_noscheme}"

_IMG_TAG = re.compile(r"<(?:img|source)\b[^>]*>")
_ATTR = re.compile(r'\s(src|srcset)="([^"]*)"')
_SAFE = "/:@!$'()*,;=?~-._"


def proxy_url(url: str, template: str) -> str:
    """``url`` as served through ``template``."""
    noscheme = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", "", url)
    return template.replace("{url_noscheme}", quote(noscheme, safe=_SAFE)).replace(
        "{url}", quote(url, safe=_SAFE)
    )


def proxy_hosts(templates: Sequence[str]) -> frozenset[str]:
    """The hosts of the configured proxies: images there are proxied already."""
    return frozenset(
        (urlsplit(t.replace("{url_noscheme}", "x").replace("{url}", "x")).hostname or "")
        for t in templates
    )


def _rewrite(url: str, template: str, hosts: frozenset[str]) -> str:
    if not url.lower().startswith(("http://", "https://")):
        return url
    if (urlsplit(url).hostname or "") in hosts:
        return url
    return proxy_url(url, template)


def _srcset(value: str, template: str, hosts: frozenset[str]) -> str:
    out = []
    for candidate in value.split(","):
        parts = candidate.strip().split()
        if parts:
            out.append(" ".join([_rewrite(parts[0], template, hosts), *parts[1:]]))
    return ", ".join(out)


def rewrite_images(body: str, templates: Sequence[str]) -> str:
    """Every ``img``/``source`` ``src`` and ``srcset`` through the first template."""
    if not templates or ("<img" not in body and "<source" not in body):
        return body
    template, hosts = templates[0], proxy_hosts(templates)

    def attr(m: re.Match[str]) -> str:
        value = html.unescape(m.group(2))
        new = (_srcset if m.group(1) == "srcset" else _rewrite)(value, template, hosts)
        return f' {m.group(1)}="{html.escape(new)}"'

    return _IMG_TAG.sub(lambda tag: _ATTR.sub(attr, tag.group(0)), body)
