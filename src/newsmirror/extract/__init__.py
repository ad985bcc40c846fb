"""Full text from article pages.

::

    bytes ──decode_html──▶ tree ──unlazy, absolute links──▶ extractor ──▶ Page ──render_body──▶ body
                                   metadata (ld+json, meta)   │
                                                              ├─ outlet rules (outlets.py)
                                                              ├─ BBC's __NEXT_DATA__ (bbc.py)
                                                              └─ generic: trafilatura + pictures

Pure: bytes and a URL in, a :class:`~newsmirror.extract.blocks.Page` out.  Fetching and
deciding which articles need their page is :mod:`newsmirror.sources.fulltext`'s job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ..errors import ParseError
from .blocks import Image, Page, block_text, mark_breaks, render_body
from .document import Meta, absolute_links, base_url, decode_html, metadata, parse_html, unlazy

__all__ = ["ExtractError", "Image", "Page", "extract", "extractors", "render_body"]

log = logging.getLogger(__name__)


class ExtractError(ParseError):
    """No article could be taken from a page (the message names the page and why)."""


# An extractor: the prepared tree, the page URL and its metadata in, a Page out.  It raises
# ValueError (or a subclass) when the page is not what it expects.
Extractor = Callable[[Any, str, Meta], Page]


def extractors() -> dict[str, Extractor]:
    """Every extractor by the name a source's ``extractor`` setting uses."""
    # Imported here: trafilatura takes a while to load, and only full-text sources need it.
    from . import generic
    from .bbc import extract as bbc
    from .outlets import RULES

    out: dict[str, Extractor] = {"generic": generic.extract, "bbc": bbc}
    for name, rules in RULES.items():
        out[name] = rules.extract
    return out


def prepare(
    raw: bytes, url: str, content_type: str = "", tz_hours: float = 0, links: bool = True
) -> tuple[Any, Meta]:
    """The decoded tree with real image URLs and absolute links, and the page's metadata.

    ``links=False`` leaves ``<a href>`` as the page wrote them, for an extractor that
    resolves only the links it keeps (a page has hundreds; an article, a few).
    """
    root = parse_html(decode_html(raw, content_type))
    mark_breaks(root)
    unlazy(root, url)
    if links:
        absolute_links(root, base_url(root, url))
    return root, metadata(root, url, tz_hours)


def _has_text(page: Page) -> bool:
    """Whether any text block of the page has text (stops at the first)."""
    return any(isinstance(b, str) and block_text(b) for b in page.blocks)


def extract(raw: bytes, url: str, content_type: str = "", extractor: str = "generic") -> Page:
    """The article on one page; raises :class:`ExtractError` naming the page and the reason.

    An outlet's adapter that finds no article (the outlet changed its layout, or the page
    is an older one) hands the page to the generic extractor: the article is archived, and
    ``-v`` says which adapter missed.  Only when no extractor finds text is it an error.
    """
    found = extractors()
    chosen = found.get(extractor)
    if chosen is None:
        raise ExtractError(f"{url}: no extractor named {extractor!r}")
    generic = found["generic"]
    root, meta = prepare(raw, url, content_type, links=chosen is not generic)
    page: Page | None = None
    why = ""
    try:
        page = chosen(root, url, meta)
    except ValueError as e:
        why = str(e)
    if page is not None and not _has_text(page):
        page, why = None, f"the {extractor} extractor found no article text"
    if page is None and chosen is not generic:
        log.debug(
            "%s: the %s extractor found nothing (%s); generic extractor used", url, extractor, why
        )
        # The adapter may have cut parts of the tree away: the generic one starts afresh.
        root, meta = prepare(raw, url, content_type, links=False)
        try:
            page = generic(root, url, meta)
        except ValueError as e:
            why = f"{why}; generic extractor: {e}"
        if page is not None and not _has_text(page):
            page, why = None, f"{why}; generic extractor: no article text"
    if page is None:
        raise ExtractError(f"{url}: {why}")
    if not page.canonical and meta.canonical:
        page = replace(page, canonical=meta.canonical)
    return page
