"""One event loop for every fetch job of a worker process, and one fetcher for them.

A worker runs several jobs at once.  Each in a thread with its own event loop and fetcher
(as at first) made the process's threads take turns at the interpreter lock on every
wake-up of every loop: a worker ran slower with 8 jobs than with 2 (``bench/scale.py``),
and each job's fetcher kept its own connections, its own limit of requests at once and
its own database connection for the politeness shared by workers.  Here the jobs are
tasks of one loop in a thread of its own, as the sources of one ``update`` pass are, and
share one fetcher: ``[network] concurrency`` is the process's limit, as in ``update``,
and the shared politeness costs one connection per process.

The procrastinate worker's own loop only waits for the jobs' results, so its heartbeats
and job fetching are not held up by a job's parsing or catalog writes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from .config import NetworkSettings
from .fetch.http import Fetcher

T = TypeVar("T")


class JobLoop:
    """The loop's thread starts at the first job; :meth:`close` waits for the jobs in
    hand (a stopped worker finishes them) and closes the fetchers."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()
        # (network settings, catalog URL) -> fetcher and how many jobs use it; touched
        # on the loop only.  A configuration edited between jobs gets a new fetcher, and
        # the old one closes, once no job uses it, when a job of other settings starts.
        self._fetchers: dict[tuple[NetworkSettings, str], tuple[Fetcher, int]] = {}
        self._jobs: set[concurrent.futures.Future[Any]] = set()

    def _running(self) -> asyncio.AbstractEventLoop:
        with self._start:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name="jobs", daemon=True
                )
                self._thread.start()
            return self._loop

    async def run(
        self, network: NetworkSettings, url: str, job: Callable[[Fetcher], Awaitable[T]]
    ) -> T:
        """``job`` on the jobs' loop with the fetcher of these settings, from any loop.

        Cancelling the caller does not cancel the job: like a job in a thread, it ends
        on its own (one source's transaction is all or nothing either way)."""
        future = asyncio.run_coroutine_threadsafe(
            self._with_fetcher(network, url, job), self._running()
        )
        self._jobs.add(future)
        future.add_done_callback(self._jobs.discard)
        return await asyncio.shield(asyncio.wrap_future(future))

    async def _with_fetcher(
        self, network: NetworkSettings, url: str, job: Callable[[Fetcher], Awaitable[T]]
    ) -> T:
        key = (network, url)
        new = key not in self._fetchers
        fetcher, users = (Fetcher.sharing(network, url), 0) if new else self._fetchers[key]
        self._fetchers[key] = (fetcher, users + 1)
        try:
            if new:
                await self._close_fetchers(idle_only=True)  # of settings no longer asked for
            return await job(fetcher)
        finally:
            fetcher, users = self._fetchers[key]
            self._fetchers[key] = (fetcher, users - 1)

    def close(self) -> None:
        """Wait for the jobs in hand, close the fetchers and stop the loop (blocking)."""
        loop = self._loop
        if loop is None:
            return
        concurrent.futures.wait(list(self._jobs))
        asyncio.run_coroutine_threadsafe(self._close_fetchers(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        assert self._thread is not None
        self._thread.join()
        loop.close()
        self._loop = self._thread = None

    async def _close_fetchers(self, *, idle_only: bool = False) -> None:
        """Close the fetchers (``idle_only``: those no job uses), taken from the table
        before the first wait, so a job starting meanwhile never gets one being closed."""
        closing = [
            self._fetchers.pop(key)[0]
            for key, (_fetcher, users) in list(self._fetchers.items())
            if not (idle_only and users)
        ]
        for fetcher in closing:
            await fetcher.aclose()
