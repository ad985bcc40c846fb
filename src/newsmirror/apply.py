"""Applying what a source brought to the archive, in the order durability needs: files
first (atomically, durable before they are named), then the catalog rows that name them,
in one transaction per source; then the lists, the README and the change pages.

The updater (``pipeline``) decides what to fetch and when; this module decides nothing
about the network.  A storage back end other than SQLite plugs in here.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import random
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from . import evidence
from .config import Settings, SourceSettings
from .decide import Changed, Plan, next_due, plan
from .errors import NewsmirrorError, reason
from .model import Article, SourceResult
from .placement import Placement
from .publish import changes
from .publish.lists import Elsewhere, ReadmeSource, list_path, render_list, render_readme
from .publish.site_bundles import BundlePages, fingerprint
from .render.markdown import Away, away_url, file_hash
from .report import SourceReport
from .store.catalog import Catalog
from .store.files import ArchiveWriter, SyncBarrier
from .store.rotation import Homes
from .store.rows import ListEntry, NewArticle, Stored
from .store.watch import DISAPPEARANCE, EDIT, Watchlist
from .transform.prepare import Prepared, prepare
from .watch import edit_detail

log = logging.getLogger(__name__)

ARCHIVE_BUNDLES = "archive_bundles"  # site_state: bundle path -> what it was made of


def _records(answer: Any, now_ms: int) -> bytes | None:
    """The WARC records of an answer, or None (logged): evidence that cannot be made costs
    the event its evidence, never the source its articles."""
    try:
        return evidence.records(answer, now_ms)
    except Exception as e:
        log.error("evidence of %s: %s", getattr(answer, "url", "?"), reason(e))
        return None


def prepare_stored(
    settings: Settings, catalog: Catalog, article_ids: Sequence[int], away: Away | None
) -> list[tuple[Stored, Prepared]]:
    """These archived articles (of configured sources) from their latest revision, each
    prepared to render again, one ``prepare`` per source."""
    by_id = {s.id: s for s in settings.sources}
    stored = [st for st in catalog.stored(article_ids) if st.article.source in by_id]
    out: list[tuple[Stored, Prepared]] = []
    for source_id in dict.fromkeys(st.article.source for st in stored):
        group = [st for st in stored if st.article.source == source_id]
        ready = prepare(settings, by_id[source_id], [st.article for st in group], catalog, away)
        out += zip(group, ready, strict=True)
    return out


class CommitGroup:
    """The catalog records of sources that become ready together (released by the same
    sync), committed in one transaction, each in a part of its own.

    A commit writes every page its transaction touched, and each source touches about the
    same index pages (the rightmost leaves and their parents): committing the sources of one
    sync together writes a third less.  An exception undoes its own source's part only and
    is that source's; a failed commit is every source's of the group.
    """

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._queue: list[tuple[Callable[[], None], asyncio.Future[None]]] = []

    async def run(self, record: Callable[[], None]) -> None:
        """Run ``record`` (catalog writes, no transaction of its own) and commit it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._queue.append((record, future))
        if len(self._queue) == 1:
            loop.call_soon(self._flush)  # after the other sources woken with this one
        await future

    def _flush(self) -> None:
        batch, self._queue = self._queue, []
        done: list[tuple[asyncio.Future[None], BaseException | None]] = []
        try:
            with self.catalog.transaction():
                for record, future in batch:
                    if future.cancelled():
                        continue  # its source was stopped: its rows wait for the next pass
                    try:
                        with self.catalog.part():
                            record()
                    except Exception as e:  # whatever it is, it is this source's
                        done.append((future, e))
                    else:
                        done.append((future, None))
        except Exception as e:
            done = [(future, e) for _record, future in batch]
        for future, error in done:
            if future.done():
                continue
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)


class Applier:
    """Writes results into one archive and its catalog (one pass at a time)."""

    def __init__(
        self,
        settings: Settings,
        writer: ArchiveWriter,
        *,
        clock: Callable[[], int],
        stop: Callable[[], bool],
        rng: random.Random,
    ) -> None:
        self.settings = settings
        self.root = settings.archive.path
        self.writer = writer
        self.clock = clock
        self.stopped = stop
        self.rng = rng
        self.barrier: SyncBarrier | None = None  # set while a pass shares syncs
        self._group: CommitGroup | None = None
        # False in a worker (queue.py): rows are recorded and marked unpublished; the
        # publisher writes the files from the catalog.
        self.write_files = True

    def _commits(self, catalog: Catalog) -> CommitGroup:
        if self._group is None or self._group.catalog is not catalog:
            self._group = CommitGroup(catalog)
        return self._group

    def _away(self, catalog: Catalog) -> Away | None:
        """Links into period repositories, once the archive is rotated (see ``rotate``)."""
        if not self.settings.rotate.enabled and self.settings.images.repository is None:
            return None
        return Placement(self.settings, catalog).away

    def _plan(
        self, catalog: Catalog, source: SourceSettings, articles: list[Article], next_number: int
    ) -> tuple[dict[str, Prepared], Plan]:
        """The articles prepared for the archive (by ident) and what to write for them."""
        prepared = prepare(self.settings, source, articles, catalog, self._away(catalog))
        by_ident = {x.given.ident: x for x in prepared}
        ready = [x.article for x in prepared]
        return by_ident, plan(
            ready,
            catalog.known(source.id, ready),
            layout=self.settings.archive.layout,
            next_number=next_number,
            render=lambda a, path: by_ident[a.ident].render(path),
        )

    def failed(
        self,
        catalog: Catalog,
        source: SourceSettings,
        why: str,
        result: SourceResult | None = None,
    ) -> SourceReport:
        """Record the source as failing for ``why`` (the report names it, once; the log
        keeps it for -v); ``result`` brings its item errors and the server's Retry-After."""
        log.debug("%s: %s", source.id, why)
        r = SourceReport(
            id=source.id,
            name=source.name,
            error=why,
            item_errors=list(result.item_errors) if result else [],
        )
        state = catalog.source(source.id)
        failures = state.failures if state else 0
        r.newly_failing = failures == 0
        with catalog.transaction():
            catalog.record_failure(source.id, self.clock(), why, self.due(failures + 1, result))
        return r

    async def apply(
        self,
        catalog: Catalog,
        source: SourceSettings,
        result: SourceResult,
        pool: ThreadPoolExecutor,
    ) -> SourceReport:
        """Write one source's files (in a worker thread), then commit its catalog rows."""
        if result.error:
            return self.failed(catalog, source, result.error, result)
        r = SourceReport(id=source.id, name=source.name, item_errors=list(result.item_errors))
        state = catalog.source(source.id)
        assert state is not None  # ensure_source ran before any fetch
        if result.not_modified:
            r.not_modified = True
            with catalog.transaction():
                catalog.record_success(
                    source.id,
                    self.clock(),
                    None,
                    None,
                    keep_validators=True,
                    next_due_ms=self.due(0, result),
                )
            return r
        by_ident, p = self._plan(catalog, source, result.articles, state.next_number)
        r.unchanged = p.unchanged
        groups = [[(nf.path, nf.data), *nf.extra] for nf in p.new]
        groups += [[(ch.known.path, ch.data), *ch.extra] for ch in p.changed]
        files = [f for g in groups for f in g]
        handled = 0
        try:
            if not self.write_files:
                written = [True] * len(files)  # the publisher writes them (see queue.py)
            elif self.settings.archive.fsync:
                # The disk work happens in a worker thread while the next feed is parsed;
                # new files become durable in a sync shared with the other sources
                # (group commit), before the catalog rows that name them are committed.
                written = await asyncio.get_running_loop().run_in_executor(
                    pool,
                    functools.partial(
                        self.writer.write_batch, files, self.stopped, defer_sync=True
                    ),
                )
                if self.barrier is not None:
                    await self.barrier.wait()
            else:
                # Nothing to wait for: a second thread would only contend for the GIL.
                written = self.writer.write_batch(files, self.stopped)
            handled = len(written)
        except NewsmirrorError as e:
            r.error = str(e)
            log.debug("%s: %s", source.id, e)
        done = 0  # articles whose files are all written
        for g in groups:
            if handled < len(g):
                break
            handled -= len(g)
            done += 1
        written_new = p.new[: min(done, len(p.new))]
        written_changed = p.changed[: max(0, done - len(p.new))]
        complete = r.error is None and done == len(groups)
        retry = any(e.retry for e in result.item_errors)
        edits = self._edits(catalog, by_ident, written_changed)
        made = result.packed
        blobs: dict[int, bytes | None] = {}
        now = self.clock()
        watch = Watchlist(catalog)
        recorded = [ch.known.article_id for ch in written_changed]
        arrived: list[str] = []

        def record() -> None:
            adding = []
            for nf in written_new:
                x = by_ident[nf.article.ident]
                adding.append(
                    NewArticle(
                        x.given,
                        nf.path,
                        nf.number,
                        nf.hash,
                        x.refs,
                        x.alt_path(nf.path),
                        made.get(x.given.ident),
                    )
                )
                # Articles already linking here can now link to the copy.
                arrived.extend((x.given.ident, f"url:{x.given.canonical}"))
            recorded.extend(catalog.add_articles(adding, now))
            for ch in written_changed:
                x = by_ident[ch.article.ident]
                catalog.update_article(
                    ch.known,
                    x.given,
                    ch.hash,
                    now,
                    x.alt_path(ch.known.path),
                    made.get(x.given.ident),
                )
                catalog.set_refs(ch.known.article_id, sorted(x.refs))
                if ch.known.article_id in edits:
                    before_rev, detail = edits[ch.known.article_id]
                    aid = ch.known.article_id
                    rev = watch.latest_revision(aid)
                    event = watch.add_event(aid, now, EDIT, detail, before_rev, rev)
                    answer = result.answers.get(ch.article.ident) or result.answers.get("")
                    if answer is not None:
                        # One feed may hold several edits: its records are made once.
                        if id(answer) not in blobs:
                            blobs[id(answer)] = _records(answer, now)
                        blob = blobs[id(answer)]
                        if blob is not None:
                            watch.add_evidence(aid, event, now, answer.url, answer.status, blob)
            catalog.add_pending(arrived)
            for k, a in p.retagged:
                catalog.take_over(k, a)
            if self.settings.watch.enabled and result.listed and complete:
                for aid in watch.left_listing(source.id, result.listed, now):
                    # A weak signal: the page may still answer (the re-check says more).
                    watch.add_event(aid, now, DISAPPEARANCE, "no longer in the feed")
            if r.error:
                r.newly_failing = state.failures == 0
                catalog.record_failure(source.id, now, r.error, self.due(state.failures + 1))
            else:
                # Validators only once everything is in: otherwise a 304 next time would
                # hide the items this pass did not finish.
                catalog.record_success(
                    source.id,
                    now,
                    result.etag,
                    result.last_modified,
                    keep_validators=not complete or retry,
                    next_due_ms=self.due(0, result),
                )
            catalog.record_item_errors(
                source.id, now, [(e.where, e.reason) for e in result.item_errors]
            )
            if not self.write_files:
                catalog.mark_unpublished(recorded)
            if written_new or written_changed:
                numbers = [nf.number for nf in written_new if nf.number is not None]
                next_number = min(numbers) - 1 if numbers else state.next_number
                catalog.set_changed(source.id, now, next_number)

        await self._commits(catalog).run(record)
        r.new, r.updated = len(written_new), len(written_changed)
        for item in result.item_errors:
            log.debug("%s: item %s: %s", source.id, item.where, item.reason)
        return r

    @staticmethod
    def _edits(
        catalog: Catalog, by_ident: dict[str, Prepared], changed: list[Changed]
    ) -> dict[int, tuple[int | None, str]]:
        """Of the rewritten articles, those whose outlet changed title, text or date (not
        only white space or markup): article id -> (revision before, what changed)."""
        if not changed:
            return {}
        watch = Watchlist(catalog)
        before = {st.known.article_id: st.article for st in catalog.stored(
            [ch.known.article_id for ch in changed])}  # fmt: skip
        out = {}
        for ch in changed:
            old = before.get(ch.known.article_id)
            detail = edit_detail(old, by_ident[ch.article.ident].given) if old else ""
            if detail:
                rev = watch.latest_revision(ch.known.article_id)
                out[ch.known.article_id] = (rev, detail)
        return out

    def due(self, failures: int, result: SourceResult | None = None) -> int | None:
        return next_due(
            self.clock(),
            failures=failures,
            interval_s=self.settings.interval,
            retry_after_s=result.retry_after if result else None,
            max_age_s=result.max_age if result else None,
            jitter=self.rng.uniform(0.9, 1.1),
        )

    async def store_edits(
        self, catalog: Catalog, source: SourceSettings, articles: list[Article]
    ) -> set[str]:
        """Write edited versions of archived articles and their revisions; the idents
        whose files were written (the rest are unchanged as files).  Without
        ``write_files`` (a worker's re-check) only the rows are written, in the caller's
        transaction, and the articles wait for the publisher."""
        state = catalog.source(source.id)
        assert state is not None
        by_ident, p = self._plan(catalog, source, articles, state.next_number)

        def record() -> None:
            now = self.clock()
            for ch in p.changed:
                x = by_ident[ch.article.ident]
                catalog.update_article(ch.known, x.given, ch.hash, now, x.alt_path(ch.known.path))
                catalog.set_refs(ch.known.article_id, sorted(x.refs))

        if not self.write_files:
            record()
            catalog.mark_unpublished([ch.known.article_id for ch in p.changed])
        else:
            files = [f for ch in p.changed for f in [(ch.known.path, ch.data), *ch.extra]]
            await asyncio.to_thread(self.writer.write_batch, files)  # durable on return
            with catalog.transaction():
                record()
        return {ch.article.ident for ch in p.changed}

    def rerender(self, catalog: Catalog, article_ids: list[int]) -> int:
        """Render these articles again from their stored revision with the current
        settings; write and record those whose files change.  Returns how many did."""
        count = 0
        away = self._away(catalog)
        for i in range(0, len(article_ids), 200):
            count += self._render(catalog, article_ids[i : i + 200], away, every=False)
        return count

    def publish_recorded(self, catalog: Catalog) -> int:
        """Write the files of the articles workers recorded (``unpublished``), from their
        latest revision, durable before their marks go.  Returns how many were written."""
        count = 0
        away = self._away(catalog)
        while ids := catalog.unpublished(200):
            self._render(catalog, ids, away, every=True)
            with catalog.transaction():
                catalog.clear_unpublished(ids)  # also those of sources no longer configured
            count += len(ids)
        return count

    def _render(
        self, catalog: Catalog, article_ids: list[int], away: Away | None, *, every: bool
    ) -> int:
        """Render these articles from the catalog; write them all (``every``) or those
        whose files change, and record the new renderings.  Returns how many changed."""
        files: list[tuple[str, bytes]] = []
        updates: list[tuple[int, str, str | None, frozenset[str]]] = []
        for st, p in prepare_stored(self.settings, catalog, article_ids, away):
            out = p.render(st.known.path)
            h, alt = file_hash(out[0][1]), p.alt_path(st.known.path)
            changed = h != st.known.content_hash or alt != st.alt_path
            if changed or every:
                files.extend(out)
            if changed:
                updates.append((st.known.article_id, h, alt, p.refs))
        self.writer.write_batch(files)
        with catalog.transaction():
            for article_id, h, alt, refs in updates:
                catalog.set_rendered(article_id, h, alt)
                catalog.set_refs(article_id, sorted(refs))
        return len(updates)

    def fix_up(self, catalog: Catalog) -> int:
        """Render again the articles whose links or images became resolvable."""
        keys = catalog.pending()
        if not keys:
            return 0
        count = self.rerender(catalog, catalog.referrers(keys))
        with catalog.transaction():
            catalog.clear_pending(keys)
        return count

    def lists(self, catalog: Catalog) -> None:
        """Regenerate every list and the README; unchanged bytes are not rewritten."""
        by_number = self.settings.archive.layout == "duty-machine"
        states = {s.id: s for s in catalog.sources()}
        rotate = self.settings.rotate
        older = [
            Elsewhere(period, n, rotate.url_of(period) + "README.md")
            for period, n in sorted(Homes(catalog).counts().items(), reverse=True)
        ]
        moved = Homes(catalog).moved_by_source() if older else {}
        readme = []
        files = []
        for s in self.settings.sources:
            st = states.get(s.id)
            entries = catalog.list_entries(
                s.id, self.settings.archive.list_size, by_number=by_number
            )
            if entries or (self.root / list_path(s.name)).exists():
                files.append((list_path(s.name), render_list(s.name, entries, self._link)))
            here = (st.articles if st else 0) - moved.get(s.id, 0)
            readme.append(ReadmeSource(s.name, here, st.last_changed_ms if st else None))
        bundles = self._bundles(catalog) if self.settings.bundles.archive else []
        files.append(("README.md", render_readme(readme, older, bundles=bundles)))
        files += self._change_files(catalog)
        # One sync for all the lists, not one fsync for each (a pass rewrites them all).
        self.writer.write_batch(files, defer_sync=True)
        self.writer.sync()

    def _bundles(self, catalog: Catalog) -> list[tuple[str, str]]:
        """``[bundles] archive``: the latest bundles kept in the archive's ``bundles/``,
        made again only when what they hold changes; returns (label, path) for the README.
        A bundle that cannot be made costs that bundle, never the pass."""
        planned: dict[str, tuple[str, Callable[[], bytes]]] = {}
        links = BundlePages(self.settings, catalog, self.clock()).plan(
            lambda page, fp, render: planned.__setitem__(page, (fp, render)), fingerprint
        )
        known: dict[str, str] = json.loads(catalog.site_state(ARCHIVE_BUNDLES) or "{}")
        made: dict[str, str] = {}
        for page, (fp, render) in planned.items():
            if known.get(page) == fp and (self.root / page).exists():
                made[page] = fp
                continue
            try:
                self.writer.write_batch([(page, render())])
                made[page] = fp
            except Exception as e:
                log.error("bundle %s: %s", page, reason(e))
        self.writer.remove([p for p in known if p not in planned])
        with catalog.transaction():
            catalog.set_site_state(ARCHIVE_BUNDLES, json.dumps(made, sort_keys=True))
        return [(label, page) for label, page in links if page in made]

    def _link(self, entry: ListEntry) -> str:
        """A list entry's link: its path in the archive, or its URL in a period's."""
        if entry.home is None:
            return "/" + entry.path
        return away_url(self.settings.rotate.url_of(entry.home), entry.path)

    def _change_files(self, catalog: Catalog) -> list[tuple[str, bytes]]:
        """``changes/{YYYY-MM}.md`` for every month with events, and each edit's diff page
        not written yet (a diff compares two fixed revisions: written once)."""
        watch = Watchlist(catalog)
        names = {s.id: s.name for s in self.settings.sources}
        files = []
        placed = self._away(catalog)

        def away(path: str) -> str | None:  # change pages are in the archive itself
            return placed(path, "changes/") if placed is not None else None

        for month in watch.months():
            start, end = changes.month_bounds(month)
            events = watch.events(since_ms=start, until_ms=end)
            page = changes.render_month(month, events, names, away)
            files.append((changes.month_path(month), page))
            for e in events:
                if e.kind != EDIT or e.before_rev is None or e.after_rev is None:
                    continue
                if (self.root / changes.diff_path(e)).exists():
                    continue
                before, after = watch.revision(e.before_rev), watch.revision(e.after_rev)
                if before is not None and after is not None:
                    name = names.get(e.source, e.source)
                    page = changes.render_diff(e, before, after, name, away)
                    files.append((changes.diff_path(e), page))
        return files
