"""Full-text search over the catalog that works for Chinese.

SQLite's FTS5 splits text at spaces and punctuation, and Chinese has neither between words,
so the text is tokenized here before FTS5 sees it:

- normalized: NFKC (full-width letters and digits become ASCII), lower case, and Traditional
  characters converted to Simplified with OpenCC, so 对话 finds 對話 and the other way round;
- every run of CJK characters becomes its first character, its overlapping bigrams and its
  last character (对话会 -> 对 对话 话会 会): a two-character word is one token, a longer one
  a phrase of adjacent bigrams, and a word that a query joins to a Latin word or to the end
  of a phrase ("A股", "会谈 a") meets the text's unigram at the run's edge exactly — no
  prefix query is ever needed for Chinese;
- other words (Latin, digits) stay words;
- a word of one character alone (会) is looked up in a second, much smaller index that holds
  only which characters each article contains (FTS5 ``detail=none``): a prefix index on the
  main one cost a third of its size (3.6 of 11.6 KB per article) for these queries alone.

A third index holds the titles alone, for ranking: the articles whose title has the words
come first, then the others, newest first.

No index keeps the text (contentless FTS5): the revisions hold it, so removing an
article's old tokens means making them again from the revision that was indexed.  Snippets
are cut from the article's own text, not from the tokens, so readers see what the outlet
wrote.

The query language is small: words and ``"phrases"`` (all must match), ``OR`` between two of
them, ``-word`` to exclude, ``word*`` for a prefix.  Anything else that FTS5 would take as
syntax is either quoted away or reported as a :class:`QueryError` naming what is wrong.
"""

from __future__ import annotations

import contextlib
import html
import multiprocessing
import re
import unicodedata
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import cast

from ..cores import default_processes
from ..errors import NewsmirrorError
from ..transform.script import converter
from . import search_pg
from .catalog import Catalog
from .db import PgConnection, unpack

# Han, kana, hangul: the scripts written without spaces between words.
_CJK = search_pg.CJK
# A run of Han characters (what the static search's terms are made of).
HAN_RUN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]+")
_TOKENS = re.compile(rf"([{_CJK}]+)|([^\W_{_CJK}]+)")
_CJK_CHAR = re.compile(rf"[{_CJK}]")
_TAG = re.compile(r"<[^>]*>")
_BLOCK_END = re.compile(r"</(?:p|div|h[1-6]|li|figcaption|tr|blockquote)>|<br\s*/?>", re.I)
# Matches counted; beyond, a search reports "more than".  Each counted match of a phrase
# is checked on its row in PostgreSQL (~12 µs), so the count is also what a common
# phrase costs there: 10,000 made it 120 ms a query.
MAX_COUNT = 1_000
RANK_WINDOW = 1_000  # a query matching more is ranked among its newest this many


class QueryError(NewsmirrorError):
    """A search query that cannot be understood."""


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    return str(converter("t2s").convert(ch))


def normalize(text: str) -> str:
    """Text in the form it is indexed and searched in: NFKC, lower case, Simplified.

    The result has exactly one character per character of ``text`` (conversion is done
    character by character where a phrase conversion would change the length), so a match
    found in the normalized text is at the same place in the original.
    """
    folded = unicodedata.normalize("NFKC", text)
    if len(folded) != len(text):
        folded = "".join(
            unicodedata.normalize("NFKC", c) if len(unicodedata.normalize("NFKC", c)) == 1 else c
            for c in text
        )
    lowered = folded.lower()
    if len(lowered) != len(folded):  # e.g. "İ".lower() is two characters
        lowered = "".join(c.lower() if len(c.lower()) == 1 else c for c in folded)
    folded = lowered
    simplified = str(converter("t2s").convert(folded))
    if len(simplified) != len(folded):
        simplified = "".join(_fold_char(c) if len(_fold_char(c)) == 1 else c for c in folded)
    return simplified


def _run_tokens(run: str, *, leading: bool, trailing: bool) -> list[str]:
    """A CJK run's tokens: its bigrams, with its first and last characters as unigrams when
    the run's start or end must be where the text's run starts or ends."""
    if len(run) == 1:
        return [run]
    grams = [run[i : i + 2] for i in range(len(run) - 1)]
    return [*([run[0]] if leading else []), *grams, *([run[-1]] if trailing else [])]


def tokens(text: str) -> list[str]:
    """The index tokens of (already normalized) ``text``, in order."""
    out: list[str] = []
    for m in _TOKENS.finditer(text):
        if m.group(1):
            out.extend(_run_tokens(m.group(1), leading=True, trailing=True))
        else:
            out.append(m.group(2))
    return out


def parts(text: str) -> list[str]:
    """The runs of CJK characters and the other words of (already normalized) ``text``."""
    return [m.group(0) for m in _TOKENS.finditer(text)]


def characters(text: str) -> str:
    """The distinct CJK characters of (already normalized) ``text``: what the character
    index holds of an article."""
    return " ".join(sorted(set(_CJK_CHAR.findall(text))))


def plain_text(body: str) -> str:
    """An article body's text, as one line per block, without markup."""
    text = _TAG.sub("", _BLOCK_END.sub("\n", body))
    return "\n".join(" ".join(line.split()) for line in html.unescape(text).split("\n"))


# -- queries -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Term:
    """One word or phrase of a query: its normalized text, and how FTS5 should match it."""

    text: str
    fts: str  # the FTS5 expression for it (a quoted phrase, maybe with a prefix star)
    negated: bool = False
    char: bool = False  # one CJK character alone: matched in the character index
    parts: tuple[str, ...] = ()  # its CJK runs and other words (PostgreSQL's query is of them)
    prefix: bool = False  # the last part is the start of a word


def _phrase(raw: str, *, prefix: bool, where: str) -> tuple[str, bool, list[str], bool]:
    """The FTS5 expression for one word or phrase of a query, whether it is a single
    CJK character (matched in the character index instead), its parts, and whether the
    last one is a prefix."""
    norm = normalize(raw)
    matched = list(_TOKENS.finditer(norm))
    if not matched:
        raise QueryError(f"nothing to search for in {where} {raw!r} (only punctuation)")
    if len(matched) == 1 and len(matched[0].group(1) or "") == 1:
        return f'"{matched[0].group(1)}"', True, [matched[0].group(1)], False
    toks: list[str] = []
    for i, m in enumerate(matched):
        if m.group(1):
            # A run after another part of the phrase starts where the text's run starts, and
            # one before another part ends where it ends; the first may start anywhere in the
            # text's run and the last may go on.
            toks.extend(_run_tokens(m.group(1), leading=i > 0, trailing=i < len(matched) - 1))
        else:
            toks.append(m.group(2))
    # Chinese needs no star: the last run's bigrams match it wherever the text goes on.
    star = " *" if prefix and not matched[-1].group(1) else ""
    return '"' + " ".join(toks) + '"' + star, False, [m.group(0) for m in matched], bool(star)


# A query's cost grows with the square of its terms (a 32 KB query of one word took 542 s
# of CPU); real queries are a few words.
MAX_QUERY_CHARS = 200
MAX_QUERY_WORDS = 12


def parse_query(query: str) -> list[list[Term]]:
    """``query`` as alternatives of terms: ``[[a, b], [c]]`` means (a AND b) OR c.

    Raises :class:`QueryError` for an unbalanced quote, a dangling ``OR``, a query with
    nothing to search for, one that only excludes, or one too long to be a search.
    """
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"the query is {len(query)} characters long; at most {MAX_QUERY_CHARS}")
    words: list[tuple[str, bool, int]] = []  # (text, quoted, column)
    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if c.isspace():
            i += 1
        elif c == '"' or (c == "-" and i + 1 < n and query[i + 1] == '"'):
            neg = c == "-"
            start = i + 1 if neg else i
            end = query.find('"', start + 1)
            if end < 0:
                raise QueryError(f"unbalanced quote at character {start + 1} of {query!r}")
            words.append((("-" if neg else "") + query[start + 1 : end], True, start + 1))
            i = end + 1
        else:
            j = i
            while j < n and not query[j].isspace() and query[j] != '"':
                j += 1
            words.append((query[i:j], False, i + 1))
            i = j
    if len(words) > MAX_QUERY_WORDS:
        raise QueryError(f"the query has {len(words)} words; at most {MAX_QUERY_WORDS}")
    groups: list[list[Term]] = [[]]
    expect_term = True
    for text, quoted, col in words:
        if text == "OR" and not quoted:
            if expect_term:
                raise QueryError(f"'OR' at character {col} of {query!r} has nothing before it")
            groups.append([])
            expect_term = True
            continue
        negated = text.startswith("-") and len(text) > 1
        body = text[1:] if negated else text
        prefix = not quoted and body.endswith("*") and len(body) > 1
        body = body.rstrip("*") if prefix else body
        where = f"the phrase at character {col}" if quoted else f"the word at character {col}"
        fts, char, found, star = _phrase(body, prefix=prefix, where=where)
        groups[-1].append(Term(normalize(body), fts, negated, char, tuple(found), star))
        expect_term = False
    if not words:
        raise QueryError("empty query")
    if expect_term:
        raise QueryError(f"'OR' at the end of {query!r} has nothing after it")
    for group in groups:
        if all(t.negated for t in group):
            raise QueryError(f"{query!r}: a query needs at least one word that is not excluded")
    return groups


def _expression(terms: Sequence[str], excluded: Sequence[str]) -> str:
    expr = "(" + " AND ".join(terms) + ")"
    return f"({expr} NOT ({' OR '.join(excluded)}))" if excluded else expr


def fts_expression(groups: Sequence[Sequence[Term]]) -> str:
    """The FTS5 MATCH expression of the main index for ``groups`` of words of more than one
    character (see :func:`selects` for queries with words of one)."""
    return " OR ".join(
        _expression([t.fts for t in g if not t.negated], [t.fts for t in g if t.negated])
        for g in groups
    )


_INDEX = {False: "search_fts", True: "search_chars"}
_TABLES = (*_INDEX.values(), "search_titles")


def selects(groups: Sequence[Sequence[Term]]) -> list[tuple[str, list[object]]]:
    """SELECTs of ``rowid`` whose union is what ``groups`` match.

    One SELECT on the main index when no word is a single character (FTS5 then walks the
    matches in rowid order and stops at a LIMIT); otherwise one per group, each matching in
    one index and keeping or dropping the rows the other index matches.  ``+rowid`` keeps
    those filters out of FTS5's plan, which would look each of them up one by one.
    """
    if not any(t.char for g in groups for t in g):
        groups = [[Term("", fts_expression(groups))]]
    out: list[tuple[str, list[object]]] = []
    for g in groups:
        words = {c: [t.fts for t in g if t.char == c and not t.negated] for c in (False, True)}
        unwanted = {c: [t.fts for t in g if t.char == c and t.negated] for c in (False, True)}
        char = not words[False]  # the index the group matches in
        table, other = _INDEX[char], _INDEX[not char]
        sql = f"SELECT rowid FROM {table} WHERE {table} MATCH ?"
        args: list[object] = [_expression(words[char], unwanted[char])]
        if words[not char]:
            sql += f" AND +rowid IN (SELECT rowid FROM {other} WHERE {other} MATCH ?)"
            args.append(" AND ".join(words[not char]))
        if unwanted[not char]:
            sql += f" AND +rowid NOT IN (SELECT rowid FROM {other} WHERE {other} MATCH ?)"
            args.append(" OR ".join(unwanted[not char]))
        out.append((sql, args))
    return out


def title_expression(groups: Sequence[Sequence[Term]]) -> str | None:
    """The expression of the titles index that an article whose title holds what one of
    ``groups`` asks for matches (its words of more than one character; exclusions are the
    main query's business), or None when no group has such a word."""
    wanted = [[t.fts for t in g if not t.negated and not t.char] for g in groups]
    return " OR ".join(_expression(w, []) for w in wanted if w) or None


# -- results -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result; ``snippet`` alternates plain text and matched text, plain first."""

    article_id: int
    source: str
    path: str
    alt_path: str | None
    title: str
    url: str
    date_ms: int
    snippet: tuple[str, ...]


def snippet(text: str, needles: Sequence[str], width: int = 60) -> tuple[str, ...]:
    """Up to ``width`` characters of ``text`` around the first match of any of ``needles``
    (normalized), as ``(before, match, between, match, …, after)``."""
    norm = normalize(text)
    spans: list[tuple[int, int]] = []
    for needle in needles:
        if not needle:
            continue
        start = norm.find(needle)
        while start >= 0 and len(spans) < 50:
            spans.append((start, start + len(needle)))
            start = norm.find(needle, start + len(needle))
    if not spans:
        cut = text[:width].replace("\n", " ")
        return (cut + ("…" if len(text) > width else ""),)
    spans.sort()
    first = spans[0][0]
    lo = max(0, first - width // 3)
    hi = min(len(text), lo + width)
    out: list[str] = []
    pos = lo
    for s, e in spans:
        if s < pos or e > hi:
            continue
        out.append(text[pos:s])
        out.append(text[s:e])
        pos = e
    out.append(text[pos:hi])
    if lo > 0:
        out[0] = "…" + out[0]
    if hi < len(text):
        out[-1] += "…"
    return tuple(part.replace("\n", " ") for part in out)


# -- the index ---------------------------------------------------------------------------------


# Bump when tokens() or normalize() changes what a text is indexed as: the index is rebuilt.
TOKENS_VERSION = "2"
TOKENS_KEY = "search_tokens"


def _index_part(url: str, ids: list[int], batch: int) -> None:
    """Index ``ids`` of the PostgreSQL catalog at ``url`` (one of several processes)."""
    catalog = Catalog(url, create=False)
    try:
        SearchIndex(catalog)._index_batches(ids, batch)
    finally:
        catalog.close()


class SearchIndex:
    """The FTS5 indexes in the catalog (words, characters, titles), kept in step with the
    articles' latest revisions."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.db = catalog.db
        self.pg = catalog.dialect == "postgresql"  # tsvector columns (search_pg.py)

    def stale(self) -> list[int]:
        """Ids of articles whose indexed text is missing or older than their file."""
        return [
            r[0]
            for r in self.db.execute(
                "SELECT a.id FROM articles a LEFT JOIN search_docs d ON d.article_id = a.id "
                "WHERE d.hash IS NULL OR d.hash != a.content_hash ORDER BY a.id"
            )
        ]

    def sync(self, batch: int = 500) -> int:
        """Index every article that changed since it was last indexed; returns how many."""
        if self.catalog.site_state(TOKENS_KEY) != TOKENS_VERSION:
            # The index holds no text: removing a document means naming its tokens again.
            # Tokens made otherwise than they were indexed would not match: start afresh.
            with self.catalog.transaction():
                for table in () if self.pg else _TABLES:
                    self.db.execute(f"INSERT INTO {table} ({table}) VALUES ('delete-all')")
                self.db.execute("DELETE FROM search_docs")
                self.catalog.set_site_state(TOKENS_KEY, TOKENS_VERSION)
        ids = self.stale()
        with search_pg.bulk(self.catalog, len(ids)) if self.pg else contextlib.nullcontext():
            processes = default_processes() if self.pg and len(ids) >= search_pg.BULK else 0
            if processes > 1:
                self._index_in_processes(ids, processes, batch)
            else:
                self._index_batches(ids, batch)
        return len(ids)

    def _index_batches(self, ids: Sequence[int], batch: int) -> None:
        """Index ``ids``, ``batch`` of them to a transaction."""
        for i in range(0, len(ids), batch):
            with self.catalog.transaction():
                self._index(ids[i : i + batch])

    def _index_in_processes(self, ids: list[int], processes: int, batch: int) -> None:
        """Index ``ids`` of a PostgreSQL catalog in several processes, each on its own
        connection: making the tokens is Python's work, and the database takes rows from
        many at once (300,000 bench articles on two cores: ~154 a second in two processes;
        one process made ~60, though with autovacuum analysing alongside, since stopped).
        A process stopped midway leaves its rest stale for the next sync."""
        url = cast(PgConnection, self.db).url
        parts = [ids[k::processes] for k in range(processes)]
        # forkserver: serve syncs from a thread, and a fork copies no threads but one.
        context = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(processes, mp_context=context) as pool:
            list(pool.map(_index_part, [url] * processes, parts, [batch] * processes))

    @staticmethod
    def _tokens(title: str, body: str) -> tuple[list[str], list[str], str]:
        """An article's tokens: of its title, of its body, and its characters."""
        title, body = normalize(title), normalize(plain_text(body))
        return tokens(title), tokens(body), characters(title + body)

    @classmethod
    def _terms(cls, title: str, body: str) -> tuple[str, str, str]:
        """An article's tokens as FTS5 takes them: texts of space-separated tokens."""
        words, text, chars = cls._tokens(title, body)
        return " ".join(words), " ".join(text), chars

    def _latest(self, ids: Sequence[int]) -> dict[int, int]:
        """``article id -> id of its latest revision`` (what it is indexed as now)."""
        return dict(
            self.catalog._rows_in(
                "SELECT article_id, max(id) FROM revisions WHERE article_id IN (?) "
                "GROUP BY article_id",
                ids,
            )
        )

    def _index(self, ids: Sequence[int]) -> None:
        if self.pg:
            self._index_pg(ids)
            return
        # What each article was indexed as: its revision then (the text is there, not here).
        indexed = {
            r[0]: r[1]
            for r in self.catalog._rows_in(
                "SELECT article_id, revision_id FROM search_docs WHERE article_id IN (?)", ids
            )
        }
        latest = self._latest(ids)
        for st in self.catalog.stored(ids):
            aid = st.known.article_id
            old_rev = indexed.get(aid)
            if old_rev is not None:
                old = self.db.execute(
                    "SELECT title, body FROM revisions WHERE id = ?", (old_rev,)
                ).fetchone()
                if old is not None:
                    *words, chars = self._terms(old[0], unpack(old[1]))
                    self.db.execute(
                        "INSERT INTO search_fts (search_fts, rowid, title, body) "
                        "VALUES ('delete', ?, ?, ?)",
                        (aid, *words),
                    )
                    self.db.execute(
                        "INSERT INTO search_chars (search_chars, rowid, chars) "
                        "VALUES ('delete', ?, ?)",
                        (aid, chars),
                    )
                    self.db.execute(
                        "INSERT INTO search_titles (search_titles, rowid, title) "
                        "VALUES ('delete', ?, ?)",
                        (aid, words[0]),
                    )
            title, body, chars = self._terms(st.article.title, st.article.body)
            self.db.execute(
                "INSERT OR REPLACE INTO search_docs (article_id, hash, revision_id) "
                "VALUES (?, ?, ?)",
                (aid, st.known.content_hash, latest[aid]),
            )
            self.db.execute(
                "INSERT INTO search_fts (rowid, title, body) VALUES (?, ?, ?)", (aid, title, body)
            )
            self.db.execute("INSERT INTO search_chars (rowid, chars) VALUES (?, ?)", (aid, chars))
            self.db.execute("INSERT INTO search_titles (rowid, title) VALUES (?, ?)", (aid, title))

    def _index_pg(self, ids: Sequence[int]) -> None:
        # Each row holds its own streams: it is replaced whole, nothing to take out first.
        latest = self._latest(ids)
        for st in self.catalog.stored(ids):
            aid = st.known.article_id
            title = parts(normalize(st.article.title))
            body = parts(normalize(plain_text(st.article.body)))
            search_pg.index(self.db, aid, st.known.content_hash, latest[aid], title, body)

    def _matches(
        self, groups: list[list[Term]], sources: Sequence[str]
    ) -> tuple[list[int], set[int]]:
        """The newest ``MAX_COUNT + 1`` matches, and which of the ``RANK_WINDOW`` newest of
        them have the words in their title."""
        if self.pg:
            newest = search_pg.newest(self.catalog, groups, sources, MAX_COUNT + 1)
            window = newest[:RANK_WINDOW]
            return newest, search_pg.titled(self.db, groups, window)
        marks = ",".join("?" * len(sources))
        restrict = f" AND +rowid IN (SELECT id FROM articles WHERE source IN ({marks}))"
        parts = [(q + restrict if sources else q, a + list(sources)) for q, a in selects(groups)]
        args = [a for _q, part in parts for a in part]
        # One walk over the matches, newest first, stopping after MAX_COUNT + 1 of
        # them: the count, and the RANK_WINDOW newest, which are ranked.  Ranking by
        # bm25 cost more than the whole search: to weigh a phrase it first counts every
        # article holding it, in the whole index (300,000 bench articles: 170 of 200 ms
        # for a common phrase).
        matched = " UNION ".join(q for q, _a in parts)
        newest = [
            r[0]
            for r in self.db.execute(
                f"SELECT rowid FROM ({matched}) ORDER BY rowid DESC LIMIT ?",
                [*args, MAX_COUNT + 1],
            )
        ]
        window = newest[:RANK_WINDOW]
        titled = title_expression(groups)
        if not titled or not window:
            return newest, set()
        sql = "SELECT rowid FROM search_titles WHERE search_titles MATCH ? AND rowid >= ?"
        return newest, {r[0] for r in self.db.execute(sql, (titled, window[-1]))}

    def search(
        self, query: str, *, limit: int = 20, offset: int = 0, sources: Sequence[str] = ()
    ) -> tuple[list[Hit], int]:
        """The best ``limit`` matches of ``query`` after ``offset``, and how many match
        (``MAX_COUNT + 1`` standing for "more than ``MAX_COUNT``")."""
        groups = parse_query(query)
        try:
            newest, in_title = self._matches(groups, sources)
        except self.catalog.errors as e:  # our expression is always valid: say so
            raise QueryError(f"cannot search for {query!r}: {e}") from e
        total = len(newest)
        window = newest[:RANK_WINDOW]
        # Articles with the words in their title first, then the others; newest first.
        ranked = sorted(window, key=lambda r: (r not in in_title, -r))[offset : offset + limit]
        found = {
            r[0]: r
            for r in self.catalog._rows_in(
                "SELECT id, source, path, alt_path, title, url, date_ms FROM articles "
                "WHERE id IN (?)",
                ranked,
            )
        }
        rows = [found[i] for i in ranked if i in found]
        needles = sorted(
            {t.text for g in groups for t in g if not t.negated}, key=len, reverse=True
        )
        needles = [re.sub(r"\s+", " ", n).strip() for n in needles]
        bodies = {
            st.known.article_id: st.article.body for st in self.catalog.stored([r[0] for r in rows])
        }
        hits = [
            Hit(
                aid,
                src,
                path,
                alt,
                title,
                url,
                date,
                snippet(plain_text(bodies.get(aid, "")), needles),
            )
            for aid, src, path, alt, title, url, date in rows
        ]
        return hits, total

    def count(self) -> int:
        """How many articles are indexed."""
        return int(self.db.execute("SELECT count(*) FROM search_docs").fetchone()[0])
