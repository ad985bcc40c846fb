"""One update pass: every source fetched concurrently, each result applied as it arrives.

For each source: fetch (conditional GET) -> parse -> decide (new / changed / unchanged) ->
write files atomically -> commit the catalog.  Then the due re-checks of archived articles
run (``watch``), the lists, README and change pages are regenerated (written only where
their bytes change) and the archive is committed and pushed.

This module orchestrates: what is fetched, when, how concurrently, and what a stop
request interrupts.  Applying a result to the archive and catalog is ``apply.Applier``'s.

A source that fails is recorded with its reason and the others go on.  A stop request
(Ctrl-C) lets the file in hand finish, commits what was written, and ends the pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from .apply import Applier
from .assets import AssetFetcher, place_waiting
from .config import Settings, SourceSettings
from .cores import Cores, Runner, default_processes, in_thread
from .errors import CatalogError, NewsmirrorError, is_fatal, reason
from .fetch.http import Fetcher
from .model import Article, SourceResult
from .publish import git as git_publish
from .publish.lists import readme_times
from .report import RotateReport, SourceReport, UpdateReport
from .rotate import Mover
from .sources import Context, drivers
from .store import adopt
from .store.adopt import ExistingFile
from .store.catalog import Catalog
from .store.db import is_postgres
from .store.files import ArchiveWriter, SyncBarrier
from .transform.images import image_sources
from .watch import Rechecker, WatchReport, enroll

log = logging.getLogger(__name__)

Clock = Callable[[], int]
T = TypeVar("T")


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
        self.stop = stop if stop is not None else StopFlag()  # an unset flag is falsy
        self.on_source = on_source or (lambda _r: None)
        self.drivers = drivers()
        self.force = force
        self.rng = rng or random.Random()
        self.writer = ArchiveWriter(
            self.root, fsync=settings.archive.fsync, journal=settings.git.enabled
        )
        self.applier = Applier(
            settings, self.writer, clock=clock, stop=lambda: bool(self.stop), rng=self.rng
        )
        self._writing: set[str] = set()
        self.shared = False  # politeness shared through the catalog (workers: queue.py)
        self.cpu: Runner = in_thread  # replaced for each pass by the pool of its settings
        self.assets: AssetFetcher | None = None
        # Image copies go to their own repository when [images] repository says so.
        images = settings.images.repository
        self.image_writer = (
            self.writer
            if images is None
            else ArchiveWriter(images, fsync=settings.archive.fsync, journal=settings.git.enabled)
        )

    def run(self) -> UpdateReport:
        """The whole pass, synchronously (the event loop lives inside)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with archive_lock(self.root):
            self.writer.clear_temps()
            catalog = Catalog(self.settings.catalog)
            try:
                report = asyncio.run(self._sources(catalog))
                if self.settings.rotate.enabled and not self.stop:
                    # Edits of rotated articles were written here: they go to their period.
                    report.rotation = RotateReport()
                    self._mover().settle(catalog, report.rotation)
                # The search index is not touched here: its readers (search, serve, build)
                # bring it up to date first.  Indexing in the pass tripled the time of a
                # large first import (bench/pipeline.py: 743 instead of ~3,000 articles/s).
                self.applier.lists(catalog)
            finally:
                catalog.close()
            report.interrupted = bool(self.stop)
            if self.settings.git.enabled:
                self._publish(report)
        return report

    def fetch_source(self, source_id: str) -> SourceReport:
        """A worker's task (see ``queue``): fetch one source and record what it brought
        in the catalog only; its files are written by :meth:`publish`.  The archive's
        folder is not touched, so workers can run on machines without it."""
        return asyncio.run(self.fetch_source_with(source_id, None))

    async def fetch_source_with(self, source_id: str, fetcher: Fetcher | None) -> SourceReport:
        """:meth:`fetch_source` with the worker process's ``fetcher``, shared by the jobs
        it runs at once (see ``jobloop``); None: one of its own."""

        async def fetch(source: SourceSettings, catalog: Catalog, fetcher: Fetcher) -> SourceReport:
            self.assets = self._asset_fetcher(fetcher, catalog)  # copies wait in the catalog
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="write") as pool:
                r = await self._source(source, catalog, fetcher, pool)
            assert r is not None  # no stop flag in a worker's task
            return r

        return await self._job(source_id, fetcher, fetch)

    async def recheck_source_with(self, source_id: str, fetcher: Fetcher | None) -> WatchReport:
        """A worker's task: the due re-checks of one source's archived articles (see
        ``watch``; the schedule that queued it enrolled the new ones), recorded in the
        catalog only, each edit with its event in one transaction; the publisher writes
        the edited files."""

        async def recheck(
            source: SourceSettings, catalog: Catalog, fetcher: Fetcher
        ) -> WatchReport:
            return await self._recheck(catalog, fetcher, [source])

        return await self._job(source_id, fetcher, recheck)

    async def retry_images_with(self, fetcher: Fetcher | None) -> int:
        """A worker's task: another try for the image copies that failed and are due
        (copy mode); the copies wait in the catalog for the publisher, which renders again
        the articles showing them.  Returns how many were copied."""
        catalog = await self._worker_catalog()
        try:
            async with contextlib.AsyncExitStack() as stack:
                if fetcher is None:
                    fetcher = await stack.enter_async_context(self._fetcher())
                assets = self._asset_fetcher(fetcher, catalog)
                if assets is None:
                    return 0
                await assets.retry_due()
                return len(assets.copied)
        finally:
            catalog.close()

    async def _worker_catalog(self) -> Catalog:
        """The catalog, for a worker's job: rows only, never the archive's files."""
        self.applier.write_files = False
        self.shared = True
        url = self.settings.catalog
        if isinstance(url, str) and is_postgres(url):
            # Opening the catalog waits for the database: not on a loop other jobs share.
            return await asyncio.to_thread(Catalog, url)
        return Catalog(url)  # a SQLite connection stays in the thread that made it

    async def _job(
        self,
        source_id: str,
        fetcher: Fetcher | None,
        work: Callable[[SourceSettings, Catalog, Fetcher], Awaitable[T]],
    ) -> T:
        """Run a worker's ``work`` on one source."""
        source = next((s for s in self.settings.sources if s.id == source_id), None)
        if source is None:
            raise NewsmirrorError(f"{source_id}: no such source in the configuration")
        catalog = await self._worker_catalog()
        try:
            with catalog.transaction():
                catalog.ensure_source(source.id, source.name, source.url)
            if catalog.needs_adoption(source.id):
                raise NewsmirrorError(
                    f"{source.id}: the archive's existing files are not in the catalog yet "
                    "(the publisher takes them in: run `newsmirror publish`)"
                )
            # The process's pool of parsing processes, shared by its jobs.
            self.cpu = self._cores()
            if fetcher is not None:
                return await work(source, catalog, fetcher)
            async with self._fetcher() as own:
                return await work(source, catalog, own)
        finally:
            catalog.close()

    def publish(self) -> UpdateReport:
        """The single publisher of what workers recorded (see ``queue``): takes existing
        files of new sources in, writes the image copies workers downloaded and copies
        those still missing (copy mode), writes the recorded
        articles' files from the catalog (new, updated and edited as re-checks found),
        renders again what now links to them, the lists and the README, and commits and
        pushes."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.shared = True
        with archive_lock(self.root):
            self.writer.clear_temps()
            catalog = Catalog(self.settings.catalog)
            try:
                self._know_sources(catalog)
                report = UpdateReport()
                # Workers' image copies first: rendering looks for them on disk.
                place_waiting(catalog, self._image_writer)
                asyncio.run(self._copy_stored(catalog, catalog.unpublished()))
                report.published = self.applier.publish_recorded(catalog)
                report.rerendered = self.applier.fix_up(catalog)
                if self.settings.rotate.enabled:
                    report.rotation = RotateReport()
                    self._mover().settle(catalog, report.rotation)
                self.applier.lists(catalog)
            finally:
                catalog.close()
            if self.settings.git.enabled:
                self._publish(report, f"Publish: {report.published} articles\n")
        return report

    def rewrite(self) -> UpdateReport:
        """Render every archived article again with the current images, links and script
        settings, from the catalog's revisions: no article is fetched again.  In copy mode
        the images without a copy are downloaded first."""
        with archive_lock(self.root):
            self.writer.clear_temps()
            catalog = Catalog(self.settings.catalog, create=False)
            try:
                ids = catalog.article_ids([s.id for s in self.settings.sources])
                asyncio.run(self._copy_stored(catalog, ids))
                report = UpdateReport(rerendered=self.applier.rerender(catalog, ids))
                if self.settings.rotate.enabled:  # rotated articles go back to their period
                    report.rotation = RotateReport()
                    self._mover().settle(catalog, report.rotation)
            finally:
                catalog.close()
            if self.settings.git.enabled and report.rerendered:
                self._publish(report, f"Rewrite images and links: {report.rerendered} articles\n")
        return report

    def _cores(self) -> Cores:
        """The pool of parsing processes the settings ask for (one per core by default)."""
        processes = self.settings.archive.processes
        return Cores(default_processes() if processes is None else processes)

    def _fetcher(self) -> Fetcher:
        """A fetcher; in a worker or the publisher its per-host limits and the pauses
        servers ask for are shared with every worker of the same PostgreSQL catalog.
        (``update`` keeps them for its pass: ``--force`` means now.)"""
        url = self.settings.catalog
        if self.shared and isinstance(url, str) and is_postgres(url):
            return Fetcher.sharing(self.settings.network, url)
        return Fetcher(self.settings.network)

    def _mover(self) -> Mover:
        return Mover(self.settings, self.writer, clock=self.clock)

    def rotate(self) -> RotateReport:
        """Move the articles older than ``[rotate] keep_months`` to their period
        repositories and commit everything (see ``rotate``); repeatable, and a killed run
        is finished by the next."""
        with archive_lock(self.root):
            self.writer.clear_temps()
            catalog = Catalog(self.settings.catalog, create=False)
            report = RotateReport()
            try:
                mover = self._mover()
                mover.place(catalog, report)
                self.applier.fix_up(catalog)  # links into the period repositories
                mover.settle(catalog, report, sweep=True)
                self.applier.lists(catalog)
                if self.settings.git.enabled and not report.errors:
                    update = UpdateReport()
                    self._publish(update, _rotation_message(report), push=False)
                    if update.publish_errors:
                        report.errors.update(update.publish_errors)
                        return report
                if not report.errors:
                    mover.squash(catalog, report)
                if self.settings.git.enabled:
                    update = UpdateReport()
                    self._publish(update, _rotation_message(report))
                    report.errors.update(update.publish_errors)
                    report.pushed["archive"] = update.pushed
            finally:
                catalog.close()
        return report

    async def _copy_stored(self, catalog: Catalog, article_ids: list[int]) -> None:
        async with self._fetcher() as fetcher:
            self.assets = self._asset_fetcher(fetcher, catalog)
            if self.assets is None:
                return
            by_id = {s.id: s for s in self.settings.sources}
            for i in range(0, len(article_ids), 200):
                for st in catalog.stored(article_ids[i : i + 200]):
                    await self._copy_images(by_id[st.article.source], [st.article])

    async def _sources(self, catalog: Catalog) -> UpdateReport:
        report = UpdateReport()
        self._know_sources(catalog)
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
        self.cpu = cores = self._cores()
        if sources:
            cores.start()
        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="write") as pool:
            self.applier.barrier = SyncBarrier(self.writer, pool)
            async with self._fetcher() as fetcher:
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
                    enroll(catalog, self.settings.watch, self.clock())
                    enabled = [s for s in self.settings.sources if s.enabled]
                    report.watch = await self._recheck(catalog, fetcher, enabled)
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
            report.rerendered = self.applier.fix_up(catalog)
        return report

    async def _recheck(
        self, catalog: Catalog, fetcher: Fetcher, sources: list[SourceSettings]
    ) -> WatchReport:
        """Look again at the archived articles of ``sources`` that are due (see watch.py)."""
        ctx = Context(fetcher=fetcher, now_ms=self.clock(), keep_tracking=False,
                      iframe_hosts=self.settings.iframe_hosts, cpu=self.cpu)  # fmt: skip
        checker = Rechecker(
            self.settings,
            catalog,
            ctx,
            lambda source, articles: self.applier.store_edits(catalog, source, articles),
            self.clock,
            stopped=lambda: bool(self.stop),
            edits_in_transaction=not self.applier.write_files,
        )
        return await checker.run(sources)

    def _asset_fetcher(self, fetcher: Fetcher, catalog: Catalog) -> AssetFetcher | None:
        if not any(self.settings.image_mode(s) == "copy" for s in self.settings.sources):
            return None
        return AssetFetcher(
            fetcher,
            self._image_writer() if self.applier.write_files else None,
            catalog,
            self.settings.images,
            clock=self.clock,
            interval_s=self.settings.interval,
        )

    def _image_writer(self) -> ArchiveWriter:
        """Where image copies go, ready (their own repository's folder made)."""
        if self.image_writer is not self.writer:
            self.image_writer.root.mkdir(parents=True, exist_ok=True)
            self.image_writer.clear_temps()
        return self.image_writer

    async def _copy_images(self, source: SourceSettings, articles: list[Article]) -> None:
        """Copy mode: download the images of these articles that have no copy yet."""
        if self.assets is None or self.settings.image_mode(source) != "copy":
            return
        templates = self.settings.image_proxies(source)
        await self.assets.fetch(u for a in articles for u in image_sources(a.body, templates))

    def _know_sources(self, catalog: Catalog) -> None:
        """Every configured source in the catalog, and a new one's existing files in it."""
        with catalog.transaction():
            for s in self.settings.sources:
                catalog.ensure_source(s.id, s.name, s.url)
        empty = []
        for s in self.settings.sources:
            if not catalog.needs_adoption(s.id):
                continue
            files, lowest = adopt.scan(self.root, s.id)
            if files:
                self._adopt(catalog, s, files, lowest)
            else:
                empty.append(s.id)
        if empty:  # a first pass over many new sources: one commit for their empty folders
            with catalog.transaction():
                for sid in empty:
                    catalog.mark_adopted(sid, None)

    def _adopt(
        self,
        catalog: Catalog,
        source: SourceSettings,
        files: list[ExistingFile],
        lowest: int | None,
    ) -> None:
        """Take the files already in the source's folder into the catalog (first pass only)."""
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
            cpu=self.cpu,
            deflate=True,
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
            r = await self.applier.apply(catalog, source, result, pool)
        except Exception as e:
            if is_fatal(e):
                raise
            r = self.applier.failed(catalog, source, reason(e))
        self.on_source(r)
        return r

    def _publish(
        self, report: UpdateReport, message: str | None = None, *, push: bool = True
    ) -> None:
        if self.image_writer is not self.writer and self.image_writer.written_paths():
            # The pictures first: an article is never published before what it shows.
            root = self.image_writer.root
            try:
                images = git_publish.publish_written(
                    self.image_writer,
                    "Image copies\n",
                    ("origin",) if push and git_publish.has_remote(root, "origin") else (),
                    self.settings.git.branch,
                )
            except NewsmirrorError as e:
                report.publish_errors["images"] = str(e)
                log.error("publish images: %s", e)
                return
            for remote, why in images.failed.items():
                report.publish_errors[f"images {remote}"] = why
        try:
            result = git_publish.publish_written(
                self.writer,
                message or report.commit_message(),
                self.settings.git.remotes if push else (),
                self.settings.git.branch,
            )
        except NewsmirrorError as e:
            report.publish_errors["git"] = str(e)
            log.error("publish: %s", e)
            return
        report.commit, report.pushed = result.commit, result.pushed
        report.publish_errors.update(result.failed)
        for remote, why in result.failed.items():
            log.error("push to %s failed (will retry next run): %s", remote, why)


def _rotation_message(report: RotateReport) -> str:
    """The archive's commit message for a rotation."""
    moved = sum(report.settled.values())
    lines = [f"Rotate: {moved} articles moved to period repositories", ""]
    lines += [f"{period}: {n}" for period, n in sorted(report.settled.items())]
    return "\n".join(lines).rstrip() + "\n"
