"""Full-text search over the catalog that works for Chinese.

SQLite's FTS5 splits text at spaces and punctuation, and Chinese has neither between words,
so the text is tokenized here before FTS5 sees it:

- normalized: NFKC (full-width letters and digits become ASCII), lower case, and Traditional
  characters converted to Simplified with OpenCC, so 对话 finds 對話 and the other way round;
- every run of CJK characters becomes its overlapping bigrams plus its last character alone
  (对话会 -> 对话 话会 会): a two-character word is one token, a longer one a phrase of
  adjacent bigrams, and a single character a prefix query (``会*``, served by a one-character
  prefix index), which the trailing unigram makes complete;
- other words (Latin, digits) stay words.

The tokens go into ``search_docs`` and the FTS5 index reads them from there (external
content), so a changed article's old tokens can be deleted exactly.  Snippets are cut from
the article's own text, not from the tokens, so readers see what the outlet wrote.

The query language is small: words and ``"phrases"`` (all must match), ``OR`` between two of
them, ``-word`` to exclude, ``word*`` for a prefix.  Anything else that FTS5 would take as
syntax is either quoted away or reported as a :class:`QueryError` naming what is wrong.
"""

from __future__ import annotations

import html
import re
import sqlite3
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from ..errors import NewsmirrorError
from ..transform.script import converter
from .catalog import Catalog

# Han, kana, hangul: the scripts written without spaces between words.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002ffff"
# A run of Han characters (what the static search's terms are made of).
HAN_RUN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]+")
_TOKENS = re.compile(rf"([{_CJK}]+)|([^\W_{_CJK}]+)")
_TAG = re.compile(r"<[^>]*>")
_BLOCK_END = re.compile(r"</(?:p|div|h[1-6]|li|figcaption|tr|blockquote)>|<br\s*/?>", re.I)
TITLE_WEIGHT = 8.0  # bm25 weight of a match in the title against one in the body
MAX_COUNT = 10_000  # matches counted; beyond, a search reports "more than"
RANK_WINDOW = 5_000  # a query matching more is ranked among its newest this many


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


def _run_tokens(run: str, *, trailing: bool) -> list[str]:
    if len(run) == 1:
        return [run]
    grams = [run[i : i + 2] for i in range(len(run) - 1)]
    return [*grams, run[-1]] if trailing else grams


def tokens(text: str) -> list[str]:
    """The index tokens of (already normalized) ``text``, in order."""
    out: list[str] = []
    for m in _TOKENS.finditer(text):
        if m.group(1):
            out.extend(_run_tokens(m.group(1), trailing=True))
        else:
            out.append(m.group(2))
    return out


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


def _phrase(raw: str, *, prefix: bool, where: str) -> str:
    norm = normalize(raw)
    parts = list(_TOKENS.finditer(norm))
    if not parts:
        raise QueryError(f"nothing to search for in {where} {raw!r} (only punctuation)")
    toks: list[str] = []
    last_single_cjk = False
    for i, m in enumerate(parts):
        final = i == len(parts) - 1
        if m.group(1):
            run = m.group(1)
            # A run inside a phrase ends where the next word starts, as it does in the text;
            # the last one may continue in the text, so only its bigrams are required.
            toks.extend(_run_tokens(run, trailing=not final))
            last_single_cjk = final and len(run) == 1
        else:
            toks.append(m.group(2))
    star = " *" if prefix or last_single_cjk else ""
    return '"' + " ".join(toks) + '"' + star


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
        groups[-1].append(Term(normalize(body), _phrase(body, prefix=prefix, where=where), negated))
        expect_term = False
    if not words:
        raise QueryError("empty query")
    if expect_term:
        raise QueryError(f"'OR' at the end of {query!r} has nothing after it")
    for group in groups:
        if all(t.negated for t in group):
            raise QueryError(f"{query!r}: a query needs at least one word that is not excluded")
    return groups


def fts_expression(groups: Sequence[Sequence[Term]]) -> str:
    """The FTS5 MATCH expression for parsed query ``groups``."""
    alternatives = []
    for group in groups:
        positive = " AND ".join(t.fts for t in group if not t.negated)
        negative = [t.fts for t in group if t.negated]
        expr = f"({positive})"
        if negative:
            expr = f"({expr} NOT ({' OR '.join(negative)}))"
        alternatives.append(expr)
    return " OR ".join(alternatives)


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
TOKENS_VERSION = "1"
TOKENS_KEY = "search_tokens"


class SearchIndex:
    """The FTS5 index in the catalog, kept in step with the articles' latest revisions."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.db = catalog.db

    def stale(self) -> list[int]:
        """Ids of articles whose indexed text is missing or older than their file."""
        return [
            r[0]
            for r in self.db.execute(
                "SELECT a.id FROM articles a LEFT JOIN search_docs d ON d.article_id = a.id "
                "WHERE d.hash IS NOT a.content_hash ORDER BY a.id"
            )
        ]

    def sync(self, batch: int = 500) -> int:
        """Index every article that changed since it was last indexed; returns how many."""
        if self.catalog.site_state(TOKENS_KEY) != TOKENS_VERSION:
            # The index holds no text: removing a document means naming its tokens again.
            # Tokens made otherwise than they were indexed would not match: start afresh.
            with self.catalog.transaction():
                self.db.execute("INSERT INTO search_fts (search_fts) VALUES ('delete-all')")
                self.db.execute("DELETE FROM search_docs")
                self.catalog.set_site_state(TOKENS_KEY, TOKENS_VERSION)
        ids = self.stale()
        for i in range(0, len(ids), batch):
            chunk = ids[i : i + batch]
            with self.catalog.transaction():
                self._index(chunk)
        return len(ids)

    @staticmethod
    def _terms(title: str, body: str) -> tuple[str, str]:
        return (
            " ".join(tokens(normalize(title))),
            " ".join(tokens(normalize(plain_text(body)))),
        )

    def _index(self, ids: Sequence[int]) -> None:
        # What each article was indexed as: its revision then (the text is there, not here).
        indexed = {
            r[0]: r[1]
            for r in self.catalog._rows_in(
                "SELECT article_id, revision_id FROM search_docs WHERE article_id IN (?)", ids
            )
        }
        latest = {
            r[0]: r[1]
            for r in self.catalog._rows_in(
                "SELECT article_id, max(id) FROM revisions WHERE article_id IN (?) "
                "GROUP BY article_id",
                ids,
            )
        }
        for st in self.catalog.stored(ids):
            aid = st.known.article_id
            old_rev = indexed.get(aid)
            if old_rev is not None:
                old = self.db.execute(
                    "SELECT title, body FROM revisions WHERE id = ?", (old_rev,)
                ).fetchone()
                if old is not None:
                    self.db.execute(
                        "INSERT INTO search_fts (search_fts, rowid, title, body) "
                        "VALUES ('delete', ?, ?, ?)",
                        (aid, *self._terms(*old)),
                    )
            title, body = self._terms(st.article.title, st.article.body)
            self.db.execute(
                "INSERT OR REPLACE INTO search_docs (article_id, hash, revision_id) "
                "VALUES (?, ?, ?)",
                (aid, st.known.content_hash, latest[aid]),
            )
            self.db.execute(
                "INSERT INTO search_fts (rowid, title, body) VALUES (?, ?, ?)", (aid, title, body)
            )

    def search(
        self, query: str, *, limit: int = 20, offset: int = 0, sources: Sequence[str] = ()
    ) -> tuple[list[Hit], int]:
        """The best ``limit`` matches of ``query`` after ``offset``, and how many match
        (``MAX_COUNT + 1`` standing for "more than ``MAX_COUNT``")."""
        groups = parse_query(query)
        expr = fts_expression(groups)
        where = "search_fts MATCH ?"
        args: list[object] = [expr]
        if sources:
            marks = ",".join("?" * len(sources))
            where += f" AND rowid IN (SELECT id FROM articles WHERE source IN ({marks}))"
            args.extend(sources)
        try:
            # Counting stops at MAX_COUNT, and a word found in more than RANK_WINDOW
            # articles is ranked among its RANK_WINDOW most recently archived ones: bm25
            # over every match of a word that is everywhere costs ~1 ms per 1,000
            # articles, and for such a word the recent articles are the ones wanted.
            total = self.db.execute(
                f"SELECT count(*) FROM (SELECT rowid FROM search_fts WHERE {where} LIMIT ?)",
                [*args, MAX_COUNT + 1],
            ).fetchone()[0]
            window = "" if total <= RANK_WINDOW else f" ORDER BY rowid DESC LIMIT {RANK_WINDOW}"
            ranked = [
                r[0]
                for r in self.db.execute(
                    f"SELECT rowid FROM (SELECT rowid, bm25(search_fts, {TITLE_WEIGHT}, 1.0) "
                    f"AS score FROM search_fts WHERE {where}{window}) "
                    "ORDER BY score, rowid DESC LIMIT ? OFFSET ?",
                    [*args, limit, offset],
                )
            ]
        except sqlite3.OperationalError as e:  # our expression is always valid: say so
            raise QueryError(f"cannot search for {query!r}: {e}") from e
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
