"""The search index in PostgreSQL: the same tokens and query language as FTS5 in SQLite.

``search.py`` makes the tokens (bigrams of Chinese, words of the rest) and parses the
queries; here they become ``tsvector`` and ``tsquery`` values written out as their literal
forms, so PostgreSQL's own word parser and dictionaries never see them: a token is matched
exactly as it was made, in any database locale.  ``search_docs`` holds, per article:

- ``words``: the title's tokens, then the body's, with positions (phrases are adjacent
  tokens, ``<->``); a gap between title and body so no phrase spans the two;
- ``title``: the title's tokens alone (ranking: articles with the words in their title
  come first);
- ``chars``: the distinct CJK characters (queries of one character).

FTS5's tokenizer also folds diacritics (``remove_diacritics 2``: "café" finds "cafe");
:func:`fold` does the same to the tokens given here, at indexing and at query time.

PostgreSQL keeps positions up to 16,383: in a body longer than that many tokens, phrases
are found in its first 16,383 tokens, single words anywhere.
"""

from __future__ import annotations

import contextlib
import unicodedata
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .catalog import Catalog
    from .db import Connection
    from .search import Term

MAX_POSITION = 16_383
MAX_TOKEN = 500  # characters; PostgreSQL refuses lexemes over 2 KB


@lru_cache(maxsize=65_536)
def fold(token: str) -> str:
    """A token without diacritics, cut to a length PostgreSQL accepts."""
    if token.isascii():
        return token[:MAX_TOKEN]
    bare = "".join(c for c in unicodedata.normalize("NFD", token) if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", bare)[:MAX_TOKEN]


def _quote(token: str) -> str:
    if "'" in token or "\\" in token:  # never in tokens() of today; cheap to check
        token = token.replace("\\", "\\\\").replace("'", "''")
    return f"'{token}'"


def vector(tokens: Sequence[str], start: int = 1) -> str:
    """The ``tsvector`` literal of ``tokens`` at positions from ``start`` (PostgreSQL keeps
    at most 255 positions of a lexeme, none past :data:`MAX_POSITION`)."""
    positions: dict[str, list[int]] = {}
    for i, token in enumerate(tokens, start):
        at = positions.get(token)
        if at is None:
            positions[token] = [i]
        elif len(at) < 255:
            at.append(i)
    parts = []
    for token, at in positions.items():
        lexeme = fold(token)
        if not lexeme:
            continue
        if at[-1] > MAX_POSITION:
            at = [p for p in at if p < MAX_POSITION] + [MAX_POSITION]
        parts.append(f"{_quote(lexeme)}:{','.join(map(str, at))}")
    return " ".join(parts)


def bare_vector(tokens: Sequence[str]) -> str:
    """The ``tsvector`` literal of ``tokens`` without positions."""
    return " ".join(_quote(t) for t in dict.fromkeys(fold(t) for t in tokens) if t)


def index(
    db: Connection,
    article_id: int,
    content_hash: str,
    revision_id: int,
    title: Sequence[str],
    body: Sequence[str],
    chars: Sequence[str],
) -> None:
    """Index one article (replacing what it was indexed as)."""
    title_vector = vector(title)
    words = title_vector + " " + vector(body, start=len(title) + 2)
    db.execute(
        "INSERT INTO search_docs (article_id, hash, revision_id, words, title, chars) "
        "VALUES (?, ?, ?, ?::tsvector, ?::tsvector, ?::tsvector) "
        "ON CONFLICT (article_id) DO UPDATE SET hash = excluded.hash, "
        "revision_id = excluded.revision_id, words = excluded.words, "
        "title = excluded.title, chars = excluded.chars",
        (article_id, content_hash, revision_id, words, title_vector, bare_vector(chars)),
    )


# The GIN indexes, made again after a bulk indexing (see bulk).
INDEXES = {"search_by_words": "words", "search_by_title": "title", "search_by_chars": "chars"}
BULK = 20_000  # articles to index at once from which the indexes are made afresh


@contextlib.contextmanager
def bulk(catalog: Catalog, count: int) -> Iterator[None]:
    """Index ``count`` articles: many at once go in without the GIN indexes, which are made
    afterwards — adding 1,000 tokens of each article to them one by one cost ~4 ms an
    article, ten times what building them whole does.  A run killed in between leaves
    them missing; the next one makes them before anything else (a look at the catalog's
    tables, no lock: ``serve`` syncs before every search)."""

    def make() -> None:
        missing = [
            name
            for name in INDEXES
            if catalog.db.execute("SELECT to_regclass(?)", (name,)).fetchone()[0] is None
        ]
        if missing:
            with catalog.transaction():
                for name in missing:
                    catalog.db.execute(
                        f"CREATE INDEX IF NOT EXISTS {name} ON search_docs "
                        f"USING gin ({INDEXES[name]})"
                    )

    make()
    if count < BULK:
        yield
        return
    with catalog.transaction():
        for name in INDEXES:
            catalog.db.execute(f"DROP INDEX IF EXISTS {name}")
    try:
        yield
    finally:
        make()


def _term(term: Term) -> str:
    """One word or phrase as a ``tsquery``: its tokens adjacent, the last maybe a prefix."""
    parts = [_quote(fold(t)) for t in term.tokens]
    if term.prefix:
        parts[-1] += ":*"
    return parts[0] if len(parts) == 1 else "(" + " <-> ".join(parts) + ")"


def _all(terms: Sequence[Term]) -> str:
    return " & ".join(_term(t) for t in terms)


def _any(terms: Sequence[Term]) -> str:
    return " | ".join(_term(t) for t in terms)


def condition(groups: Sequence[Sequence[Term]]) -> tuple[str, list[object]]:
    """The WHERE condition on ``search_docs`` for what ``groups`` match, and its values."""
    ors: list[str] = []
    args: list[object] = []
    for g in groups:
        ands: list[str] = []
        for char, column in ((False, "words"), (True, "chars")):
            wanted = [t for t in g if t.char == char and not t.negated]
            unwanted = [t for t in g if t.char == char and t.negated]
            if wanted:
                ands.append(f"{column} @@ ?::tsquery")
                args.append(_all(wanted))
            if unwanted:
                ands.append(f"NOT ({column} @@ ?::tsquery)")
                args.append(_any(unwanted))
        ors.append("(" + " AND ".join(ands) + ")")
    return " OR ".join(ors), args


def in_title(groups: Sequence[Sequence[Term]]) -> str | None:
    """The ``tsquery`` that an article whose title holds what one of ``groups`` asks for
    matches in ``title`` (see ``search.title_expression``), or None."""
    wanted = [[t for t in g if not t.negated and not t.char] for g in groups]
    alternatives = ["(" + _all(w) + ")" for w in wanted if w]
    return " | ".join(alternatives) or None


# Matches are looked up in the newest FIRST_WINDOW article ids, then in windows twice as
# large further back, until enough are found: a common word stops in the first window, a
# rare one costs one index lookup per window (a handful even at millions of articles).
FIRST_WINDOW = 20_000


def newest(
    catalog: Catalog, groups: Sequence[Sequence[Term]], sources: Sequence[str], limit: int
) -> list[int]:
    """Ids of the newest ``limit`` articles matching ``groups`` (among ``sources``), newest
    first.

    Each window is read through the GIN indexes as a bitmap (planner settings local to
    the transaction): left to itself, PostgreSQL walks the ids backwards and tests every
    row's ``tsvector``, which it must decompress — 20 ms per 3,000 articles, for every
    query, where the bitmap takes one or two.
    """
    where, args = condition(groups)
    if sources:
        where = f"({where}) AND article_id IN (SELECT id FROM articles WHERE source IN "
        where += f"({','.join('?' * len(sources))}))"
        args += list(sources)
    sql = (
        f"SELECT article_id FROM search_docs WHERE ({where}) AND article_id >= ? "
        "AND article_id < ? ORDER BY article_id DESC LIMIT ?"
    )
    out: list[int] = []
    with catalog.transaction():
        catalog.db.execute("SET LOCAL enable_seqscan = off")
        catalog.db.execute("SET LOCAL enable_indexscan = off")
        top = catalog.db.execute("SELECT max(article_id) FROM search_docs").fetchone()[0]
        if top is None:
            return out
        high, size = top + 1, FIRST_WINDOW
        while high > 0 and len(out) < limit:
            low = max(0, high - size)
            out += [r[0] for r in catalog.db.execute(sql, (*args, low, high, limit - len(out)))]
            high, size = low, size * 2
    return out


def titled(db: Connection, groups: Sequence[Sequence[Term]], window: Sequence[int]) -> set[int]:
    """Those of ``window`` (ids, newest first) whose title has what ``groups`` ask for."""
    query = in_title(groups)
    if not query or not window:
        return set()
    return {
        r[0]
        for r in db.execute(
            "SELECT article_id FROM search_docs WHERE title @@ ?::tsquery AND article_id >= ?",
            (query, window[-1]),
        )
    }
