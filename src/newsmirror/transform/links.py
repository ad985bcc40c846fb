"""Links in article bodies: to the mirrored copy when the archive has the article.

A reader who cannot open the outlet can follow a link to another mirrored article; a link
to an article that is not mirrored goes to the outlet's canonical URL (tracking parameters
removed, unless the source keeps them).  Articles are recognised by their outlet id (DW
``a-63558196`` in any of its URL forms, BBC and VOA ids) or by their canonical URL, across
all sources.

Pure functions: the caller asks the catalog which keys are archived (``keys_in`` lists them)
and hands the answer to :func:`relink`.  Works on sanitized HTML (attributes double-quoted).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

from .. import urls
from ..model import ARCHIVE_REF

_A_TAG = re.compile(r"<a\b[^>]*>")
_HREF = re.compile(r'\shref="([^"]*)"')


def link_keys(url: str) -> tuple[str, ...]:
    """The keys an archived article could be found by for a link to ``url``.

    ``id:<outlet id>`` matches an article's ident, ``url:<canonical>`` its canonical link.
    """
    if not urls.scheme_ok(url):
        return ()
    try:
        forms = urls.LinkForms(url)
    except urls.BadURLError:
        return ()
    canon = f"url:{forms.canonical}"
    return (f"id:{forms.outlet_id}", canon) if forms.outlet_id else (canon,)


def _hrefs(body: str) -> list[str]:
    out = []
    for tag in _A_TAG.finditer(body):
        m = _HREF.search(tag.group(0))
        if m:
            out.append(html.unescape(m.group(1)))
    return out


def keys_in(body: str) -> set[str]:
    """Every key of every link in ``body``."""
    if "<a" not in body:
        return set()
    return {k for href in _hrefs(body) for k in link_keys(href)}


_ARCHIVE_LINK = re.compile(re.escape(ARCHIVE_REF) + r"(articles/[^\s\"'<>]*)")


def path_keys(body: str) -> set[str]:
    """``path:<archive path>`` of every article a body already links to by its archive
    path (a body read back from an archive file, see ``store.adopt``): what its rendering
    depends on when that file moves (a rotation)."""
    if ARCHIVE_REF not in body:
        return set()
    return {f"path:{html.unescape(m.group(1))}" for m in _ARCHIVE_LINK.finditer(body)}


def _outlet_form(url: str, keep_tracking: bool) -> str:
    """The link as published, minus tracking parameters; otherwise byte for byte."""
    if keep_tracking or "?" not in url:
        return url
    try:
        clean = urls.serialize(url)
    except urls.BadURLError:
        return url
    return clean if clean != urls.serialize(url, keep_tracking=True) else url


def relink(
    body: str,
    targets: Mapping[str, str],
    *,
    keep_tracking: bool = False,
    own: frozenset[str] = frozenset(),
) -> str:
    """Links to archived articles (``targets``: key -> archive path) pointed at the copies.

    A link to the article itself (``own``: its keys) stays on the outlet: it says where
    what the copy lacks can be had (a video, a live blog's later posts).
    """
    if "<a" not in body:
        return body

    def href(m: re.Match[str]) -> str:
        url = html.unescape(m.group(1))
        for key in link_keys(url):
            if key in own:
                break
            path = targets.get(key)
            if path is not None:
                return f' href="{ARCHIVE_REF}{html.escape(path)}"'
        new = _outlet_form(url, keep_tracking)
        return m.group(0) if new == url else f' href="{html.escape(new)}"'

    return _A_TAG.sub(lambda tag: _HREF.sub(href, tag.group(0), count=1), body)
