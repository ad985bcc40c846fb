"""What re-checks of archived articles keep in the catalog: when each is next looked at,
what it last answered, and the events found (edits, removals, restorations).

The schedule lives beside the articles (table ``checks``, one row per watched article,
created when an article is first due); events are rows of ``events`` pointing at the
revisions they compare, so the text of both sides is always the catalog's own copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..model import clamp_ms
from .catalog import Catalog
from .db import insert_id, unpack

EDIT, REMOVAL, RESTORATION, DISAPPEARANCE = "edit", "removal", "restoration", "disappearance"
KINDS = (EDIT, REMOVAL, RESTORATION, DISAPPEARANCE)


@dataclass(frozen=True, slots=True)
class Check:
    """One watched article as its schedule row has it."""

    article_id: int
    source: str
    url: str
    first_seen_ms: int
    step: int
    etag: str | None
    last_modified: str | None
    state: str  # live | suspect | removed
    misses: int
    failures: int
    page_title: str | None  # the page's headline at the last look that read the page


@dataclass(frozen=True, slots=True)
class Event:
    """An edit, removal, restoration or disappearance of one article."""

    id: int
    article_id: int
    at_ms: int
    kind: str
    detail: str
    before_rev: int | None
    after_rev: int | None
    source: str
    path: str
    title: str
    url: str


@dataclass(frozen=True, slots=True)
class Revision:
    """One stored version of an article."""

    id: int
    seen_ms: int
    title: str
    date_ms: int
    body: str


def _revision(row: Sequence[Any]) -> Revision:
    rid, seen_ms, title, date_ms, body = row
    return Revision(rid, seen_ms, title, date_ms, unpack(body))


class Watchlist:
    """The catalog's re-check schedule and events (same connection, same transactions)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.db = catalog.db

    def enroll(self, now_ms: int, first_delay_ms: int, horizon_ms: int) -> int:
        """Give every article seen within the horizon and not yet watched its first check
        (``first_delay_ms`` after it was first seen); returns how many."""
        cur = self.db.execute(
            "INSERT INTO checks (article_id, due_ms) "
            "SELECT a.id, a.first_seen_ms + ? FROM articles a "
            "WHERE a.first_seen_ms >= ? AND NOT EXISTS "
            "(SELECT 1 FROM checks c WHERE c.article_id = a.id) "
            # Jobs of several workers enroll at once: an article another one enrolled
            # meanwhile is left as it is.
            "ON CONFLICT DO NOTHING",
            (first_delay_ms, now_ms - horizon_ms),
        )
        return cur.rowcount

    def due_sources(self, now_ms: int, sources: Sequence[str]) -> list[str]:
        """Those of ``sources`` with a check due by ``now_ms`` (the workers' schedule
        queues a re-check job for each)."""
        if not sources:
            return []
        marks = ",".join("?" * len(sources))
        rows = self.db.execute(
            "SELECT DISTINCT a.source FROM checks c JOIN articles a ON a.id = c.article_id "
            f"WHERE c.due_ms <= ? AND a.source IN ({marks}) ORDER BY 1",
            (now_ms, *sources),
        )
        return [r[0] for r in rows]

    def due(self, now_ms: int, sources: Sequence[str], limit: int) -> list[Check]:
        """The checks due by ``now_ms`` of these sources, most overdue first."""
        if not sources or limit <= 0:
            return []
        marks = ",".join("?" * len(sources))
        rows = self.db.execute(
            "SELECT c.article_id, a.source, a.url, a.first_seen_ms, c.step, c.etag, "
            "c.last_modified, c.state, c.misses, c.failures, c.page_title FROM checks c "
            f"JOIN articles a ON a.id = c.article_id WHERE c.due_ms <= ? AND a.source IN ({marks}) "
            "ORDER BY c.due_ms, c.article_id LIMIT ?",
            (now_ms, *sources, limit),
        )
        return [Check(*row) for row in rows]

    def record(
        self,
        check: Check,
        *,
        now_ms: int,
        due_ms: int | None,
        result: str,
        step: int | None = None,
        state: str | None = None,
        misses: int | None = None,
        failures: int | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        keep_validators: bool = True,
        page_title: str | None = None,
    ) -> None:
        """What one re-check found and when the next is due (``None``: never again)."""
        self.db.execute(
            "UPDATE checks SET step = ?, due_ms = ?, state = ?, misses = ?, failures = ?, "
            "etag = ?, last_modified = ?, last_ms = ?, last_result = ?, "
            "page_title = coalesce(?, page_title) WHERE article_id = ?",
            (
                check.step if step is None else step,
                due_ms,
                check.state if state is None else state,
                check.misses if misses is None else misses,
                check.failures if failures is None else failures,
                check.etag if keep_validators and etag is None else etag,
                check.last_modified if keep_validators and last_modified is None else last_modified,
                now_ms,
                result,
                page_title,
                check.article_id,
            ),
        )

    def add_event(
        self,
        article_id: int,
        at_ms: int,
        kind: str,
        detail: str,
        before_rev: int | None = None,
        after_rev: int | None = None,
    ) -> int:
        """Keep one event; returns its id."""
        assert kind in KINDS
        return insert_id(
            self.db,
            self.catalog.dialect,
            "INSERT INTO events (article_id, at_ms, kind, detail, before_rev, after_rev) "
            "VALUES (?,?,?,?,?,?)",
            (article_id, at_ms, kind, detail, before_rev, after_rev),
        )

    def events(
        self,
        *,
        article_id: int | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = 1_000_000,
    ) -> list[Event]:
        """Events, newest first, with their article's source, path and current title."""
        where, args = [], []
        if article_id is not None:
            where.append("e.article_id = ?")
            args.append(article_id)
        if since_ms is not None:
            where.append("e.at_ms >= ?")
            args.append(since_ms)
        if until_ms is not None:
            where.append("e.at_ms < ?")
            args.append(until_ms)
        sql = (
            "SELECT e.id, e.article_id, e.at_ms, e.kind, e.detail, e.before_rev, e.after_rev, "
            "a.source, a.path, a.title, a.url FROM events e JOIN articles a ON a.id = e.article_id"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY e.at_ms DESC, e.id DESC LIMIT ?"
        )
        return [Event(*row) for row in self.db.execute(sql, (*args, limit))]

    def add_evidence(
        self, article_id: int, event_id: int | None, at_ms: int, url: str, status: int, warc: bytes
    ) -> None:
        """Keep the WARC records of the fetch behind an event."""
        self.db.execute(
            "INSERT INTO evidence (article_id, event_id, at_ms, url, status, warc) "
            "VALUES (?,?,?,?,?,?)",
            (article_id, event_id, at_ms, url, status, warc),
        )

    def evidence(
        self,
        *,
        article_id: int | None = None,
        source: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
    ) -> list[bytes]:
        """Stored WARC records, oldest first, of an article, a source and/or a period."""
        where, args = [], []
        for clause, value in (
            ("v.article_id = ?", article_id),
            ("a.source = ?", source),
            ("v.at_ms >= ?", since_ms),
            ("v.at_ms < ?", until_ms),
        ):
            if value is not None:
                where.append(clause)
                args.append(value)
        sql = "SELECT v.warc FROM evidence v JOIN articles a ON a.id = v.article_id"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [bytes(r[0]) for r in self.db.execute(sql + " ORDER BY v.at_ms, v.id", args)]

    def left_listing(self, sid: str, listed: Sequence[tuple[str, int]], now_ms: int) -> list[int]:
        """Articles that left a source's listing while newer than its oldest item (marked
        once, with the time); those listed again are unmarked.  Returns the newly gone."""
        if not listed:
            return []
        idents = {ident for ident, _d in listed}
        oldest = min(d for _i, d in listed)
        gone = [
            int(aid)
            for aid, ident in self.db.execute(
                "SELECT id, ident FROM articles WHERE source = ? AND date_ms > ? "
                "AND first_seen_ms < ? AND unlisted_ms IS NULL",
                (sid, oldest, now_ms),
            )
            if ident not in idents
        ]
        back = [
            int(aid)
            for aid, ident in self.db.execute(
                "SELECT id, ident FROM articles WHERE source = ? AND unlisted_ms IS NOT NULL",
                (sid,),
            )
            if ident in idents
        ]
        self.db.executemany(
            "UPDATE articles SET unlisted_ms = ? WHERE id = ?", [(now_ms, a) for a in gone]
        )
        self.db.executemany(
            "UPDATE articles SET unlisted_ms = NULL WHERE id = ?", [(a,) for a in back]
        )
        return gone

    def months(self) -> list[str]:
        """The months (``YYYY-MM``, UTC) that have events, oldest first.

        Asked month by month through the time index (a few hundred small lookups at most),
        in SQL both engines speak: their date functions differ.
        """
        first, last = self.db.execute("SELECT min(at_ms), max(at_ms) FROM events").fetchone()
        if first is None:
            return []
        out = []
        month, last = _month_start(first), clamp_ms(last)
        while month <= last:
            following = _month_start(month + 32 * 86_400_000)
            if following <= month:  # the end of time the clamp allows
                following = last + 1
            if self.db.execute(
                "SELECT 1 FROM events WHERE at_ms >= ? AND at_ms < ? LIMIT 1", (month, following)
            ).fetchone():
                out.append(datetime.fromtimestamp(month / 1000, UTC).strftime("%Y-%m"))
            month = following
        return out

    def latest_revision(self, article_id: int) -> int | None:
        """The id of an article's newest revision."""
        row = self.db.execute(
            "SELECT max(id) FROM revisions WHERE article_id = ?", (article_id,)
        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def revisions(self, article_id: int) -> list[Revision]:
        """Every stored version of an article, oldest first."""
        return [
            _revision(row)
            for row in self.db.execute(
                "SELECT id, seen_ms, title, date_ms, body FROM revisions WHERE article_id = ? "
                "ORDER BY id",
                (article_id,),
            )
        ]

    def revision(self, revision_id: int) -> Revision | None:
        """One stored version by its id."""
        row = self.db.execute(
            "SELECT id, seen_ms, title, date_ms, body FROM revisions WHERE id = ?",
            (revision_id,),
        ).fetchone()
        return None if row is None else _revision(row)

    def find_article(self, ref: str) -> int | None:
        """An article by its catalog id, archive path, URL or ident."""
        if ref.isdigit():
            row = self.db.execute("SELECT id FROM articles WHERE id = ?", (int(ref),)).fetchone()
            if row:
                return int(row[0])
        row = self.db.execute(
            "SELECT id FROM articles WHERE path = ? OR alt_path = ? OR url = ? OR canonical = ? "
            "OR ident = ? ORDER BY id LIMIT 1",
            (ref, ref, ref, ref, ref),
        ).fetchone()
        return None if row is None else int(row[0])


def _month_start(ms: int) -> int:
    """The first millisecond (UTC) of the month holding ``ms``."""
    day = datetime.fromtimestamp(clamp_ms(ms) / 1000, UTC)
    return int(datetime(day.year, day.month, 1, tzinfo=UTC).timestamp() * 1000)
