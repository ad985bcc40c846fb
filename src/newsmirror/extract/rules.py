"""Declarative extractors: an outlet described by CSS selectors, not code.

A :class:`Rules` says where an outlet's article is on its pages (which elements form the
body, which to drop, where the cover picture, the date and the authors are, which lines
are furniture).  Most outlets need nothing else; see :mod:`newsmirror.extract.outlets`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from lxml.cssselect import CSSSelector

from .blocks import Block, BlockWriter, Page, block_text, text_of
from .document import Meta, clean_author, parse_date


@cache
def select(selector: str) -> CSSSelector:
    """A compiled CSS selector (HTML rules: tag names are case-insensitive)."""
    return CSSSelector(selector, translator="html")


class RulesMismatch(ValueError):
    """The page does not have the shape the rules describe (names the selectors)."""


def _outermost(elements: list[Any]) -> list[Any]:
    """Matches not nested in another match, in document order."""
    chosen = set(elements)
    return [e for e in elements if not any(a in chosen for a in e.iterancestors())]


def _inside(el: Any, containers: list[Any]) -> bool:
    return any(el is c or c in el.iterancestors() for c in containers)


@dataclass(frozen=True, slots=True)
class Rules:
    """Where one outlet keeps its article.

    ``body``: alternatives tried in order; the first that matches anything wins, and all
    its matches (a selector group such as ``".chapo, .body"``) form the body in page order.
    ``drop``: removed first.  ``paragraphs``: elements each of which is one paragraph
    although not a ``<p>``.  ``lead``: a cover picture outside the body.  ``published``,
    ``modified``: elements whose ``datetime`` (or text) is the date; ``authors``: elements
    whose text names an author.  ``furniture``: a text block matching one of these regular
    expressions is not part of the article.  ``tz_hours``: the outlet's zone, for dates
    written without one.  Page metadata (ld+json, ``<meta>``) fills what the rules lack.
    """

    name: str
    body: tuple[str, ...]
    drop: tuple[str, ...] = ()
    paragraphs: tuple[str, ...] = ()
    lead: tuple[str, ...] = ()
    published: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    furniture: tuple[str, ...] = ()
    tz_hours: float = 0

    def extract(self, root: Any, page_url: str, meta: Meta) -> Page:
        """The article of a page of this outlet; raises :class:`RulesMismatch`."""
        # Dates and authors first: they often sit in furniture that is dropped.
        published = self._date(root, self.published) or meta.published_ms
        modified = self._date(root, self.modified) or meta.modified_ms
        authors = self._authors(root) or meta.authors
        for sel in self.drop:
            for el in select(sel)(root):
                if el.getparent() is not None:
                    el.drop_tree()
        body: list[Any] = []
        for sel in self.body:
            body = _outermost(select(sel)(root))
            if body:
                break
        if not body:
            raise RulesMismatch(f"{self.name} rules: nothing matches {' / '.join(self.body)}")
        for sel in self.paragraphs:
            for el in select(sel)(root):
                el.tag = "p"
        writer = BlockWriter()
        for sel in self.lead:
            found = [
                e
                for e in select(sel)(root)
                if not any(e is b or b in e.iterancestors() for b in body)
            ]
            if found:
                writer.run(found[0])
                break
        for el in body:
            writer.run(el)
        blocks = self._without_furniture(writer.blocks)
        return Page(
            blocks=tuple(blocks),
            title=meta.title,
            published_ms=published,
            modified_ms=modified,
            authors=authors,
            canonical=meta.canonical,
        )

    def _without_furniture(self, blocks: list[Block]) -> list[Block]:
        if not self.furniture:
            return blocks
        patterns = [re.compile(p) for p in self.furniture]
        return [
            b
            for b in blocks
            if not (isinstance(b, str) and any(p.search(block_text(b)) for p in patterns))
        ]

    def _date(self, root: Any, selectors: tuple[str, ...]) -> int | None:
        for sel in selectors:
            for el in select(sel)(root):
                ms = parse_date(el.get("datetime") or el.get("content") or "", self.tz_hours)
                ms = ms or parse_date(text_of(el), self.tz_hours)
                if ms:
                    return ms
        return None

    def _authors(self, root: Any) -> tuple[str, ...]:
        names: list[str] = []
        for sel in self.authors:
            names += [text_of(el) for el in select(sel)(root)]
        cleaned = (clean_author(n) for n in names)
        return tuple(dict.fromkeys(n for n in cleaned if n))
