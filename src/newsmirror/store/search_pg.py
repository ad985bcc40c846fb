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

import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def vector(tokens: Sequence[str], start: int = 1) -> str:
    """The ``tsvector`` literal of ``tokens`` at positions from ``start``."""
    positions: dict[str, list[str]] = {}
    for i, token in enumerate(tokens):
        pos = min(start + i, MAX_POSITION)
        at = positions.setdefault(fold(token), [])
        if len(at) < 255 and (not at or at[-1] != str(pos)):
            at.append(str(pos))
    return " ".join(f"{_quote(t)}:{','.join(p)}" for t, p in positions.items() if t)


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
    words = vector(title) + " " + vector(body, start=len(title) + 2)
    db.execute(
        "INSERT INTO search_docs (article_id, hash, revision_id, words, title, chars) "
        "VALUES (?, ?, ?, ?::tsvector, ?::tsvector, ?::tsvector) "
        "ON CONFLICT (article_id) DO UPDATE SET hash = excluded.hash, "
        "revision_id = excluded.revision_id, words = excluded.words, "
        "title = excluded.title, chars = excluded.chars",
        (article_id, content_hash, revision_id, words, vector(title), bare_vector(chars)),
    )


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
