"""The search index in PostgreSQL: the same query language and matches as FTS5 in SQLite.

``search.py`` normalizes the text and splits it into *parts*: runs of CJK characters and
other words.  ``search_docs`` keeps, per article, its title and its body as *streams*: the
parts, folded (:func:`fold`), with one space between two and a space at each end
(" 对话会 a 进行会谈 ").  A word or phrase of a query is a piece of such a stream
(:func:`needle`), so whether a row holds it is one ``strpos``: a few microseconds, where
reading a ``tsvector`` with positions cost 12.

The index holds no copy of the tokens either.  One GIN index is made over an expression,
``newsmirror_keys(title, body, article_id)``, a SQL function made with the schema
(``schema_pg.py``), so the database makes each article's *keys* from its streams when it
indexes the row, and no row stores them.  The keys are every CJK character, every two and
three adjacent characters of a run, every other word, every two adjacent parts (the last
character or the word of one, a space, the first character or the word of the next), and
the group of ids the article is in (:data:`BLOCK`).  An article holds a Chinese word of up
to three characters, a single character or a Latin word (or the start of one) exactly when
it has its key; a longer word or a phrase has keys every article holding it has, and the
three-character keys make those candidates about the matches, even for words common apart
and rare together (联合国 and 人权 were 180,000 candidates of 300,000 articles for 500
matches when only words and characters were keys).  Candidates are then checked on their
streams.  The three-character keys are most of the index, and were measured without:
at 300,000 bench articles the catalog took 12.4 KB an article instead of 17.5, but a word
of three characters was checked on its rows and a phrase of common pairs read thousands
of candidates (联合国人权: 3,868 for 230 matches at 100,000): p95 54.6 ms instead of 42.6,
that phrase 287 ms.

The rows' vectors this replaced, with positions, were 25 KB an article of the 42.8 the
catalog took at 300,000 bench articles; now it takes 19.7 (the GIN index 9, the streams
5.3, which lz4 makes 18 % smaller where the server has it), and the slowest phrases went
from 384 to 40 ms.

Keys are made of a title's first 1,000 and a body's first 24,000 characters (a ``tsvector``
holds at most 1 MB).  The few rows with a longer stream are listed by a small partial index
of their own (``search_long``, :data:`LONG`), and every query reading the GIN index reads
them too and checks them on their streams: a word after the keyed part is found whichever
way the rows are read.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .catalog import Catalog
    from .db import Connection
    from .search import Term

MAX_TOKEN = 500  # characters of a word kept; PostgreSQL refuses lexemes over 2 KB
PAIR_WORD = 100  # characters of a word in the key of two adjacent parts (as in the function)
# Han, kana, hangul: the scripts written without spaces between words (``search.py`` splits
# text with it; ``newsmirror_keys`` has the same ranges).
CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002ffff"
_CJK_START = re.compile(f"[{CJK}]")


@lru_cache(maxsize=65_536)
def fold(part: str) -> str:
    """A part without diacritics, cut to a length PostgreSQL accepts as a key."""
    if part.isascii():
        return part[:MAX_TOKEN]
    bare = "".join(c for c in unicodedata.normalize("NFD", part) if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", bare)[:MAX_TOKEN]


def _cjk(part: str) -> bool:
    return _CJK_START.match(part) is not None


def _folded(parts: Sequence[str]) -> list[str]:
    """``parts`` folded, those that fold to nothing left out (in streams and queries alike)."""
    return [f for f in map(fold, parts) if f]


def stream(parts: Sequence[str]) -> str:
    """The stream of a title's or body's ``parts``: folded, one space between two and at
    each end."""
    return " " + " ".join(_folded(parts)) + " "


def needle(parts: Sequence[str], prefix: bool) -> str:
    """What a stream holding the word or phrase of ``parts`` (normalized) holds: a Latin
    word whole (but for a ``prefix`` star on the last), a Chinese run anywhere in the text's
    run, except that a run next to another part must reach that side of it."""
    folded = _folded(parts)
    left = "" if _cjk(folded[0]) else " "
    right = "" if prefix or _cjk(folded[-1]) else " "
    return left + " ".join(folded) + right


def _quote(key: str) -> str:
    if "'" in key or "\\" in key:  # never in a part of today; cheap to check
        key = key.replace("\\", "\\\\").replace("'", "''")
    return f"'{key}'"


def _edge(part: str, last: bool) -> str:
    """What of ``part`` the key of it and its neighbour holds."""
    if _cjk(part):
        return part[-1] if last else part[0]
    return part[:PAIR_WORD]


def keys(parts: Sequence[str], prefix: bool) -> list[tuple[str, bool]]:
    """The keys every article holding the word or phrase of ``parts`` has, each with
    whether it is the start of a key (a prefix star)."""
    folded = _folded(parts)
    out: list[tuple[str, bool]] = []
    for i, part in enumerate(folded):
        if not _cjk(part):
            out.append((part, prefix and i == len(folded) - 1))
        elif len(part) <= 3:
            out.append((part, False))
        else:
            out += [(part[k : k + 3], False) for k in range(len(part) - 2)]
        if i and not (prefix and i == len(folded) - 1):  # a key of a whole word only
            out.append((_edge(folded[i - 1], True) + " " + _edge(part, False), False))
    return list(dict.fromkeys(out))


def _operand(key: tuple[str, bool]) -> str:
    """A key as a ``tsquery`` operand."""
    return _quote(key[0]) + (":*" if key[1] else "")


def exact(parts: Sequence[str]) -> bool:
    """Whether holding the keys of ``parts`` is holding them (one key, no check)."""
    folded = _folded(parts)
    return len(folded) == 1 and (not _cjk(folded[0]) or len(folded[0]) <= 3)


# Articles are grouped by id, BLOCK to a group, and each has its group as one more key
# ('_b12'; no part has an underscore).  ANDed into a query's own ``tsquery``, the groups of
# a range of ids narrow the GIN index's answer to that range, newest first, inside one
# index condition the planner cannot split (with the range on the primary key instead, it
# filtered the range's rows one by one instead of using the GIN index, whenever it guessed
# the word common).  ``newsmirror_keys`` divides by the same number.
BLOCK = 4096  # ids


def _near(article_id: int) -> str:
    """The key of the group of ids ``article_id`` is in, as a ``tsquery`` operand."""
    return f"'_b{article_id // BLOCK}'"


def _within(hi: int, lo: int) -> str:
    """The ``tsquery`` of the groups of ids from ``hi`` down to ``lo``."""
    return " | ".join(_near(b * BLOCK) for b in range(hi, lo - 1, -1))


def index(
    db: Connection,
    article_id: int,
    content_hash: str,
    revision_id: int,
    title: Sequence[str],
    body: Sequence[str],
) -> None:
    """Index one article (replacing what it was indexed as), of its title's and body's
    parts."""
    db.execute(
        "INSERT INTO search_docs (article_id, hash, revision_id, title, body) "
        "VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (article_id) DO UPDATE SET hash = excluded.hash, "
        "revision_id = excluded.revision_id, title = excluded.title, body = excluded.body",
        (article_id, content_hash, revision_id, stream(title), stream(body)),
    )


KEYS = "newsmirror_keys(title, body, article_id)"  # what the GIN index is made of
# The rows whose streams are longer than their keys cover (as ``newsmirror_keys`` cuts them),
# as the partial index ``search_long`` names them: the same expression, so it is read.
LONG = "(length(title) > 1000 OR length(body) > 24000)"
# The GIN indexes, made again after a bulk indexing (see bulk).
INDEXES = {"search_by_keys": KEYS}
BULK = 20_000  # articles to index at once from which the indexes are made afresh


@contextlib.contextmanager
def bulk(catalog: Catalog, count: int) -> Iterator[None]:
    """Index ``count`` articles: many at once go in without the GIN index, which is made
    afterwards — adding 1,000 keys of each article to it one by one cost ~4 ms an article,
    ten times what building it whole does.  Autovacuum is kept away from the table
    meanwhile: it analysed the growing table again and again (a core's worth of CPU while
    300,000 articles went in); one ``ANALYZE`` ends the run.  A run killed in between
    leaves the index missing and autovacuum off; the next one mends both before anything
    else (a look at the catalog's tables, no lock: ``serve`` syncs before every search)."""

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
                    # ANALYZE would make the keys of 30,000 rows again, for figures
                    # newest() does not read (see _probe).
                    catalog.db.execute(f"ALTER INDEX {name} ALTER COLUMN 1 SET STATISTICS 0")

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
        # The planner's figures of the table: now, not when autovacuum comes.
        catalog.db.execute("ANALYZE search_docs")


def _holds(term: Term, column: str = "") -> tuple[str, list[object]]:
    """The condition that a row holds ``term`` (in ``column``, or in title or body)."""
    found = needle(term.parts, term.prefix)
    if column:
        return f"strpos({column}, ?) > 0", [found]
    return "(strpos(title, ?) > 0 OR strpos(body, ?) > 0)", [found, found]


def _query(group: Sequence[Term]) -> str:
    """The ``tsquery`` of the keys every article matching ``group`` has: its words' keys,
    and no key of an exclusion that is exactly its key."""
    wanted = [_operand(k) for t in group if not t.negated for k in keys(t.parts, t.prefix)]
    unwanted = [
        "!" + _operand(keys(t.parts, t.prefix)[0]) for t in group if t.negated and exact(t.parts)
    ]
    return " & ".join(wanted + unwanted)


def candidates(groups: Sequence[Sequence[Term]], within: str = "") -> tuple[str, list[object]]:
    """The condition on ``search_docs`` the GIN index answers, which every match of
    ``groups`` meets (``within``: a ``tsquery`` of groups of ids every match is in)."""
    query = " | ".join(f"({_query(g)})" for g in groups)
    if within:
        query = f"({query}) & ({within})"
    return f"{KEYS} @@ ?::tsquery", [query]


def answers(groups: Sequence[Sequence[Term]]) -> bool:
    """Whether the candidates of ``groups`` are their matches (no row to check)."""
    return all(exact(t.parts) for g in groups for t in g)


def condition(groups: Sequence[Sequence[Term]]) -> tuple[str, list[object]]:
    """The condition on ``search_docs`` that the rows matching ``groups`` meet, of their
    streams alone (never the keys, which would be made again for each row)."""
    ors: list[str] = []
    args: list[object] = []
    for g in groups:
        ands: list[str] = []
        for t in g:
            sql, values = _holds(t)
            ands.append(f"NOT {sql}" if t.negated else sql)
            args += values
        ors.append("(" + " AND ".join(ands) + ")")
    return " OR ".join(ors), args


def in_title(groups: Sequence[Sequence[Term]]) -> tuple[str, list[object]] | None:
    """The condition an article whose title holds what one of ``groups`` asks for meets
    (its words of more than one character; see ``search.title_expression``), or None."""
    ors: list[str] = []
    args: list[object] = []
    for g in groups:
        wanted = [_holds(t, "title") for t in g if not t.negated and not t.char]
        if wanted:
            ors.append("(" + " AND ".join(sql for sql, _ in wanted) + ")")
            args += [v for _, values in wanted for v in values]
    return (" OR ".join(ors), args) if ors else None


# What one row costs, in microseconds, read either way: walking the ids backwards reads
# each row's streams; a GIN bitmap costs little per match but reads every match in the
# range before the newest are known.
WALK_ROW_US = 12.0
BITMAP_ROW_US = 0.4
PROBED = 2  # the newest groups of ids a query's candidates are counted in


def _probe(catalog: Catalog, groups: Sequence[Sequence[Term]], top: int) -> float:
    """About what share of the articles are candidates of ``groups``: counted in the
    newest groups of ids, from the GIN index (a few milliseconds).  PostgreSQL's own
    figures list a few hundred of millions of keys, the commonest, and put every other at
    the frequency of the last listed: the three-character keys of a phrase in 230 of
    100,000 articles looked as common as a single character, and every row was read."""
    newest = top // BLOCK
    lo = max(0, newest - PROBED + 1)
    sql, args = candidates(groups, _within(newest, lo))
    found, rows = catalog.db.execute(
        f"SELECT (SELECT count(*) FROM search_docs WHERE {sql}), "
        "(SELECT count(*) FROM search_docs WHERE article_id >= ?)",
        (*args, lo * BLOCK),
    ).fetchone()
    return min(1.0, max(float(found), 0.5) / max(float(rows), 1.0))


def newest(
    catalog: Catalog, groups: Sequence[Sequence[Term]], sources: Sequence[str], limit: int
) -> list[int]:
    """Ids of the newest ``limit`` articles matching ``groups`` (among ``sources``), newest
    first.

    Two ways, chosen by the share of the newest articles that are candidates
    (:func:`_probe`): a common query walks the ids backwards checking each row's streams
    until ``limit`` match (a word in 90 % of the articles: ~1,100 rows); a rarer one reads
    the candidates from the GIN index, a range of ids at a time, which never opens a row,
    and then checks only those whose keys do not answer for them (phrases, longer words,
    exclusions of those), newest first, until ``limit`` match.  Left to itself the planner
    takes the walk for every query whose matches it thinks many, and would make each
    row's keys again to test it.
    """
    where, args = condition(groups)
    restrict = ""
    if sources:
        restrict = " AND article_id IN (SELECT id FROM articles WHERE source IN "
        restrict += f"({','.join('?' * len(sources))}))"
        where, args = f"({where}){restrict}", [*args, *sources]
    exact_keys = answers(groups)

    def loose(within: str, ids: tuple[int, int]) -> tuple[str, list[object]]:
        """The candidates among ``ids`` (first, last; ``within`` names their groups) and
        the long rows among them, each with whether it is one of the long."""
        sql, values = candidates(groups, within)
        return (
            f"SELECT article_id, false FROM search_docs WHERE {sql}{restrict} UNION ALL "
            f"SELECT article_id, true FROM search_docs WHERE {LONG} "
            f"AND article_id BETWEEN ? AND ?{restrict}",
            [*values, *sources, *ids, *sources],
        )

    with catalog.transaction():
        # Planned afresh each time: psycopg prepares statements used often, and a plan
        # made once for another query (or for any) would ignore what is chosen here.
        catalog.db.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        catalog.db.execute("SET LOCAL enable_seqscan = off")
        top = catalog.db.execute("SELECT max(article_id) FROM search_docs").fetchone()[0]
        if top is None:
            return []
        share = _probe(catalog, groups, int(top))
        walk = limit / share * WALK_ROW_US
        bitmap = share * top * BITMAP_ROW_US
        if not exact_keys:
            # Candidates to check: with three-character keys or two parts' keys among the
            # conditions, about the matches; else (an exclusion to check) every candidate.
            joined = any(len(keys(t.parts, t.prefix)) > 1 for g in groups for t in g)
            tested = limit if joined else limit / share
            bitmap += min(tested, share * top) * WALK_ROW_US
        if walk < bitmap:
            return _walk(catalog, where, args, limit)
        return _bitmap(catalog, (loose, exact_keys), (where, args), (limit, int(top)), share)


def _walk(catalog: Catalog, where: str, args: Sequence[object], limit: int) -> list[int]:
    """The newest ``limit`` rows meeting ``where``, checking each row from the newest."""
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
    loose: tuple[Callable[[str, tuple[int, int]], tuple[str, list[object]]], bool],
    check: tuple[str, Sequence[object]],
    limit_top: tuple[int, int],
    share: float,
) -> list[int]:
    """The newest ``limit`` rows meeting ``check``, of the candidates ``loose`` makes the
    statement of (for a range of ids) and whether they are the matches (else each is
    checked on its row; a long row, which may hold words its keys do not, always is).

    Read in ranges of ids from the newest: a GIN bitmap gives candidates in no order, and
    each is fetched from its row to learn its id, so reading all 9,000 matches of a word
    to keep the newest 1,000 cost 60 ms at 300,000 articles.  The first range should hold
    twice ``limit`` matches at the estimated ``share``; each next one is at least twice
    the last.
    """
    db = catalog.db
    limit, top = limit_top
    make, answered = loose
    out: list[int] = []
    newest = hi = top // BLOCK  # hi: the newest group not read yet
    blocks = -(-_first_span(limit, share) // BLOCK)
    while hi >= 0 and len(out) < limit:
        lo = max(0, hi - blocks + 1)
        whole = lo == 0 and hi == newest  # no need to name every group
        within = "" if whole else _within(hi, lo)
        sql, args = make(within, (lo * BLOCK, (hi + 1) * BLOCK - 1))
        db.execute("SET LOCAL enable_indexscan = off")
        rows = db.execute(f"{sql} ORDER BY 1 DESC", args).fetchall()
        found = list(dict.fromkeys(i for i, _ in rows))
        if answered:
            # The long ones: their keys may lack a word their streams have (wanted or
            # excluded).
            long = {i for i, is_long in rows if is_long}
            if long:
                kept = set(_checked(catalog, [i for i in found if i in long], check, len(long)))
                found = [i for i in found if i not in long or i in kept]
        else:
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
    in batches: the first of ``limit`` rows (with a phrase's keys among the conditions
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
    wanted = in_title(groups)
    if not wanted or not window:
        return set()
    sql = f"SELECT article_id FROM search_docs WHERE article_id = ANY(?) AND ({wanted[0]})"
    return {r[0] for r in db.execute(sql, (list(window), *wanted[1]))}
