"""The SQLite catalog: sources, articles, every revision.

One file in the archive's ``.newsmirror/`` folder, WAL mode, ``application_id`` set so we never
write into someone else's database, ``user_version`` migrations applied in one transaction,
and a newer schema refused instead of guessed at.

The catalog is committed *after* the article files are on disk: a run killed in between
finds its catalog without those rows, decides the same way again, and writes the same bytes.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import CatalogError
from ..model import Article
from ..transform.links import path_keys
from .adopt import ExistingFile
from .db import (
    Connection,
    PgConnection,
    first_line,
    insert_rows,
    is_postgres,
    pack,
    redact,
    unpack,
)
from .rows import Known, ListEntry, NewArticle, SourceState, Stored
from .schema import MIGRATIONS, SCHEMA_VERSION, statements
from .schema_pg import PG_FIRST, PG_MIGRATIONS, PG_OLDEST

APPLICATION_ID = 0x4E4D4952  # "NMIR"
PAGE_SIZE = 16384  # bytes, of a new SQLite catalog


class Catalog:
    """The catalog connection.  Not thread-safe: one update pass owns it."""

    def __init__(self, where: Path | str, *, create: bool = True, shared: bool = False) -> None:
        """Open (and create or migrate) the catalog: a SQLite file at a path, or a
        PostgreSQL database named by a ``postgresql://`` URL.  ``shared``: the connection
        may be used from several threads, one at a time (the caller locks)."""
        self.db: Connection
        if isinstance(where, str) and is_postgres(where):
            self.path = redact(where)
            self.dialect = "postgresql"
            pg = PgConnection(where)
            self.db = pg
            self.errors: tuple[type[BaseException], ...] = (pg.errors,)
            try:
                self._check_and_migrate_pg(create)
            except BaseException as e:
                pg.close()
                if isinstance(e, pg.errors):
                    raise CatalogError(f"{self.path}: {first_line(e)}") from e
                raise
            return
        path = Path(where)
        self.path = str(path)
        self.dialect = "sqlite"
        self.errors = (sqlite3.DatabaseError,)
        if not create and not path.exists():
            raise CatalogError(f"{path}: no catalog yet (run `newsmirror update` first)")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(
                path, timeout=5.0, isolation_level=None, check_same_thread=not shared
            )
            self.db.execute("PRAGMA foreign_keys = ON")
            self._check_and_migrate()
        except sqlite3.DatabaseError as e:
            raise CatalogError(self._explain(e)) from e

    def _explain(self, e: BaseException) -> str:
        msg = first_line(e)
        if "locked" in msg or "busy" in msg:
            return f"{self.path}: catalog is locked by another process ({msg})"
        if "not a database" in msg or "malformed" in msg:
            return f"{self.path}: catalog is corrupt ({msg}); restore it or move it away"
        return f"{self.path}: {msg}"

    def _check_and_migrate(self) -> None:
        app_id = self.db.execute("PRAGMA application_id").fetchone()[0]
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if app_id not in (0, APPLICATION_ID):
            raise CatalogError(f"{self.path}: not a newsmirror catalog (application_id {app_id})")
        if app_id == 0 and version == 0:
            tables = self.db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if tables:
                raise CatalogError(f"{self.path}: not a newsmirror catalog (foreign tables)")
            # A revision's deflated body is 2-3 KB: one to a 4 KB page, two or three to an
            # 8 KB one, five or six to a 16 KB one.  Bench bodies sit where two fill an 8 KB
            # page: 100,000 bench articles took 13.2 KB of catalog each with 8 KB pages
            # (revisions 391 MiB), 12.3 with 16 KB (313 MiB); search and updates as fast.
            # (20,000: 13.4 KB with 4 KB pages, 12.0 with 8 KB.)  Only a new file takes it.
            self.db.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        self._refuse_newer(version)
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = NORMAL")
        if version < SCHEMA_VERSION:
            with self.transaction():
                for script in MIGRATIONS[version:]:
                    for statement in statements(script):
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _refuse_newer(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise CatalogError(
                f"{self.path}: catalog schema {version} is newer than this newsmirror "
                f"understands ({SCHEMA_VERSION}); upgrade newsmirror"
            )

    def _check_and_migrate_pg(self, create: bool) -> None:
        """PostgreSQL: the tables live in the connection's first schema (``search_path``);
        a schema holding tables of ours without our version table is not touched."""
        server = int(self.db.execute("SHOW server_version_num").fetchone()[0])
        if server < PG_OLDEST:
            raise CatalogError(
                f"{self.path}: PostgreSQL {server // 10000} is too old for newsmirror's "
                f"catalog (it needs {PG_OLDEST // 10000} or newer)"
            )
        # Two processes opening a new database at once: one migrates, the other waits.
        with self.transaction():
            self.db.execute("SELECT pg_advisory_xact_lock(?)", (APPLICATION_ID,))
            if self.db.execute("SELECT to_regclass('newsmirror_schema')").fetchone()[0]:
                version = self.db.execute("SELECT version FROM newsmirror_schema").fetchone()[0]
            else:
                if self.db.execute("SELECT to_regclass('articles')").fetchone()[0]:
                    raise CatalogError(
                        f"{self.path}: not a newsmirror catalog (a table 'articles' exists "
                        "without newsmirror's schema version)"
                    )
                if not create:
                    raise CatalogError(
                        f"{self.path}: no catalog yet (run `newsmirror update` first)"
                    )
                version = 0
            self._refuse_newer(version)
            for step in range(max(version + 1, PG_FIRST), SCHEMA_VERSION + 1):
                for statement in statements(PG_MIGRATIONS[step]):
                    self.db.execute(statement)
            if version < SCHEMA_VERSION:
                self.db.execute("UPDATE newsmirror_schema SET version = ?", (SCHEMA_VERSION,))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction; rolled back on any exception."""
        begin = "BEGIN IMMEDIATE" if self.dialect == "sqlite" else "BEGIN"
        try:
            self.db.execute(begin)
        except self.errors as e:
            raise CatalogError(self._explain(e)) from e
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")

    @contextmanager
    def part(self) -> Iterator[None]:
        """A part of the open transaction that an exception undoes alone (a savepoint)."""
        self.db.execute("SAVEPOINT part")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK TO SAVEPOINT part")
            self.db.execute("RELEASE SAVEPOINT part")
            raise
        self.db.execute("RELEASE SAVEPOINT part")

    def _run_in(self, sql: str, values: Sequence[Any], *before: Any) -> Iterator[Any]:
        """Run ``sql`` with its ``IN (?)`` taking ``values``, at most 500 at a time (SQLite
        limits the variables of one statement); ``before`` binds the ``?`` ahead.  Yields
        each statement's cursor."""
        for i in range(0, len(values), 500):
            chunk = values[i : i + 500]
            yield self.db.execute(
                sql.replace("IN (?)", f"IN ({','.join('?' * len(chunk))})"), (*before, *chunk)
            )

    def _rows_in(self, sql: str, values: Sequence[Any], *before: Any) -> Iterator[Any]:
        """Rows of a ``SELECT`` run by :meth:`_run_in`."""
        for cursor in self._run_in(sql, values, *before):
            yield from cursor

    def close(self) -> None:
        """Close the connection (checkpointing the WAL)."""
        self.db.close()

    # -- sources ---------------------------------------------------------------------------

    def ensure_source(self, sid: str, name: str, url: str) -> None:
        """Create the source row or refresh its name and URL from the config."""
        self.db.execute(
            "INSERT INTO sources (id, name, url) VALUES (?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET name = excluded.name, url = excluded.url "
            "WHERE sources.name != excluded.name OR sources.url != excluded.url",
            (sid, name, url),
        )

    def source(self, sid: str) -> SourceState | None:
        """A source's state, or None if it was never seen."""
        states = self.sources([sid])
        return states[0] if states else None

    def sources(self, ids: Sequence[str] | None = None) -> list[SourceState]:
        """States of the given sources (all if None), with their article counts."""
        sql = (
            "SELECT s.id, s.name, s.etag, s.last_modified, s.last_attempt_ms, "
            "s.last_success_ms, s.last_error, s.last_error_ms, s.failures, s.last_changed_ms, "
            "s.next_number, (SELECT count(*) FROM articles a WHERE a.source = s.id), "
            "s.next_due_ms, s.failing_since_ms FROM sources s"
        )
        params: tuple[str, ...] = ()
        if ids is not None:
            sql += f" WHERE s.id IN ({','.join('?' * len(ids))})"
            params = tuple(ids)
        return [SourceState(*row) for row in self.db.execute(sql + " ORDER BY s.id", params)]

    def record_success(
        self,
        sid: str,
        now_ms: int,
        etag: str | None,
        last_modified: str | None,
        *,
        keep_validators: bool = False,
        next_due_ms: int | None = None,
    ) -> None:
        """A fetch (or a 304) succeeded: store validators, end the failure streak."""
        sets = "last_attempt_ms = ?, last_success_ms = ?, failures = 0, last_error = NULL, "
        sets += "failing_since_ms = NULL, next_due_ms = ?"
        params: list[object] = [now_ms, now_ms, next_due_ms]
        if not keep_validators:
            sets += ", etag = ?, last_modified = ?"
            params += [etag, last_modified]
        self.db.execute(f"UPDATE sources SET {sets} WHERE id = ?", (*params, sid))

    def record_failure(
        self, sid: str, now_ms: int, error: str, next_due_ms: int | None = None
    ) -> None:
        """A fetch or parse failed: keep the reason, count the streak, schedule the retry."""
        self.db.execute(
            "UPDATE sources SET last_attempt_ms = ?, last_error = ?, last_error_ms = ?, "
            "failures = failures + 1, failing_since_ms = coalesce(failing_since_ms, ?), "
            "next_due_ms = ? WHERE id = ?",
            (now_ms, error, now_ms, now_ms, next_due_ms, sid),
        )

    def record_item_errors(self, sid: str, now_ms: int, errors: Sequence[tuple[str, str]]) -> None:
        """Remember items that failed, so ``status`` shows them and a later run retries them."""
        keep = [where for where, _reason in errors]
        sql = "DELETE FROM item_errors WHERE source = ?"
        if keep:  # PostgreSQL has no empty IN ()
            sql += f" AND location NOT IN ({','.join('?' * len(keep))})"
        self.db.execute(sql, (sid, *keep))
        self.db.executemany(
            "INSERT INTO item_errors (source, location, reason, first_ms, last_ms) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (source, location) DO UPDATE "
            "SET reason = excluded.reason, "
            "last_ms = excluded.last_ms",
            [(sid, where, reason, now_ms, now_ms) for where, reason in errors],
        )

    def item_errors(self, sid: str) -> list[tuple[str, str]]:
        """``(location, reason)`` of the items of ``sid`` that failed in its last pass."""
        return list(
            self.db.execute(
                "SELECT location, reason FROM item_errors WHERE source = ? ORDER BY location",
                (sid,),
            )
        )

    # -- articles --------------------------------------------------------------------------

    def known(self, sid: str, articles: Sequence[Article]) -> dict[str, Known]:
        """What the catalog knows of these articles of one source, by their ident.

        An article is also found by its canonical link, so an item that an adopted file
        (known by its link) or an earlier guid-less item stood for is still the same article.
        """
        out: dict[str, Known] = {}
        taken: set[int] = set()  # one catalog row never stands for two items
        for column, values in (
            ("ident", [a.ident for a in articles]),
            ("canonical", [a.canonical for a in articles if a.canonical]),
        ):
            found: dict[str, Known] = {}
            for row in self._rows_in(
                f"SELECT id, ident, content_hash, path, number, {column} FROM articles "
                f"WHERE source = ? AND {column} IN (?)",
                values,
                sid,
            ):
                found[row[5]] = Known(*row[:5])
            for a in articles:
                k = found.get(a.ident if column == "ident" else a.canonical)
                if k is not None and a.ident not in out and k.article_id not in taken:
                    out[a.ident] = k
                    taken.add(k.article_id)
        return out

    def dates(self, sid: str, idents: Sequence[str]) -> dict[str, int]:
        """``ident -> date_ms`` of the articles of ``sid`` among ``idents``."""
        return dict(
            self._rows_in(
                "SELECT ident, date_ms FROM articles WHERE source = ? AND ident IN (?)",
                idents,
                sid,
            )
        )

    def add_article(
        self,
        article: Article,
        path: str,
        number: int | None,
        h: str,
        now_ms: int,
        refs: Collection[str] = (),
    ) -> int:
        """Insert one new article (see :meth:`add_articles`); returns its id."""
        return self.add_articles([NewArticle(article, path, number, h, refs)], now_ms)[0]

    def add_articles(self, new: Sequence[NewArticle], now_ms: int) -> list[int]:
        """Insert new articles (each with its file hash) and their first revisions and
        rendering dependencies; returns their ids, in order.

        All rows of a kind go in one statement (see ``db.insert_rows``), so ids are given
        here.  In SQLite, the next ones after the highest, as SQLite itself would give them
        (the write transaction keeps every other writer out); in PostgreSQL, as many as are
        needed taken from the column's sequence in one query (a worker's round trip per
        article before).
        """
        rows = [
            (
                n.article.source,
                n.article.ident,
                n.article.key,
                n.path,
                n.number,
                n.article.url,
                n.article.canonical,
                n.article.title,
                n.article.date_ms,
                n.hash,
                now_ms,
                now_ms,
                n.alt_path,
            )
            for n in new
        ]
        if self.dialect == "sqlite":
            top = self.db.execute("SELECT coalesce(max(id), 0) FROM articles").fetchone()[0]
            ids = list(range(top + 1, top + 1 + len(rows)))
        else:
            ids = [
                int(r[0])
                for r in self.db.execute(
                    "SELECT nextval(pg_get_serial_sequence('articles', 'id')) "
                    "FROM generate_series(1, ?)",
                    (len(rows),),
                )
            ]
        insert_rows(
            self.db,
            "INSERT INTO articles (id, source, ident, key, path, number, url, canonical, "
            "title, date_ms, content_hash, first_seen_ms, last_changed_ms, alt_path)",
            [(i, *r) for i, r in zip(ids, rows, strict=True)],
        )
        self._add_revisions(
            [(i, n.article, n.hash, n.packed) for i, n in zip(ids, new, strict=True)], now_ms
        )
        insert_rows(
            self.db,
            "INSERT INTO refs (key, article_id)",
            [(k, i) for i, n in zip(ids, new, strict=True) for k in sorted(n.refs)],
            "ON CONFLICT DO NOTHING",
        )
        return ids

    def update_article(
        self,
        known: Known,
        article: Article,
        h: str,
        now_ms: int,
        alt_path: str | None = None,
        packed: str | bytes | None = None,
    ) -> None:
        """Record a changed article: the new state and one more revision; earlier ones stay."""
        self.db.execute(
            "UPDATE articles SET ident = ?, url = ?, canonical = ?, title = ?, date_ms = ?, "
            "content_hash = ?, last_changed_ms = ?, alt_path = ? WHERE id = ?",
            (
                article.ident,
                article.url,
                article.canonical,
                article.title,
                article.date_ms,
                h,
                now_ms,
                alt_path,
                known.article_id,
            ),
        )
        self._add_revisions([(known.article_id, article, h, packed)], now_ms)

    def adopt(self, sid: str, files: Sequence[ExistingFile], now_ms: int) -> int:
        """Insert article files found on disk (see ``adopt``); returns how many were new."""
        added = 0
        for f in files:
            exists = self.db.execute(
                "SELECT 1 FROM articles WHERE source = ? AND (ident = ? OR path = ?)",
                (sid, f.article.ident, f.path),
            ).fetchone()
            if not exists:
                self.add_article(
                    f.article, f.path, f.number, f.hash, now_ms, path_keys(f.article.body)
                )
                added += 1
        return added

    def take_over(self, known: Known, article: Article) -> None:
        """An unchanged article matched by link under a new ident: remember the new ident."""
        if known.ident != article.ident:
            self.db.execute(
                "UPDATE articles SET ident = ? WHERE id = ?", (article.ident, known.article_id)
            )

    def _add_revisions(
        self, revisions: Sequence[tuple[int, Article, str, str | bytes | None]], now_ms: int
    ) -> None:
        """One revision per ``(article id, article, file hash, body as packed or None)``."""
        insert_rows(
            self.db,
            "INSERT INTO revisions (article_id, content_hash, seen_ms, url, title, date_ms, "
            "authors, body)",
            [
                (
                    aid,
                    h,
                    now_ms,
                    a.url,
                    a.title,
                    a.date_ms,
                    json.dumps(list(a.authors), ensure_ascii=False),
                    pack(self.dialect, a.body) if packed is None else packed,
                )
                for aid, a, h, packed in revisions
            ],
        )

    def needs_adoption(self, sid: str) -> bool:
        """True until the files already in a source's folder have been taken into the catalog."""
        row = self.db.execute("SELECT adopted FROM sources WHERE id = ?", (sid,)).fetchone()
        return row is not None and not row[0]

    def mark_adopted(
        self, sid: str, next_number: int | None, last_changed_ms: int | None = None
    ) -> None:
        """Adoption done; numbering continues below ``next_number`` when given, and the
        source last changed at ``last_changed_ms`` if the catalog knows no better."""
        if last_changed_ms is not None:
            self.db.execute(
                "UPDATE sources SET last_changed_ms = ? WHERE id = ? AND last_changed_ms IS NULL",
                (last_changed_ms, sid),
            )
        if next_number is None:
            self.db.execute("UPDATE sources SET adopted = 1 WHERE id = ?", (sid,))
        else:
            self.db.execute(
                "UPDATE sources SET adopted = 1, next_number = "
                "CASE WHEN next_number < ? THEN next_number ELSE ? END WHERE id = ?",
                (next_number, next_number, sid),
            )

    def set_changed(self, sid: str, now_ms: int, next_number: int) -> None:
        """A pass wrote files for ``sid``: remember when, and the next free number."""
        self.db.execute(
            "UPDATE sources SET last_changed_ms = ?, next_number = ? WHERE id = ?",
            (now_ms, next_number, sid),
        )

    def revisions(self, sid: str, ident: str) -> list[tuple[str, int, str]]:
        """``(content_hash, seen_ms, title)`` of every revision of one article, oldest first."""
        return list(
            self.db.execute(
                "SELECT r.content_hash, r.seen_ms, r.title FROM revisions r "
                "JOIN articles a ON a.id = r.article_id WHERE a.source = ? AND a.ident = ? "
                "ORDER BY r.id",
                (sid, ident),
            )
        )

    def list_entries(self, sid: str, limit: int, *, by_number: bool) -> list[ListEntry]:
        """The newest ``limit`` articles of a source: lowest numbers, or latest dates."""
        order = "number ASC" if by_number else "date_ms DESC, id DESC"
        return [
            ListEntry(*row)
            for row in self.db.execute(
                f"SELECT path, title, date_ms, number, home FROM articles WHERE source = ? "
                f"ORDER BY {order} LIMIT ?",
                (sid, limit),
            )
        ]

    # -- what renderings depend on ------------------------------------------------------------

    def link_targets(self, keys: Sequence[str], prefer: str) -> dict[str, str]:
        """``key -> path`` of archived articles for link keys (``id:…`` idents, ``url:…``
        canonical links), any source; an article of source ``prefer`` wins a tie (DW's
        Simplified and Traditional sites share article ids)."""
        out: dict[str, tuple[bool, str]] = {}
        idents = [k for k in keys if k.startswith("id:")]
        canons = [k[4:] for k in keys if k.startswith("url:")]
        for column, values, prefix in (("ident", idents, ""), ("canonical", canons, "url:")):
            rows = self._rows_in(
                f"SELECT {column}, source, path FROM articles WHERE {column} IN (?) ORDER BY id",
                values,
            )
            for value, source, path in rows:
                key = prefix + value
                mine = source == prefer
                if key not in out or (mine and not out[key][0]):
                    out[key] = (mine, path)
        return {k: path for k, (_mine, path) in out.items()}

    def set_refs(self, article_id: int, keys: Sequence[str]) -> None:
        """What an article's rendering depends on: link keys and ``img:`` image URLs, in
        place of what it depended on before (a new article's are made by :meth:`add_articles`)."""
        self.db.execute("DELETE FROM refs WHERE article_id = ?", (article_id,))
        insert_rows(
            self.db,
            "INSERT INTO refs (key, article_id)",
            [(k, article_id) for k in keys],
            "ON CONFLICT DO NOTHING",
        )

    def add_pending(self, keys: Sequence[str]) -> None:
        """Keys that became resolvable (an article arrived, an image got its copy): the
        articles depending on them are rendered again at the end of the pass.  Kept in the
        catalog, in the same transaction as the arrival, so a killed pass still does it."""
        insert_rows(
            self.db,
            "INSERT INTO pending_refs (key)",
            [(k,) for k in keys],
            "ON CONFLICT DO NOTHING",
        )

    def pending(self) -> list[str]:
        """Keys waiting for their dependants to be rendered again."""
        return [r[0] for r in self.db.execute("SELECT key FROM pending_refs ORDER BY key")]

    def clear_pending(self, keys: Sequence[str]) -> None:
        """Those keys are done."""
        for _cursor in self._run_in("DELETE FROM pending_refs WHERE key IN (?)", keys):
            pass

    def referrers(self, keys: Sequence[str]) -> list[int]:
        """Ids of the articles whose rendering depends on any of ``keys``."""
        rows = self._rows_in("SELECT article_id FROM refs WHERE key IN (?)", keys)
        return sorted({r[0] for r in rows})

    def mark_unpublished(self, article_ids: Sequence[int]) -> None:
        """These articles' rows changed without their files (a worker recorded them): the
        publisher writes the files.  In the transaction that records them."""
        self.db.executemany(
            "INSERT INTO unpublished (article_id) VALUES (?) ON CONFLICT DO NOTHING",
            [(i,) for i in article_ids],
        )

    def unpublished(self, limit: int | None = None) -> list[int]:
        """Ids of the articles whose files wait for the publisher, oldest first."""
        sql = "SELECT article_id FROM unpublished ORDER BY article_id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [r[0] for r in self.db.execute(sql)]

    def unpublished_count(self) -> int:
        """How many articles wait for the publisher."""
        return int(self.db.execute("SELECT count(*) FROM unpublished").fetchone()[0])

    def clear_unpublished(self, article_ids: Sequence[int]) -> None:
        """Those articles' files are written and durable."""
        self.db.executemany(
            "DELETE FROM unpublished WHERE article_id = ?", [(i,) for i in article_ids]
        )

    def article_ids(self, sources: Sequence[str]) -> list[int]:
        """Every article id of these sources."""
        rows = self._rows_in("SELECT id FROM articles WHERE source IN (?)", sources)
        return sorted(r[0] for r in rows)

    def stored(self, article_ids: Sequence[int]) -> list[Stored]:
        """The articles with these ids, each with its latest revision's content."""
        out = []
        rows = self._rows_in(
            "SELECT a.id, a.ident, a.content_hash, a.path, a.number, a.source, a.key, "
            "r.url, r.title, r.date_ms, r.body, r.authors, a.canonical, a.alt_path "
            "FROM articles a JOIN revisions r ON r.id = "
            "(SELECT max(id) FROM revisions WHERE article_id = a.id) "
            "WHERE a.id IN (?) ORDER BY a.id",
            article_ids,
        )
        for row in rows:
            aid, ident, h, path, number, source, key = row[:7]
            url, title, date, body, authors, canon, alt = row[7:]
            names = tuple(json.loads(authors))
            body = unpack(body)
            article = Article(source, ident, key, url, title, date, body, names, "", canon)
            out.append(Stored(Known(aid, ident, h, path, number), article, alt))
        return out

    def set_rendered(self, article_id: int, h: str, alt_path: str | None) -> None:
        """An article's file was rendered again (same revision, new links or images)."""
        self.db.execute(
            "UPDATE articles SET content_hash = ?, alt_path = ? WHERE id = ?",
            (h, alt_path, article_id),
        )

    # -- image copies -------------------------------------------------------------------------

    def asset_paths(self, urls: Sequence[str]) -> dict[str, str]:
        """``url -> archive path`` of the images among ``urls`` that have a copy."""
        return dict(
            self._rows_in("SELECT url, path FROM assets WHERE status = 'ok' AND url IN (?)", urls)
        )

    def assets_to_fetch(self, urls: Sequence[str], now_ms: int, max_attempts: int) -> list[str]:
        """Those of ``urls`` never tried, or failed and due for another try."""
        seen: dict[str, tuple[str, int, int | None]] = {
            url: (status, attempts, next_try)
            for url, status, attempts, next_try in self._rows_in(
                "SELECT url, status, attempts, next_try_ms FROM assets WHERE url IN (?)", urls
            )
        }
        out = []
        for url in dict.fromkeys(urls):
            st = seen.get(url)
            if st is None or (
                st[0] == "failed" and st[1] < max_attempts and (st[2] or 0) <= now_ms
            ):
                out.append(url)
        return out

    def assets_due(self, now_ms: int, max_attempts: int, limit: int = 1000) -> list[str]:
        """Failed image downloads due for another try."""
        return [
            r[0]
            for r in self.db.execute(
                "SELECT url FROM assets WHERE status = 'failed' AND attempts < ? "
                "AND coalesce(next_try_ms, 0) <= ? ORDER BY next_try_ms NULLS FIRST LIMIT ?",
                (max_attempts, now_ms, limit),
            )
        ]

    def record_asset(
        self,
        url: str,
        now_ms: int,
        *,
        path: str | None = None,
        content_type: str | None = None,
        size: int | None = None,
        error: str | None = None,
        refused: bool = False,
        next_try_ms: int | None = None,
    ) -> None:
        """The outcome of one image download: a copy at ``path``, a failure to retry at
        ``next_try_ms``, or a refusal (too large, not an allowed image) never retried."""
        status = "ok" if path else ("refused" if refused else "failed")
        self.db.execute(
            "INSERT INTO assets (url, path, status, content_type, bytes, attempts, last_error, "
            "next_try_ms, first_ms, last_ms) VALUES (?,?,?,?,?,1,?,?,?,?) "
            "ON CONFLICT (url) DO UPDATE SET path = excluded.path, status = excluded.status, "
            "content_type = excluded.content_type, bytes = excluded.bytes, "
            "attempts = assets.attempts + 1, last_error = excluded.last_error, "
            "next_try_ms = excluded.next_try_ms, last_ms = excluded.last_ms",
            (url, path, status, content_type, size, error, next_try_ms, now_ms, now_ms),
        )

    def asset_failures(self) -> list[tuple[str, str, int]]:
        """``(url, error, attempts)`` of images that have no copy, for ``status``."""
        return list(
            self.db.execute(
                "SELECT url, coalesce(last_error, ''), attempts FROM assets "
                "WHERE status != 'ok' ORDER BY url"
            )
        )

    def keep_asset_data(self, path: str, data: bytes) -> None:
        """A copy a worker downloaded, for the publisher to write at ``path``."""
        self.db.execute(
            "INSERT INTO asset_data (path, data) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (path, data),
        )

    def asset_data(self, limit: int) -> list[tuple[str, bytes]]:
        """Copies waiting for the publisher (``path, data``), by path."""
        rows = self.db.execute("SELECT path, data FROM asset_data ORDER BY path LIMIT ?", (limit,))
        return [(path, bytes(data)) for path, data in rows]

    def drop_asset_data(self, paths: Sequence[str]) -> None:
        """Those copies are files of the archive now, durable."""
        self.db.executemany("DELETE FROM asset_data WHERE path = ?", [(p,) for p in paths])

    def asset_attempts(self, url: str) -> int:
        """How often an image download has been tried so far."""
        row = self.db.execute("SELECT attempts FROM assets WHERE url = ?", (url,)).fetchone()
        return int(row[0]) if row else 0

    # -- the static site -----------------------------------------------------------------------

    def revision(self, revision_id: int, current: Article) -> Article:
        """Revision ``revision_id`` of the article ``current`` is the latest state of."""
        url, title, date_ms, authors, body = self.db.execute(
            "SELECT url, title, date_ms, authors, body FROM revisions WHERE id = ?",
            (revision_id,),
        ).fetchone()
        return replace(
            current,
            url=url,
            title=title,
            date_ms=date_ms,
            body=unpack(body),
            authors=tuple(json.loads(authors)),
        )

    def copied_assets(self) -> list[str]:
        """Archive paths of every image copy."""
        return [r[0] for r in self.db.execute("SELECT path FROM assets WHERE status = 'ok'")]

    def site_pages(self) -> dict[str, str]:
        """``page -> fingerprint`` as the last site build wrote them."""
        return dict(self.db.execute("SELECT path, fingerprint FROM site_pages"))

    def set_site_pages(self, written: dict[str, str], removed: Sequence[str]) -> None:
        """Record pages a build wrote and pages it removed."""
        self.db.executemany(
            "INSERT INTO site_pages (path, fingerprint) VALUES (?, ?) "
            "ON CONFLICT (path) DO UPDATE SET fingerprint = excluded.fingerprint",
            written.items(),
        )
        self.db.executemany("DELETE FROM site_pages WHERE path = ?", [(p,) for p in removed])

    def site_state(self, key: str) -> str | None:
        """One remembered value of the site build."""
        row = self.db.execute("SELECT value FROM site_state WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_site_state(self, key: str, value: str) -> None:
        """Remember one value of the site build."""
        self.db.execute(
            "INSERT INTO site_state (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def clear_site(self) -> None:
        """Forget what was built (the next build writes every page)."""
        self.db.execute("DELETE FROM site_pages")
