"""The search index in PostgreSQL: the same tokens and query language as FTS5 in SQLite.

``search.py`` makes the tokens (bigrams of Chinese, words of the rest) and parses the
queries; here they become ``tsvector`` and ``tsquery`` values written out as their literal
forms, so PostgreSQL's own word parser and dictionaries never see them: a token is matched
exactly as it was made, in any database locale.  ``search_docs`` holds, per article:

- ``words``: the title's tokens, then the body's, with positions (phrases are adjacent
  tokens, ``<->``); a gap between title and body so no phrase spans the two; and the
  group of ids the article is in (see :data:`BLOCK`), as ``chars`` also holds;
- ``title``: the title's tokens alone (ranking: articles with the words in their title
  come first);
- ``chars``: the distinct CJK characters (queries of one character);
- ``pairs``: every two adjacent tokens (of the title, of the body), hashed to a number.

GIN indexes keep no positions: the articles holding a phrase's tokens are its candidates,
and each must be opened to see whether the tokens are adjacent.  Tokens common apart and
rare together (联合国 and 人权) made 180,000 candidates of 300,000 articles for 500
matches, 2 seconds of opening rows; with their pairs present as well the candidates are
about the matches.  A pair is a hash in :data:`PAIR_BUCKETS`, not the two tokens: half the
size, and a collision only adds a candidate that the row's positions then turn down.

FTS5's tokenizer also folds diacritics (``remove_diacritics 2``: "café" finds "cafe");
:func:`fold` does the same to the tokens given here, at indexing and at query time.

PostgreSQL keeps positions up to 16,383: in a body longer than that many tokens, phrases
are found in its first 16,383 tokens, single words anywhere.
"""

from __future__ import annotations

import contextlib
import time
import unicodedata
import zlib
from collections.abc import Callable, Iterator, Sequence
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


@lru_cache(maxsize=65_536)
def _lexeme(token: str) -> str:
    """A token as it is written in a ``tsvector`` literal ('' for none)."""
    lexeme = fold(token)
    return _quote(lexeme) if lexeme else ""


_NUMBERS = [str(i) for i in range(MAX_POSITION + 1)]


def vector(tokens: Sequence[str], start: int = 1) -> str:
    """The ``tsvector`` literal of ``tokens`` at positions from ``start`` (PostgreSQL keeps
    at most 255 positions of a lexeme, none past :data:`MAX_POSITION`)."""
    positions: dict[str, list[int]] = {}
    add = positions.setdefault
    for i, token in enumerate(tokens, start):
        add(token, []).append(i)
    numbers = _NUMBERS
    parts = []
    for token, at in positions.items():
        lexeme = _lexeme(token)
        if not lexeme:
            continue
        if len(at) > 255:
            at = at[:255]
        if at[-1] > MAX_POSITION:
            at = [p for p in at if p < MAX_POSITION] + [MAX_POSITION]
        parts.append(lexeme + ":" + ",".join([numbers[p] for p in at]))
    return " ".join(parts)


def bare_vector(tokens: Sequence[str]) -> str:
    """The ``tsvector`` literal of ``tokens`` without positions."""
    return " ".join(t for t in dict.fromkeys(map(_lexeme, tokens)) if t)


PAIR_BUCKETS = 1 << 20  # a bench article's ~1,450 pairs fill 0.14 % of them


@lru_cache(maxsize=262_144)
def _pair(first: str, second: str) -> int:
    """The number two adjacent (folded) tokens are indexed as."""
    both = f"{first}\x1f{second}".encode("utf-8", "surrogatepass")
    return zlib.crc32(both) % PAIR_BUCKETS


def pairs(*runs: Sequence[str]) -> list[int]:
    """The numbers of every two adjacent tokens in each of ``runs`` (none across two)."""
    out: set[int] = set()
    for run in runs:
        folded = [fold(t) for t in run]
        out.update(map(_pair, folded, folded[1:]))
    return sorted(out)


# Articles are grouped by id, BLOCK to a group, and ``words`` and ``chars`` hold their
# group as one more lexeme ('_b12'; no token has an underscore).  ANDed into a query's
# own ``tsquery``, the groups of a range of ids narrow the GIN index's answer to that
# range, newest first, inside one index condition the planner cannot split (with the
# range on the primary key instead, it filtered the range's rows one by one instead of
# using the GIN index, whenever it guessed the word common).
BLOCK = 4096  # ids


def _near(article_id: int) -> str:
    """The lexeme of the group of ids ``article_id`` is in, as a ``tsvector`` literal."""
    return f"'_b{article_id // BLOCK}'"


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
    near = _near(article_id)
    words = f"{title_vector} {vector(body, start=len(title) + 2)} {near}"
    db.execute(
        "INSERT INTO search_docs (article_id, hash, revision_id, words, title, chars, pairs) "
        "VALUES (?, ?, ?, ?::tsvector, ?::tsvector, ?::tsvector, ?::integer[]) "
        "ON CONFLICT (article_id) DO UPDATE SET hash = excluded.hash, "
        "revision_id = excluded.revision_id, words = excluded.words, "
        "title = excluded.title, chars = excluded.chars, pairs = excluded.pairs",
        (
            article_id,
            content_hash,
            revision_id,
            words,
            title_vector,
            f"{bare_vector(chars)} {near}",
            pairs(title, body),
        ),
    )


# The GIN indexes, made again after a bulk indexing (see bulk).
INDEXES = {
    "search_by_words": "words",
    "search_by_title": "title",
    "search_by_chars": "chars",
    "search_by_pairs": "pairs",
}
BULK = 20_000  # articles to index at once from which the indexes are made afresh


@contextlib.contextmanager
def bulk(catalog: Catalog, count: int) -> Iterator[None]:
    """Index ``count`` articles: many at once go in without the GIN indexes, which are made
    afterwards — adding 1,000 tokens of each article to them one by one cost ~4 ms an
    article, ten times what building them whole does.  Autovacuum is kept away from the
    table meanwhile: it analysed the growing table again and again (a core's worth of
    CPU while 300,000 articles went in); one ``ANALYZE`` ends the run.  A run killed in
    between leaves the indexes missing and autovacuum off; the next one mends both before
    anything else (a look at the catalog's tables, no lock: ``serve`` syncs before every
    search)."""

    def make() -> None:
        missing = [
            name
            for name in INDEXES
            if catalog.db.execute("SELECT to_regclass(?)", (name,)).fetchone()[0] is None
        ]
        options = catalog.db.execute(
            "SELECT reloptions FROM pg_class WHERE oid = 'search_docs'::regclass"
        ).fetchone()[0]
        if options and "autovacuum_enabled=false" in options:
            catalog.db.execute("ALTER TABLE search_docs RESET (autovacuum_enabled)")
        if missing:
            with catalog.transaction():
                # GIN builds its index in memory in pieces of this size (the default
                # 64 MB: the words index of 300,000 articles took over 5 minutes).
                catalog.db.execute("SET LOCAL maintenance_work_mem = '256MB'")
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
        catalog.db.execute("ALTER TABLE search_docs SET (autovacuum_enabled = false)")
    try:
        yield
    finally:
        make()
        # The statistics newest() chooses its way by: now, not when autovacuum comes.
        catalog.db.execute("ANALYZE search_docs")
        catalog.memo.pop("search_stats", None)


def _term(term: Term, *, loose: bool = False) -> str:
    """One word or phrase as a ``tsquery``: its tokens adjacent, the last maybe a prefix
    (``loose``: its tokens anywhere)."""
    parts = [_quote(fold(t)) for t in term.tokens]
    if term.prefix:
        parts[-1] += ":*"
    if len(parts) == 1:
        return parts[0]
    return "(" + (" & " if loose else " <-> ").join(parts) + ")"


def _term_pairs(term: Term) -> list[int]:
    """The pairs every article holding ``term`` holds (none of a prefix's last token)."""
    whole = term.tokens[:-1] if term.prefix else term.tokens
    return pairs(whole) if len(whole) > 1 else []


def _all(terms: Sequence[Term]) -> str:
    return " & ".join(_term(t) for t in terms)


def _any(terms: Sequence[Term]) -> str:
    return " | ".join(_term(t) for t in terms)


def condition(
    groups: Sequence[Sequence[Term]], *, loose: bool = False, within: str = ""
) -> tuple[str, list[object], bool]:
    """The WHERE condition on ``search_docs`` for what ``groups`` match, its values, and
    whether a GIN index answers it alone (without opening a row's vector).

    Each column gets one ``tsquery`` (its words, and ``!`` before each exclusion), so a
    row is decompressed once, and an exclusion of single tokens stays in the index.
    ``loose``: a condition every match meets that the index answers whenever it can —
    a phrase's tokens and their pairs present anywhere, exclusions of phrases left out.
    ``within``: a ``tsquery`` of groups of ids (:func:`_near`) every match must be in.
    """
    ors: list[str] = []
    args: list[object] = []
    exact = True
    for g in groups:
        ands: list[str] = []
        bounded = False
        for char, column in ((False, "words"), (True, "chars")):
            wanted = [t for t in g if t.char == char and not t.negated]
            unwanted = [t for t in g if t.char == char and t.negated]
            if loose:
                exact = exact and all(len(t.tokens) == 1 for t in wanted + unwanted)
                unwanted = [t for t in unwanted if len(t.tokens) == 1]
            if wanted:
                ands.append(f"{column} @@ ?::tsquery")
                query = " & ".join(
                    [_term(t, loose=loose) for t in wanted] + [f"!{_term(t)}" for t in unwanted]
                )
                args.append(f"({query}) & ({within})" if within else query)
                bounded = bool(within)
            elif unwanted:
                ands.append(f"NOT ({column} @@ ?::tsquery)")
                args.append(_any(unwanted))
                exact = False
        if within and not bounded:
            ands.append("words @@ ?::tsquery")
            args.append(within)
        joined = sorted({p for t in g if not t.negated for p in _term_pairs(t)})
        if loose and joined:
            ands.append("pairs @> ?::integer[]")
            args.append(joined)
        ors.append("(" + " AND ".join(ands) + ")")
    return " OR ".join(ors), args, exact


def in_title(groups: Sequence[Sequence[Term]]) -> str | None:
    """The ``tsquery`` that an article whose title holds what one of ``groups`` asks for
    matches in ``title`` (see ``search.title_expression``), or None."""
    wanted = [[t for t in g if not t.negated and not t.char] for g in groups]
    alternatives = ["(" + _all(w) + ")" for w in wanted if w]
    return " | ".join(alternatives) or None


# What one row costs, in microseconds, read either way (measured at 3,000 and 30,000
# bench articles): walking the ids backwards decompresses each row's vector; a GIN bitmap
# costs little per match but reads every match in the table before the newest are known.
WALK_ROW_US = 12.0
BITMAP_ROW_US = 0.4
STATS_TTL = 300.0  # seconds the planner statistics read below are kept


def _statistics(catalog: Catalog) -> tuple[float, dict[str, dict[str, float]]]:
    """How many rows ``search_docs`` holds and, per vector column, how often its most
    common lexemes occur (PostgreSQL's own ``ANALYZE`` figures; the last entry of each,
    under ``""``, is the frequency below which the lexemes are not listed)."""
    now = time.monotonic()
    cached = catalog.memo.get("search_stats")
    if cached and now - cached[0] < STATS_TTL:
        return cached[1], cached[2]
    rows = catalog.db.execute(
        "SELECT reltuples FROM pg_class WHERE oid = 'search_docs'::regclass"
    ).fetchone()
    if not rows or rows[0] < 0:  # never analyzed: counted (kept for STATS_TTL as well)
        rows = catalog.db.execute("SELECT count(*) FROM search_docs").fetchone()
    total = float(rows[0]) if rows else 0.0
    freqs: dict[str, dict[str, float]] = {}
    for column, elems, fs in catalog.db.execute(
        "SELECT attname, most_common_elems::text::text[], most_common_elem_freqs "
        "FROM pg_stats WHERE tablename = 'search_docs' AND schemaname = current_schema() "
        "AND most_common_elems IS NOT NULL"
    ):
        known = dict(zip(elems, fs, strict=False))
        known[""] = fs[len(elems)]  # the minimum frequency, after the lexemes' own
        freqs[column] = known
    catalog.memo["search_stats"] = (now, total, freqs)
    return total, freqs


def _share(freqs: dict[str, dict[str, float]], group: Sequence[Term]) -> float:
    """About what share of the articles match ``group``: its rarest token's or pair's,
    less what an exclusion of one token takes away (as if independent)."""
    share, kept = 1.0, 1.0
    known_pairs = freqs.get("pairs")
    for t in group:
        if known_pairs and not t.negated:
            for p in _term_pairs(t):
                share = min(share, known_pairs.get(str(p), known_pairs[""]))
        known = freqs.get("chars" if t.char else "words")
        if not known:
            return 1.0
        if t.negated:
            if len(t.tokens) == 1 and not t.prefix:
                kept *= 1.0 - known.get(fold(t.tokens[0]), 0.0)
            continue
        for token in t.tokens[:-1] if t.prefix else t.tokens:
            share = min(share, known.get(fold(token), known[""]))
        if t.prefix:  # how many words start so is not known: taken as not common, since
            share = min(share, known[""])  # a walk past rare matches costs the table
    return share * kept


def newest(
    catalog: Catalog, groups: Sequence[Sequence[Term]], sources: Sequence[str], limit: int
) -> list[int]:
    """Ids of the newest ``limit`` articles matching ``groups`` (among ``sources``), newest
    first.

    Two ways, chosen by what PostgreSQL's statistics say of the rarest token or pair: a
    common one walks the ids backwards testing each row until ``limit`` match (a word in
    90 % of the articles: ~1,100 rows); a rarer one reads the candidates (all tokens and
    pairs present) from the GIN indexes, a range of ids at a time, which never opens a
    vector, and then tests only those whose tokens must also be adjacent (phrases) or
    that an exclusion may drop, newest first, until ``limit`` match.  Left to itself the
    planner takes the walk for every query whose matches it thinks many, whatever
    decompressing a vector costs.
    """
    where, args, _ = condition(groups)
    restrict = ""
    if sources:
        restrict = " AND article_id IN (SELECT id FROM articles WHERE source IN "
        restrict += f"({','.join('?' * len(sources))}))"
        where, args = f"({where}){restrict}", [*args, *sources]
    exact = condition(groups, loose=True)[2]

    def candidates(within: str) -> tuple[str, list[object]]:
        loose, loose_args, _ = condition(groups, loose=True, within=within)
        return f"({loose}){restrict}", [*loose_args, *sources]

    total, freqs = _statistics(catalog)
    share = max(1e-9, min(1.0, sum(_share(freqs, g) for g in groups)))
    walk = limit / share * WALK_ROW_US
    bitmap = share * total * BITMAP_ROW_US
    if not exact:
        # Candidates to test: with a phrase's pairs among the conditions, about its
        # matches (an estimate from an unlisted pair is only an upper bound: taken as the
        # matches, it chose the walk, which then read all 300,000 rows for 670 matches).
        paired = any(_term_pairs(t) for g in groups for t in g if not t.negated)
        tested = limit if paired else limit / share
        bitmap += min(tested, share * total) * WALK_ROW_US
    with catalog.transaction():
        # Planned afresh each time: psycopg prepares statements used often, and a plan
        # made once for another query (or for any) would ignore what is chosen here.
        catalog.db.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        catalog.db.execute("SET LOCAL enable_seqscan = off")
        if walk < bitmap:
            return _walk(catalog, where, args, limit)
        return _bitmap(catalog, (candidates, exact), (where, args), limit, share)


def _walk(catalog: Catalog, where: str, args: Sequence[object], limit: int) -> list[int]:
    """The newest ``limit`` rows meeting ``where``, testing each row from the newest."""
    catalog.db.execute("SET LOCAL enable_bitmapscan = off")
    sql = f"SELECT article_id FROM search_docs WHERE {where} ORDER BY article_id DESC LIMIT ?"
    return [r[0] for r in catalog.db.execute(sql, (*args, limit))]


def _first_span(limit: int, share: float) -> int:
    """How many ids the first range of :func:`_bitmap` covers: twice what should hold
    ``limit`` matches at the estimated ``share`` (a second range costs a second reading of
    the GIN index: more than reading a few hundred candidates too many)."""
    return int(limit / max(share, 1e-9) * 2)


def _bitmap(
    catalog: Catalog,
    candidates: tuple[Callable[[str], tuple[str, list[object]]], bool],
    check: tuple[str, Sequence[object]],
    limit: int,
    share: float,
) -> list[int]:
    """The newest ``limit`` rows meeting ``check``, of those the GIN indexes give as
    candidates (rows tested only when the candidates are not exact).

    Read in ranges of ids from the newest: a GIN bitmap gives candidates in no order, and
    each is fetched from its row to learn its id, so reading all 9,000 matches of a word
    to keep the newest 1,000 cost 60 ms at 300,000 articles.  The first range should hold
    twice ``limit`` matches at the estimated ``share``; each next one is at least twice
    the last.
    """
    db = catalog.db
    top = db.execute("SELECT max(article_id) FROM search_docs").fetchone()[0]
    if top is None:
        return []
    make, exact = candidates
    out: list[int] = []
    newest = hi = int(top) // BLOCK  # hi: the newest group not read yet
    blocks = -(-_first_span(limit, share) // BLOCK)
    while hi >= 0 and len(out) < limit:
        lo = max(0, hi - blocks + 1)
        whole = lo == 0 and hi == newest  # no need to name every group
        within = "" if whole else " | ".join(_near(b * BLOCK) for b in range(hi, lo - 1, -1))
        where, args = make(within)
        db.execute("SET LOCAL enable_indexscan = off")
        sql = f"SELECT article_id FROM search_docs WHERE {where} ORDER BY article_id DESC"
        found = [r[0] for r in db.execute(sql, args)]
        if not exact:
            found = _checked(catalog, found, check, limit - len(out))
        out += found
        read = (top - lo * BLOCK + 1) / BLOCK
        wanted = (limit - len(out)) / (len(out) / read) * 1.3 if out else 0
        blocks, hi = int(max(blocks * 2, wanted)), lo - 1
    return out[:limit]


def _checked(
    catalog: Catalog, found: list[int], check: tuple[str, Sequence[object]], limit: int
) -> list[int]:
    """The first ``limit`` of ``found`` (newest first) whose rows meet ``check``, tested
    in batches: the first of ``limit`` rows (with a phrase's pairs among the candidates
    most pass, and a statement costs more than testing a few hundred rows), the next
    sized by the share kept so far."""
    catalog.db.execute("SET LOCAL enable_indexscan = on")
    test = f"SELECT article_id FROM search_docs WHERE article_id = ANY(?) AND ({check[0]})"
    out: list[int] = []
    at, batch = 0, max(64, limit)
    while at < len(found) and len(out) < limit:
        chunk = found[at : at + batch]
        kept = {r[0] for r in catalog.db.execute(test, (chunk, *check[1]))}
        out += [i for i in chunk if i in kept]
        at += len(chunk)
        # Ask next for about what is still wanted, at the share kept so far.
        rate = max(len(out), 1) / at
        batch = min(8192, max(64, int((limit - len(out)) / rate * 1.2)))
    return out[:limit]


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
