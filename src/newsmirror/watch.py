"""Watching archived articles: re-checks on a decaying schedule, and what they find.

After an article is archived it is looked at again at growing intervals (``[watch]
intervals``: 1 h, 3 h, 12 h, 1 d, 3 d, 7 d by default, the last repeating) until the
horizon has passed, at most ``budget`` pages a pass, the most overdue first, with the
usual per-host politeness of the fetcher.  Each look (``sources.recheck``) ends as:

- the same (304, or a page whose text compares equal after normalising white space): the
  next interval;
- an **edit** (title, text or stated date differ): the new version becomes a revision and
  the file is rewritten, the event names what changed, and the schedule starts again from
  its first interval (an edited story is often edited again);
- a take-down signal: counted; ``confirm`` signals in a row (on different passes) make a
  **removal** — the file keeps the last text the outlet served, nothing is deleted;
- a **restoration**: a removed article that answers with its article again;
- a failed look (timeouts, 5xx, refusals): no conclusion; asked again later, backing off.

Edits seen by an ordinary pass (a feed item whose text changed) are events too
(:func:`edit_detail` decides, on the same normalised text).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace

from . import evidence
from .config import Settings, SourceSettings, WatchSettings
from .errors import is_fatal, reason
from .model import Article
from .sources import Context
from .sources.fulltext import refusals_of, server_of
from .sources.recheck import Outcome, look
from .store.catalog import Catalog
from .store.search import plain_text
from .store.watch import EDIT, REMOVAL, RESTORATION, Check, Watchlist

log = logging.getLogger(__name__)

# Stores edited articles (file and revision) and returns, per ident, the article id of
# each one it wrote.  The updater supplies it: rendering and writing are its business.
StoreEdits = Callable[[SourceSettings, list[Article]], Awaitable[set[str]]]


def _text(article: Article) -> tuple[str, str, int]:
    return (
        " ".join(article.title.split()),
        " ".join(plain_text(article.body).split()),
        article.date_ms,
    )


def edit_detail(before: Article, after: Article) -> str:
    """What an outlet changed between two versions ("title, text"), or "" when the
    difference is only white space or markup."""
    a, b = _text(before), _text(after)
    names = [n for n, x, y in zip(("title", "text", "date"), a, b, strict=True) if x != y]
    return ", ".join(names)


def next_due(watch: WatchSettings, step: int, first_seen_ms: int, now_ms: int) -> int | None:
    """When the check after ``step`` is due; ``None`` once the horizon has passed."""
    interval = watch.intervals[min(step, len(watch.intervals) - 1)]
    due = now_ms + int(interval * 1000)
    if due > first_seen_ms + int(watch.horizon * 1000):
        return None
    return due


def enroll(catalog: Catalog, watch: WatchSettings, now_ms: int) -> int:
    """Give the articles archived since the last time their first check; returns how many.
    What schedules the looks does it (a pass, or the workers' schedule, once for all the
    re-check jobs it queues)."""
    first, horizon = int(watch.intervals[0] * 1000), int(watch.horizon * 1000)
    with catalog.transaction():
        return Watchlist(catalog).enroll(now_ms, first, horizon)


@dataclass(slots=True)
class WatchReport:
    """What the re-checks of one pass found."""

    checked: int = 0
    edits: int = 0
    removals: int = 0
    restorations: int = 0
    failed: int = 0


class Rechecker:
    """One pass's re-checks, against one catalog and fetcher."""

    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        ctx: Context,
        store_edits: StoreEdits,
        clock: Callable[[], int],
        stopped: Callable[[], bool] = lambda: False,
        edits_in_transaction: bool = False,
    ) -> None:
        self.settings = settings
        # store_edits writes catalog rows only, in the transaction that records the looks
        # (a worker's job: the publisher writes the files).  A job killed between an edit
        # and its event would otherwise leave the edit stored and the event lost: the
        # retry's look finds the page the same as what is stored.
        self.edits_in_transaction = edits_in_transaction
        self.watch = settings.watch
        self.catalog = catalog
        self.list = Watchlist(catalog)
        self.ctx = ctx
        self.store_edits = store_edits
        self.clock = clock
        self.stopped = stopped  # a stop request: looks not yet asked are left for later
        self.refusals = refusals_of(ctx.fetcher)
        self.to_save: list[str] = []  # pages to ask Save Page Now for

    async def run(self, sources: Sequence[SourceSettings]) -> WatchReport:
        """Look at every due article of these sources, within the budget (of those
        :func:`enroll` has given checks)."""
        report = WatchReport()
        now = self.clock()
        by_id = {s.id: s for s in sources}
        due = self.list.due(now, list(by_id), self.watch.budget)
        if not due:
            return report
        stored = {
            st.known.article_id: st.article
            for st in self.catalog.stored([c.article_id for c in due])
        }
        checks = [c for c in due if c.article_id in stored]
        outcomes = await asyncio.gather(
            *(self._look(by_id[c.source], stored[c.article_id], c) for c in checks)
        )
        report.checked = sum(1 for o in outcomes if o.kind != "skipped")
        edited: dict[str, list[tuple[Check, Article, str]]] = {}
        for i, (check, outcome) in enumerate(zip(checks, outcomes, strict=True)):
            new = outcome.article
            if outcome.kind != "content" or new is None:
                continue
            if outcome.page_title and check.page_title not in (None, outcome.page_title):
                # The page's headline changed since the last look: the outlet retitled the
                # story (the feed it came from may no longer list it).
                new = replace(new, title=outcome.page_title)
                outcomes[i] = replace(outcome, article=new)
            detail = edit_detail(stored[check.article_id], new)
            if detail:
                edited.setdefault(check.source, []).append((check, new, detail))
        if self.edits_in_transaction:
            with self.catalog.transaction():
                written = await self._store(by_id, edited)
                self._record_all(checks, outcomes, edited, written, report)
        else:
            written = await self._store(by_id, edited)
            with self.catalog.transaction():
                self._record_all(checks, outcomes, edited, written, report)
        if self.watch.save_page_now:
            await asyncio.gather(*(self._save(url) for url in dict.fromkeys(self.to_save)))
        return report

    def _record_all(
        self,
        checks: list[Check],
        outcomes: list[Outcome],
        edited: dict[str, list[tuple[Check, Article, str]]],
        written: dict[int, tuple[int | None, str]],
        report: WatchReport,
    ) -> None:
        """Record what each look found (in the open transaction)."""
        unstored = {c.article_id for items in edited.values() for c, _a, _d in items} - set(written)
        now = self.clock()
        for check, outcome in zip(checks, outcomes, strict=True):
            if outcome.kind == "skipped":
                continue  # still due: the next pass asks
            if check.article_id in unstored:
                # Its validators must not be kept: a 304 next time would hide the edit.
                outcome = Outcome("failed", "the edited version could not be stored")
            try:
                with self.catalog.part():
                    self._record(check, outcome, now, written, report)
            except Exception as e:  # one article's bookkeeping, never the pass's
                if is_fatal(e):
                    raise
                log.error("re-check of article %d: %s", check.article_id, reason(e))

    async def _save(self, url: str) -> None:
        """Ask the Internet Archive to capture ``url`` (its own copy, beside ours)."""
        try:
            r = await self.ctx.fetcher.get(self.watch.save_page_now_url + url)
            log.info("Save Page Now: %s -> HTTP %d", url, r.status)
        except Exception as e:  # a capture that fails costs nothing else
            if is_fatal(e):
                raise
            log.warning("Save Page Now: %s: %s", url, reason(e))

    async def _look(self, source: SourceSettings, stored: Article, check: Check) -> Outcome:
        server = server_of(stored.url)
        async with self.refusals.slots[server]:
            if self.stopped():
                return Outcome("skipped", "the pass is stopping")
            if why := await self.refusals.why_not(server):
                return Outcome("failed", why)
            try:
                outcome = await look(source, stored, check.etag, check.last_modified, self.ctx)
            except Exception as e:  # whatever a page does, it costs only its own look
                if is_fatal(e):
                    raise
                return Outcome("failed", reason(e))
            if outcome.kind == "failed":
                await self.refusals.note(server, outcome.status)
            return outcome

    async def _store(
        self,
        by_id: dict[str, SourceSettings],
        edited: dict[str, list[tuple[Check, Article, str]]],
    ) -> dict[int, tuple[int | None, str]]:
        """Write the edited articles; per article id: (revision before, what changed)."""
        out: dict[int, tuple[int | None, str]] = {}
        for sid, items in edited.items():
            before = {c.article_id: self.list.latest_revision(c.article_id) for c, _a, _d in items}
            try:
                # Inside the looks' transaction, a source's failed edits are undone alone.
                with self.catalog.part() if self.edits_in_transaction else nullcontext():
                    done = await self.store_edits(by_id[sid], [a for _c, a, _d in items])
            except Exception as e:  # this source's edits wait for the next look
                if is_fatal(e):
                    raise
                log.error("%s: storing edited articles: %s", sid, reason(e))
                continue
            for check, article, detail in items:
                if article.ident in done:
                    out[check.article_id] = (before[check.article_id], detail)
        return out

    def _evidence(self, article_id: int, event_id: int, now: int, outcome: Outcome) -> None:
        """Keep the fetch behind an event as WARC records (when there was an answer)."""
        r = outcome.response
        if r is not None and r.status != 304:
            self.list.add_evidence(
                article_id, event_id, now, r.url, r.status, evidence.records(r, now)
            )

    def _record(
        self,
        check: Check,
        outcome: Outcome,
        now: int,
        written: dict[int, tuple[int | None, str]],
        report: WatchReport,
    ) -> None:
        w, aid = self.list, check.article_id
        if outcome.kind == "failed":
            report.failed += 1
            failures = check.failures + 1
            # Backing off: the first interval, doubled per failure in a row.
            wait = self.watch.intervals[0] * 2 ** min(failures, 8)
            due = now + int(wait * 1000)
            horizon = check.first_seen_ms + int(self.watch.horizon * 1000)
            w.record(
                check,
                now_ms=now,
                due_ms=due if due <= horizon else None,
                result=f"failed: {outcome.detail}",
                failures=failures,
            )
            return
        if outcome.kind == "gone":
            misses = check.misses + 1
            if misses < self.watch.confirm:
                # Asked again on the next pass before it is called a removal.
                w.record(
                    check,
                    now_ms=now,
                    due_ms=now,
                    result=f"gone? {outcome.detail}",
                    state="suspect" if check.state != "removed" else "removed",
                    misses=misses,
                    failures=0,
                )
                return
            if check.state != "removed":
                event = w.add_event(aid, now, REMOVAL, outcome.detail, w.latest_revision(aid))
                self._evidence(aid, event, now, outcome)
                self.to_save.append(check.url)
                report.removals += 1
            w.record(
                check,
                now_ms=now,
                due_ms=next_due(self.watch, check.step + 1, check.first_seen_ms, now),
                result=f"gone: {outcome.detail}",
                step=check.step + 1,
                state="removed",
                misses=misses,
                failures=0,
            )
            return
        # The article answers: same, alive, or with (maybe edited) content.
        if check.state == "removed":
            status = f"HTTP {outcome.status or 200}"
            event = w.add_event(aid, now, RESTORATION, status, w.latest_revision(aid))
            self._evidence(aid, event, now, outcome)
            report.restorations += 1
        step = check.step + 1
        result = "same"
        if aid in written:
            before_rev, detail = written[aid]
            event = w.add_event(aid, now, EDIT, detail, before_rev, w.latest_revision(aid))
            self._evidence(aid, event, now, outcome)
            self.to_save.append(check.url)
            report.edits += 1
            step, result = 0, f"edited: {detail}"
        w.record(
            check,
            now_ms=now,
            due_ms=next_due(self.watch, step, check.first_seen_ms, now),
            result=result,
            step=step,
            state="live",
            misses=0,
            failures=0,
            keep_validators=False,
            etag=outcome.etag,
            last_modified=outcome.last_modified,
            page_title=outcome.page_title or None,
        )
