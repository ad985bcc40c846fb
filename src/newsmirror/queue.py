"""Workers on a task queue kept in the PostgreSQL catalog (procrastinate).

A pass becomes jobs: ``fetch`` one source (any worker, on any machine: it writes only
catalog rows, each source's in one transaction, and marks the articles unpublished),
``recheck`` one source's archived articles that are due (``[watch]``; rows only too, its
looks with the edits they found in one transaction), ``images`` (another try at failed
image copies; a fetch copies its articles' images, and the bytes wait in the catalog)
and ``publish`` (only workers started with ``--publisher``, on the machine holding the
archive: it writes the files from the catalog, commits and pushes).  The schedule is a
periodic job (``tick``, every minute): it queues the sources that are due by the same
rules as ``run`` (interval, backoff, Retry-After), the re-checks and the image copies
that are due, so no cron is needed anywhere.

Why the effects happen once: a source's jobs hold the lock ``source:<id>`` (two workers
never fetch one source at once, nor re-check it while it is fetched) and commit
everything it found in one transaction; a worker killed before it commits leaves
nothing, one killed after leaves rows the retry finds known (unchanged, nothing archived
twice).  A killed worker's jobs are found by its missing heartbeats and queued again by
the workers still alive.  The publisher writes durable files before it clears their marks
and commits them through the archive's journal, so a killed publisher's work is done
again by the next one, to the same bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from . import watch
from .config import Settings, load
from .errors import CatalogError, ConfigError
from .jobloop import JobLoop
from .pipeline import Updater, wall_clock_ms
from .store.catalog import Catalog
from .store.db import is_postgres, redact
from .store.watch import Watchlist

if TYPE_CHECKING:
    from procrastinate import App

    from .fetch.http import Fetcher

log = logging.getLogger(__name__)
T = TypeVar("T")

FETCH = "fetch"
PUBLISH = "publish"
TICK_CRON = "* * * * *"


def _procrastinate() -> Any:
    try:
        import procrastinate
    except ImportError as e:
        raise ConfigError(
            "workers need the queue engine: pip install 'newsmirror[postgresql]'"
        ) from e
    return procrastinate


def _url(settings: Settings) -> str:
    url = settings.catalog
    if not isinstance(url, str) or not is_postgres(url):
        raise ConfigError(
            "workers share their work through a PostgreSQL catalog: set "
            '[catalog] url = "postgresql://…"'
        )
    return url


# The fetch jobs of this worker process run on one loop with one fetcher (see jobloop).
JOBS = JobLoop()

_LOADED: dict[Path, tuple[tuple[int, int, int], Settings]] = {}


def _settings(config: Path) -> Settings:
    """The configuration, read again only when the file changed: a job reads it, and
    reading 2,000 sources takes ~90 ms."""
    st = config.stat()
    stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
    hit = _LOADED.get(config)
    if hit is None or hit[0] != stamp:
        hit = _LOADED[config] = (stamp, load(config))
    return hit[1]


def make_app(config: Path) -> App:
    """The queue of the archive configured in ``config``, with newsmirror's tasks.  Each
    task reads the configuration again, so edits take effect with the next job."""
    _procrastinate()
    import procrastinate

    settings = _settings(config)
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=_url(settings)),
    )

    # The fetching jobs: on the worker's loop, with its one fetcher (see jobloop); a job
    # the catalog or the configuration fails is tried again.
    fetching = functools.partial(
        app.task,
        queue=FETCH,
        retry=procrastinate.RetryStrategy(max_attempts=5, exponential_wait=10),
    )

    async def on_loop(work: Callable[[Updater, Fetcher], Awaitable[T]]) -> T:
        settings = _settings(config)
        updater = Updater(settings)
        return await JOBS.run(settings.network, _url(settings), lambda f: work(updater, f))

    @fetching(name="newsmirror.fetch")
    async def fetch(source_id: str) -> dict[str, Any]:
        # A source's own failure is recorded in the catalog (with its backoff) and is no
        # reason to retry here; what raises is the catalog or the configuration.
        report = await on_loop(lambda u, f: u.fetch_source_with(source_id, f))
        if report.new or report.updated:
            await defer_publish(app)
        return {"new": report.new, "updated": report.updated, "error": report.error}

    @fetching(name="newsmirror.recheck")
    async def recheck(source_id: str) -> dict[str, Any]:
        report = await on_loop(lambda u, f: u.recheck_source_with(source_id, f))
        if report.edits or report.removals or report.restorations:
            await defer_publish(app)  # edited files, and the change pages
        return {
            "checked": report.checked,
            "edits": report.edits,
            "removals": report.removals,
            "restorations": report.restorations,
            "failed": report.failed,
        }

    @fetching(name="newsmirror.images")
    async def images() -> dict[str, Any]:
        copied = await on_loop(lambda u, f: u.retry_images_with(f))
        if copied:
            await defer_publish(app)  # the articles showing them are rendered again
        return {"copied": copied}

    @app.task(
        name="newsmirror.publish",
        queue=PUBLISH,
        lock="publish",
        retry=procrastinate.RetryStrategy(max_attempts=5, exponential_wait=10),
    )
    async def publish() -> dict[str, Any]:
        report = await asyncio.to_thread(Updater(_settings(config)).publish)
        if report.publish_errors:
            log.error("publish: %s", "; ".join(report.publish_errors.values()))
        return {"published": report.published, "commit": report.commit}

    @app.periodic(cron=TICK_CRON, periodic_id="tick")
    @app.task(name="newsmirror.tick", queue=FETCH, queueing_lock="tick")
    async def tick(timestamp: int) -> int:
        return await enqueue(app, _settings(config))

    return app


def state(catalog: Catalog) -> dict[str, int]:
    """What waits and who works: articles waiting for the publisher, the queue's jobs by
    status and the workers alive (the last two once the queue's tables exist)."""
    out = {"unpublished": catalog.unpublished_count()}
    if catalog.dialect != "postgresql":
        return out
    db = catalog.db
    if not db.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()[0]:
        return out
    for status, n in db.execute("SELECT status::text, count(*) FROM procrastinate_jobs GROUP BY 1"):
        out[f"jobs {status}"] = n
    out["workers"] = db.execute("SELECT count(*) FROM procrastinate_workers").fetchone()[0]
    return out


async def defer_publish(app: Any) -> bool:
    """Ask for a publication; False when one is already waiting (it will see this too)."""
    procrastinate = _procrastinate()
    try:
        await app.configure_task("newsmirror.publish", queueing_lock="publish").defer_async()
    except procrastinate.exceptions.AlreadyEnqueued:
        return False
    return True


async def enqueue(app: Any, settings: Settings, *, force: bool = False) -> int:
    """Queue a fetch of every enabled source that is due (all of them with ``force``), a
    re-check of every one with checks due (``[watch]``), another try at the failed image
    copies that are due (copy mode), and a publication if recorded articles wait for
    one.  A job already waiting in the queue is not queued twice.  Returns how many jobs
    were queued."""
    procrastinate = _procrastinate()

    def due() -> tuple[list[str], list[str], bool, bool]:
        catalog = Catalog(settings.catalog)
        try:
            states = {st.id: st for st in catalog.sources()}
            waiting = bool(catalog.unpublished(1))
            now = wall_clock_ms()
            copying = any(settings.image_mode(s) == "copy" for s in settings.sources)
            images = copying and bool(catalog.assets_due(now, settings.images.max_attempts, 1))
            enabled = [s.id for s in settings.sources if s.enabled]
            rechecks = []
            if settings.watch.enabled:
                watch.enroll(catalog, settings.watch, now)
                rechecks = Watchlist(catalog).due_sources(now, enabled)
        finally:
            catalog.close()
        ids = []
        for sid in enabled:
            st = states.get(sid)
            next_due = st.next_due_ms if st else None
            if force or next_due is None or next_due <= now:
                ids.append(sid)
        return ids, rechecks, waiting, images

    ids, rechecks, waiting, images = await asyncio.to_thread(due)
    jobs: list[tuple[str, str, dict[str, str]]] = [
        ("newsmirror.fetch", f"fetch:{sid}", {"source_id": sid}) for sid in ids
    ]
    jobs += [("newsmirror.recheck", f"recheck:{sid}", {"source_id": sid}) for sid in rechecks]
    if images:  # failed image copies due for another try
        jobs.append(("newsmirror.images", "images", {}))
    queued = 0
    for task, name, args in jobs:
        lock = f"source:{args['source_id']}" if args else name
        try:
            await app.configure_task(task, lock=lock, queueing_lock=name).defer_async(**args)
            queued += 1
        except procrastinate.exceptions.AlreadyEnqueued:
            pass
    if waiting:
        await defer_publish(app)
    return queued


def install(url: str) -> None:
    """The queue's tables, made once in the catalog's database (several workers
    starting at once wait for the first)."""
    _procrastinate()
    import psycopg
    from procrastinate.schema import SchemaManager

    schema = SchemaManager.get_schema()
    with psycopg.connect(url) as conn:  # one transaction
        conn.execute("SELECT pg_advisory_xact_lock(7361)")
        if conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone() == (None,):
            conn.execute(schema)


async def _retry_stalled(app: Any, after_s: float, stop: asyncio.Event) -> None:
    """Jobs of workers whose heartbeats stopped (killed, frozen, cut off) go back to
    the queue.  Every live worker looks; retrying a job twice is harmless."""
    while not stop.is_set():
        try:
            for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=after_s):
                log.warning("job %s (%s) of a stalled worker: queued again", job.id, job.task_name)
                await app.job_manager.retry_job(job)
        except Exception as e:  # the next look may succeed; the worker goes on
            log.error("looking for stalled jobs: %s", e)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=max(after_s / 3, 0.2))


async def work(
    config: Path,
    *,
    queues: Sequence[str],
    concurrency: int,
    heartbeat_s: float = 10.0,
    stalled_after_s: float = 60.0,
) -> None:
    """Run one worker until it is stopped (SIGINT/SIGTERM: the jobs in hand finish).

    A database that goes away (restart, failover, network cut) does not end the worker:
    it starts again once the database answers, waiting longer each time (up to a
    minute); the jobs it had in hand are queued again as a stalled worker's."""
    procrastinate = _procrastinate()
    import psycopg

    lost = (procrastinate.exceptions.ConnectorException, psycopg.OperationalError)
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    running: list[asyncio.Task[None]] = []

    def on_signal() -> None:
        # The jobs in hand finish; a second signal acts as if we had not caught it.
        stopping.set()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        for task in running:
            task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    try:
        wait = 1.0
        while not stopping.is_set():
            started = time.monotonic()
            task = asyncio.create_task(
                _work_once(config, queues, concurrency, heartbeat_s, stalled_after_s)
            )
            running[:] = [task]
            why = "it stopped (its database connection failed)"
            try:
                await task
            except asyncio.CancelledError:
                if not stopping.is_set():
                    raise
            except lost as e:
                why = _cause(e)
            if stopping.is_set():
                return
            if time.monotonic() - started > 60:
                wait = 1.0  # it had been working: start again soon
            log.error("worker: %s; starting again in %.0f s", why, wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=wait)
            wait = min(wait * 2, 60.0)
    finally:
        # A stopped worker finishes the jobs in hand, as it would in their threads.
        await asyncio.to_thread(JOBS.close)


def _cause(e: BaseException) -> str:
    """The first line that says something (procrastinate wraps the driver's error)."""
    while e.__cause__ is not None and not str(e).strip(" \n.").replace("Database error", ""):
        e = e.__cause__
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


async def _work_once(
    config: Path,
    queues: Sequence[str],
    concurrency: int,
    heartbeat_s: float,
    stalled_after_s: float,
) -> None:
    app = make_app(config)
    await asyncio.to_thread(install, _url(_settings(config)))
    stop = asyncio.Event()
    async with app.open_async():
        watchdog = asyncio.create_task(_retry_stalled(app, stalled_after_s, stop))
        try:
            await app.run_worker_async(
                queues=list(queues),
                concurrency=concurrency,
                update_heartbeat_interval=heartbeat_s,
                stalled_worker_timeout=stalled_after_s,
                delete_jobs="successful",
                install_signal_handlers=False,  # work() handles them
            )
        finally:
            stop.set()
            await watchdog


async def queue_now(config: Path, *, force: bool) -> int:
    """``newsmirror enqueue``: queue the due sources now (what the tick does)."""
    procrastinate = _procrastinate()
    import psycopg

    settings = _settings(config)
    url = _url(settings)
    app = make_app(config)
    try:
        await asyncio.to_thread(install, url)
        async with app.open_async():
            return await enqueue(app, settings, force=force)
    except (psycopg.Error, procrastinate.exceptions.ConnectorException) as e:
        raise CatalogError(f"{redact(url)}: {_cause(e)}") from e


def check(config: Path) -> None:
    """Raise a clear error when this configuration cannot run workers."""
    _url(_settings(config))
    _procrastinate()
