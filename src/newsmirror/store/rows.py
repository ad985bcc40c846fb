"""The rows the catalog takes and gives: plain records, no database in them."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from ..model import Article

FIRST_NUMBER = 0xFFFFF - 1  # duty-machine: the first file of an empty source


@dataclass(frozen=True, slots=True)
class NewArticle:
    """An article to insert: where its file is, its number, the file's hash, the keys its
    rendering depends on, its alternate path, and its body as packed beforehand (or None)."""

    article: Article
    path: str
    number: int | None
    hash: str
    refs: Collection[str] = ()
    alt_path: str | None = None
    packed: str | bytes | None = None


@dataclass(frozen=True, slots=True)
class Known:
    """What the catalog remembers of one article, enough to decide new/changed/unchanged."""

    article_id: int
    ident: str
    content_hash: str
    path: str
    number: int | None


@dataclass(frozen=True, slots=True)
class SourceState:
    """A source's row: HTTP validators, health and numbering."""

    id: str
    name: str
    etag: str | None = None
    last_modified: str | None = None
    last_attempt_ms: int | None = None
    last_success_ms: int | None = None
    last_error: str | None = None
    last_error_ms: int | None = None
    failures: int = 0
    last_changed_ms: int | None = None
    next_number: int = FIRST_NUMBER
    articles: int = 0
    next_due_ms: int | None = None
    failing_since_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Stored:
    """An archived article as last given by its outlet, to be rendered again."""

    known: Known
    article: Article
    alt_path: str | None


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One line of a source list."""

    path: str
    title: str
    date_ms: int
    number: int | None
    home: str | None = None  # the period repository holding it (rotated), None: here
