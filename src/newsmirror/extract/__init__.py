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

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ..errors import ParseError
from .blocks import Image, Page, mark_breaks, render_body
from .document import Meta, absolute_links, decode_html, metadata, parse_html, unlazy

__all__ = ["ExtractError", "Image", "Page", "extract", "extractors", "render_body"]


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


def prepare(raw: bytes, url: str, content_type: str = "", tz_hours: float = 0) -> tuple[Any, Meta]:
    """The decoded tree with real image URLs and absolute links, and the page's metadata."""
    root = parse_html(decode_html(raw, content_type))
    mark_breaks(root)
    unlazy(root, url)
    absolute_links(root, url)
    return root, metadata(root, url, tz_hours)


def extract(raw: bytes, url: str, content_type: str = "", extractor: str = "generic") -> Page:
    """The article on one page; raises :class:`ExtractError` naming the page and the reason."""
    chosen = extractors().get(extractor)
    if chosen is None:
        raise ExtractError(f"{url}: no extractor named {extractor!r}")
    root, meta = prepare(raw, url, content_type)
    try:
        page = chosen(root, url, meta)
    except ValueError as e:
        raise ExtractError(f"{url}: {e}") from e
    if not page.text().strip():
        raise ExtractError(f"{url}: the {extractor} extractor found no article text")
    if not page.canonical and meta.canonical:
        page = replace(page, canonical=meta.canonical)
    return page
