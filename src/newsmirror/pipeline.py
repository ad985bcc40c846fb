"""One update pass: every source fetched concurrently, each result applied as it arrives.

For each source: fetch (conditional GET) -> parse -> decide (new / changed / unchanged) ->
write files atomically -> commit the catalog.  Then the lists and README are regenerated
(written only where their bytes change) and the archive is committed and pushed.

A source that fails is recorded with its reason and the others go on.  A stop request
(Ctrl-C) lets the file in hand finish, commits what was written, and ends the pass.
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import logging
import os
import random
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from . import evidence
from .assets import AssetFetcher
from .config import Settings, SourceSettings
from .decide import Changed, next_due, plan
from .errors import CatalogError, NewsmirrorError, is_fatal, reason
from .fetch.http import Fetcher
from .model import Article, ItemError, SourceResult
from .publish import changes
from .publish import git as git_publish
from .publish.lists import ReadmeSource, list_path, readme_times, render_list, render_readme
from .render.markdown import file_hash
from .sources import Context, drivers
from .store import adopt
from .store.catalog import Catalog
from .store.files import ArchiveWriter, SyncBarrier
from .store.watch import DISAPPEARANCE, EDIT, Watchlist
from .transform.images import image_sources
from .transform.prepare import Prepared, prepare
from .watch import Rechecker, WatchReport, edit_detail

log = logging.getLogger(__name__)

Clock = Callable[[], int]


def wall_clock_ms() -> int:
    """Milliseconds since the epoch, now."""
    return time.time_ns() // 1_000_000


class StopFlag:
    """Set by a signal handler; checked between files so a stop never cuts one in half."""

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        """Ask the pass to stop after the file in hand."""
        self._set = True

    def __bool__(self) -> bool:
        return self._set


@dataclass(slots=True)
class SourceReport:
    """What one source's pass did."""

    id: str
    name: str
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    not_modified: bool = False
    error: str | None = None
    item_errors: list[ItemError] = field(default_factory=list)
    skipped_until: int | None = None  # not due yet (Retry-After, max-age or backoff)
    newly_failing: bool = False


@dataclass(slots=True)
class UpdateReport:
    """What the whole pass did."""

    sources: list[SourceReport] = field(default_factory=list)
    commit: str | None = None
    pushed: list[str] = field(default_factory=list)
    publish_errors: dict[str, str] = field(default_factory=dict)
    interrupted: bool = False
    rerendered: int = 0  # files rendered again: links now resolvable, images now copied
    watch: WatchReport | None = None  # what re-checks of archived articles found

    @property
    def new(self) -> int:
        """New articles across sources."""
        return sum(s.new for s in self.sources)

    @property
    def updated(self) -> int:
        """Rewritten (edited) articles across sources."""
        return sum(s.updated for s in self.sources)

    @property
    def failed(self) -> list[SourceReport]:
        """Sources whose fetch or parse failed."""
        return [s for s in self.sources if s.error]

    def commit_message(self) -> str:
        """``N new, M updated`` overall, then one line per source that changed."""
        lines = [f"Update: {self.new} new, {self.updated} updated", ""]
        for s in self.sources:
            if s.new or s.updated:
                lines.append(f"{s.id} ({s.name}): {s.new} new, {s.updated} updated")
        if self.rerendered:
            lines.append(f"{self.rerendered} articles relinked (mirrored links, image copies)")
        w = self.watch
        if w is not None and (w.edits or w.removals or w.restorations):
            lines.append(
                f"Re-checked {w.checked}: {w.edits} edited, {w.removals} removed, "
                f"{w.restorations} restored"
            )
        return "\n".join(lines).rstrip() + "\n"


@contextmanager
def archive_lock(root: Path) -> Iterator[None]:
    """One writer per archive: a second concurrent update is refused, not interleaved."""
    path = root / ".newsmirror" / "lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CatalogError(
                f"{root}: another newsmirror process is updating this archive"
            ) from None
        yield
    finally:
        os.close(fd)


class Updater:
    """Runs one pass with the given settings, clock and (optionally) stop flag."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock = wall_clock_ms,
        stop: StopFlag | None = None,
        on_source: Callable[[SourceReport], None] | None = None,
        force: bool = False,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.root = settings.archive.path
        self.clock = clock
        self.stop = stop or StopFlag()
        self.on_source = on_source or (lambda _r: None)
        self.drivers = drivers()
        self.force = force
        self.rng = rng or random.Random()
        self.writer = ArchiveWriter(
            self.root, fsync=settings.archive.fsync, journal=settings.git.enabled
        )
        self._writing: set[str] = set()
        self.assets: AssetFetcher | None = None
        self.barrier: SyncBarrier | None = None

    def run(self) -> UpdateReport:
        """The whole pass, synchronously (the event loop lives inside)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with archive_lock(self.root):
            self.writer.clear_temps()
            catalog = Catalog(self.settings.catalog_path)
            try:
                report = asyncio.run(self._sources(catalog))
                # The search index is not touched here: its readers (search, serve, build)
                # bring it up to date first.  Indexing in the pass tripled the time of a
                # large first import (bench/pipeline.py: 743 instead of ~3,000 articles/s).
                self._lists(catalog)
            finally:
                catalog.close()
            report.interrupted = bool(self.stop)
            if self.settings.git.enabled:
                self._publish(report)
        return report

    def rewrite(self) -> UpdateReport:
        """Render every archived article again with the current images, links and script
        settings, from the catalog's revisions: no article is fetched again.  In copy mode
        the images without a copy are downloaded first."""
        with archive_lock(self.root):
            self.writer.clear_temps()
            catalog = Catalog(self.settings.catalog_path, create=False)
            try:
                ids = catalog.article_ids([s.id for s in self.settings.sources])
                asyncio.run(self._copy_stored(catalog, ids))
                report = UpdateReport(rerendered=self.rerender(catalog, ids))
            finally:
                catalog.close()
            if self.settings.git.enabled and report.rerendered:
                self._publish(report, f"Rewrite images and links: {report.rerendered} articles\n")
        return report

    async def _copy_stored(self, catalog: Catalog, article_ids: list[int]) -> None:
        async with Fetcher(self.settings.network) as fetcher:
            self.assets = self._asset_fetcher(fetcher, catalog)
            if self.assets is None:
                return
            by_id = {s.id: s for s in self.settings.sources}
            for i in range(0, len(article_ids), 200):
                for st in catalog.stored(article_ids[i : i + 200]):
                    await self._copy_images(by_id[st.article.source], [st.article])

    async def _sources(self, catalog: Catalog) -> UpdateReport:
        report = UpdateReport()
        with catalog.transaction():
            for s in self.settings.sources:
                catalog.ensure_source(s.id, s.name, s.url)
        for s in self.settings.sources:
            if catalog.needs_adoption(s.id):
                self._adopt(catalog, s)
        now = self.clock()
        states = {st.id: st for st in catalog.sources()}
        sources = []
        for s in self.settings.sources:
            due = states[s.id].next_due_ms
            if not s.enabled:
                continue
            if due is not None and due > now and not self.force:
                report.sources.append(SourceReport(id=s.id, name=s.name, skipped_until=due))
            else:
                sources.append(s)
        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="write") as pool:
            self.barrier = SyncBarrier(self.writer, pool)
            async with Fetcher(self.settings.network) as fetcher:
                self.assets = self._asset_fetcher(fetcher, catalog)
                tasks = {
                    s.id: asyncio.create_task(self._source(s, catalog, fetcher, pool))
                    for s in sources
                }
                watcher = asyncio.create_task(self._watch_stop(tasks))
                results = await asyncio.gather(*tasks.values(), return_exceptions=True)
                watcher.cancel()
                if self.assets is not None and not self.stop:
                    await self.assets.retry_due()
                if self.settings.watch.enabled and not self.stop:
                    report.watch = await self._recheck(catalog, fetcher)
        for s, result in zip(sources, results, strict=True):
            if isinstance(result, SourceReport):
                report.sources.append(result)
            elif isinstance(result, BaseException) and not isinstance(
                result, asyncio.CancelledError
            ):
                if is_fatal(result) or not isinstance(result, Exception):
                    raise result  # the catalog is unusable: nothing more can be recorded
                report.sources.append(SourceReport(id=s.id, name=s.name, error=reason(result)))
        report.sources.sort(key=lambda r: r.id)
        if not self.stop:
            report.rerendered = self._fix_up(catalog)
        return report

    async def _recheck(self, catalog: Catalog, fetcher: Fetcher) -> WatchReport:
        """Look again at the archived articles that are due (see watch.py)."""
        ctx = Context(fetcher=fetcher, now_ms=self.clock(), keep_tracking=False,
                      iframe_hosts=self.settings.iframe_hosts)  # fmt: skip
        sources = [s for s in self.settings.sources if s.enabled]
        checker = Rechecker(
            self.settings,
            catalog,
            ctx,
            lambda source, articles: self._store_edits(catalog, source, articles),
            self.clock,
        )
        return await checker.run(sources)

    async def _store_edits(
        self, catalog: Catalog, source: SourceSettings, articles: list[Article]
    ) -> set[str]:
        """Write edited versions of archived articles and their revisions; the idents
        whose files were written (the rest are unchanged as files)."""
        prepared = prepare(self.settings, source, articles, catalog)
        by_ident = {x.given.ident: x for x in prepared}
        state = catalog.source(source.id)
        assert state is not None
        p = plan(
            [x.article for x in prepared],
            catalog.known(source.id, [x.article for x in prepared]),
            layout=self.settings.archive.layout,
            next_number=state.next_number,
            render=lambda a, path: by_ident[a.ident].render(path),
        )
        files = [f for ch in p.changed for f in [(ch.known.path, ch.data), *ch.extra]]
        await asyncio.to_thread(self.writer.write_batch, files)  # durable on return
        now = self.clock()
        with catalog.transaction():
            for ch in p.changed:
                x = by_ident[ch.article.ident]
                catalog.update_article(ch.known, x.given, ch.hash, now, x.alt_path(ch.known.path))
                catalog.set_refs(ch.known.article_id, sorted(x.refs))
        return {ch.article.ident for ch in p.changed}

    def _asset_fetcher(self, fetcher: Fetcher, catalog: Catalog) -> AssetFetcher | None:
        if not any(self.settings.image_mode(s) == "copy" for s in self.settings.sources):
            return None
        return AssetFetcher(
            fetcher,
            self.writer,
            catalog,
            self.settings.images,
            clock=self.clock,
            interval_s=self.settings.interval,
        )

    async def _copy_images(self, source: SourceSettings, articles: list[Article]) -> None:
        """Copy mode: download the images of these articles that have no copy yet."""
        if self.assets is None or self.settings.image_mode(source) != "copy":
            return
        templates = self.settings.image_proxies(source)
        await self.assets.fetch(u for a in articles for u in image_sources(a.body, templates))

    def _fix_up(self, catalog: Catalog) -> int:
        """Render again the articles whose links or images became resolvable."""
        keys = catalog.pending()
        if not keys:
            return 0
        count = self.rerender(catalog, catalog.referrers(keys))
        with catalog.transaction():
            catalog.clear_pending(keys)
        return count

    def rerender(self, catalog: Catalog, article_ids: list[int]) -> int:
        """Render these articles again from their stored revision with the current
        settings; write and record those whose files change.  Returns how many did."""
        by_id = {s.id: s for s in self.settings.sources}
        count = 0
        for i in range(0, len(article_ids), 200):
            stored = [
                st for st in catalog.stored(article_ids[i : i + 200]) if st.article.source in by_id
            ]
            files: list[tuple[str, bytes]] = []
            updates: list[tuple[int, str, str | None, frozenset[str]]] = []
            for source_id in dict.fromkeys(st.article.source for st in stored):
                group = [st for st in stored if st.article.source == source_id]
                prepared = prepare(
                    self.settings, by_id[source_id], [st.article for st in group], catalog
                )
                for st, p in zip(group, prepared, strict=True):
                    out = p.render(st.known.path)
                    h, alt = file_hash(out[0][1]), p.alt_path(st.known.path)
                    if h != st.known.content_hash or alt != st.alt_path:
                        files.extend(out)
                        updates.append((st.known.article_id, h, alt, p.refs))
            self.writer.write_batch(files)
            with catalog.transaction():
                for article_id, h, alt, refs in updates:
                    catalog.set_rendered(article_id, h, alt)
                    catalog.set_refs(article_id, sorted(refs))
            count += len(updates)
        return count

    def _adopt(self, catalog: Catalog, source: SourceSettings) -> None:
        """Take the files already in the source's folder into the catalog (first pass only)."""
        files, lowest = adopt.scan(self.root, source.id)
        changed = None
        if files:
            try:
                changed = readme_times((self.root / "README.md").read_bytes()).get(source.name)
            except OSError:
                changed = None
        with catalog.transaction():
            added = catalog.adopt(source.id, files, self.clock())
            catalog.mark_adopted(source.id, None if lowest is None else lowest - 1, changed)
        if added:
            log.info("%s: adopted %d existing article files", source.id, added)

    async def _watch_stop(self, tasks: dict[str, asyncio.Task[SourceReport | None]]) -> None:
        """On a stop request, abandon fetches; sources already writing finish their file."""
        while not self.stop:
            await asyncio.sleep(0.1)
        for sid, task in tasks.items():
            if sid not in self._writing:
                task.cancel()

    async def _source(
        self, source: SourceSettings, catalog: Catalog, fetcher: Fetcher, pool: ThreadPoolExecutor
    ) -> SourceReport | None:
        ctx = Context(
            fetcher=fetcher,
            now_ms=self.clock(),
            keep_tracking=self.settings.keep_tracking(source),
            known_dates=lambda idents: catalog.dates(source.id, idents),
            iframe_hosts=self.settings.iframe_hosts,
        )
        try:
            result = await self.drivers[source.kind](source, catalog.source(source.id), ctx)
        except Exception as e:  # whatever it is, it is this source's error
            if is_fatal(e):
                raise
            result = SourceResult(
                source=source.id, error=reason(e), retry_after=getattr(e, "retry_after", None)
            )
        try:
            await self._copy_images(source, result.articles)
        except Exception as e:  # each image is isolated inside; this is a bug, kept local
            if is_fatal(e):
                raise
            log.error("%s: copying images: %s", source.id, reason(e))
        if self.stop:
            return None
        self._writing.add(source.id)
        try:
            r = await self._apply(catalog, source, result, pool)
        except Exception as e:
            if is_fatal(e):
                raise
            r = self._failed(catalog, source, reason(e))
        self.on_source(r)
        return r

    def _failed(
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
            catalog.record_failure(source.id, self.clock(), why, self._due(failures + 1, result))
        return r

    async def _apply(
        self,
        catalog: Catalog,
        source: SourceSettings,
        result: SourceResult,
        pool: ThreadPoolExecutor,
    ) -> SourceReport:
        """Write one source's files (in a worker thread), then commit its catalog rows."""
        if result.error:
            return self._failed(catalog, source, result.error, result)
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
                    next_due_ms=self._due(0, result),
                )
            return r
        prepared = prepare(self.settings, source, result.articles, catalog)
        by_ident: dict[str, Prepared] = {x.given.ident: x for x in prepared}
        articles = [x.article for x in prepared]
        known = catalog.known(source.id, articles)
        p = plan(
            articles,
            known,
            layout=self.settings.archive.layout,
            next_number=state.next_number,
            render=lambda a, path: by_ident[a.ident].render(path),
        )
        r.unchanged = p.unchanged
        groups = [[(nf.path, nf.data), *nf.extra] for nf in p.new]
        groups += [[(ch.known.path, ch.data), *ch.extra] for ch in p.changed]
        files = [f for g in groups for f in g]
        handled = 0
        try:
            if self.settings.archive.fsync:
                # The disk work happens in a worker thread while the next feed is parsed;
                # new files become durable in a sync shared with the other sources
                # (group commit), before the catalog rows that name them are committed.
                written = await asyncio.get_running_loop().run_in_executor(
                    pool,
                    functools.partial(
                        self.writer.write_batch, files, lambda: bool(self.stop), defer_sync=True
                    ),
                )
                if self.barrier is not None:
                    await self.barrier.wait()
            else:
                # Nothing to wait for: a second thread would only contend for the GIL.
                written = self.writer.write_batch(files, lambda: bool(self.stop))
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
        blobs: dict[int, bytes] = {}
        now = self.clock()
        watch = Watchlist(catalog)
        with catalog.transaction():
            for nf in written_new:
                x = by_ident[nf.article.ident]
                aid = catalog.add_article(
                    x.given, nf.path, nf.number, nf.hash, now, x.alt_path(nf.path)
                )
                catalog.set_refs(aid, sorted(x.refs))
                # Articles already linking here can now link to the copy.
                catalog.add_pending([x.given.ident, f"url:{x.given.canonical}"])
            for ch in written_changed:
                x = by_ident[ch.article.ident]
                catalog.update_article(ch.known, x.given, ch.hash, now, x.alt_path(ch.known.path))
                catalog.set_refs(ch.known.article_id, sorted(x.refs))
                if ch.known.article_id in edits:
                    before_rev, detail = edits[ch.known.article_id]
                    aid = ch.known.article_id
                    rev = watch.latest_revision(aid)
                    event = watch.add_event(aid, now, EDIT, detail, before_rev, rev)
                    answer = result.answers.get(ch.article.ident) or result.answers.get("")
                    if answer is not None:
                        # One feed may hold several edits: its records are made once.
                        blob = blobs.get(id(answer)) or blobs.setdefault(
                            id(answer), evidence.records(answer, now)
                        )
                        watch.add_evidence(aid, event, now, answer.url, answer.status, blob)
            for k, a in p.retagged:
                catalog.take_over(k, a)
            if self.settings.watch.enabled and result.listed and complete:
                for aid in watch.left_listing(source.id, result.listed, now):
                    # A weak signal: the page may still answer (the re-check says more).
                    watch.add_event(aid, now, DISAPPEARANCE, "no longer in the feed")
            if r.error:
                r.newly_failing = state.failures == 0
                catalog.record_failure(source.id, now, r.error, self._due(state.failures + 1))
            else:
                # Validators only once everything is in: otherwise a 304 next time would
                # hide the items this pass did not finish.
                catalog.record_success(
                    source.id,
                    now,
                    result.etag,
                    result.last_modified,
                    keep_validators=not complete or retry,
                    next_due_ms=self._due(0, result),
                )
            catalog.record_item_errors(
                source.id, now, [(e.where, e.reason) for e in result.item_errors]
            )
            if written_new or written_changed:
                numbers = [nf.number for nf in written_new if nf.number is not None]
                next_number = min(numbers) - 1 if numbers else state.next_number
                catalog.set_changed(source.id, now, next_number)
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

    def _due(self, failures: int, result: SourceResult | None = None) -> int | None:
        return next_due(
            self.clock(),
            failures=failures,
            interval_s=self.settings.interval,
            retry_after_s=result.retry_after if result else None,
            max_age_s=result.max_age if result else None,
            jitter=self.rng.uniform(0.9, 1.1),
        )

    def _lists(self, catalog: Catalog) -> None:
        """Regenerate every list and the README; unchanged bytes are not rewritten."""
        by_number = self.settings.archive.layout == "duty-machine"
        states = {s.id: s for s in catalog.sources()}
        readme = []
        files = []
        for s in self.settings.sources:
            st = states.get(s.id)
            entries = catalog.list_entries(
                s.id, self.settings.archive.list_size, by_number=by_number
            )
            if entries or (self.root / list_path(s.name)).exists():
                files.append((list_path(s.name), render_list(s.name, entries)))
            readme.append(
                ReadmeSource(s.name, st.articles if st else 0, st.last_changed_ms if st else None)
            )
        files.append(("README.md", render_readme(readme)))
        files += self._change_files(catalog)
        self.writer.write_batch(files)

    def _change_files(self, catalog: Catalog) -> list[tuple[str, bytes]]:
        """``changes/{YYYY-MM}.md`` for every month with events, and each edit's diff page
        not written yet (a diff compares two fixed revisions: written once)."""
        watch = Watchlist(catalog)
        names = {s.id: s.name for s in self.settings.sources}
        files = []
        for month in watch.months():
            start, end = changes.month_bounds(month)
            events = watch.events(since_ms=start, until_ms=end)
            files.append((changes.month_path(month), changes.render_month(month, events, names)))
            for e in events:
                if e.kind != EDIT or e.before_rev is None or e.after_rev is None:
                    continue
                if (self.root / changes.diff_path(e)).exists():
                    continue
                before, after = watch.revision(e.before_rev), watch.revision(e.after_rev)
                if before is not None and after is not None:
                    page = changes.render_diff(e, before, after, names.get(e.source, e.source))
                    files.append((changes.diff_path(e), page))
        return files

    def _publish(self, report: UpdateReport, message: str | None = None) -> None:
        try:
            result = git_publish.publish(
                self.root,
                message or report.commit_message(),
                self.settings.git.remotes,
                self.settings.git.branch,
                paths=self.writer.written_paths(),
            )
        except NewsmirrorError as e:
            report.publish_errors["git"] = str(e)
            log.error("publish: %s", e)
            return
        self.writer.forget_written()
        report.commit, report.pushed = result.commit, result.pushed
        report.publish_errors.update(result.failed)
        for remote, why in result.failed.items():
            log.error("push to %s failed (will retry next run): %s", remote, why)
