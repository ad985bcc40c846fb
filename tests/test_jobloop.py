"""A worker process's fetch jobs: one loop in a thread of its own, one fetcher for the
jobs of the same settings, and jobs that finish even when their caller stops waiting."""

from __future__ import annotations

import asyncio
import contextlib
import threading

from newsmirror.config import NetworkSettings
from newsmirror.fetch.http import Fetcher
from newsmirror.jobloop import JobLoop

URL = "postgresql:///nowhere"  # the fetchers' manners connect at their first statement


def test_jobs_at_once_share_one_loop_thread_and_one_fetcher() -> None:
    jobs = JobLoop()
    network = NetworkSettings()
    seen: list[tuple[int, int]] = []
    inside = most = 0
    both = threading.Barrier(2, timeout=10)

    async def job(fetcher: Fetcher) -> None:
        nonlocal inside, most
        seen.append((threading.get_ident(), id(fetcher)))
        inside += 1
        most = max(most, inside)
        await asyncio.sleep(0.2)  # the four are in hand at once
        inside -= 1

    async def run() -> None:
        await asyncio.gather(*(jobs.run(network, URL, job) for _ in range(2)))

    def caller() -> None:
        both.wait()  # two callers' loops, as procrastinate's and a second worker thread
        asyncio.run(run())

    threads = [threading.Thread(target=caller) for _ in range(2)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        jobs.close()
    assert len(seen) == 4 and most == 4
    assert len({thread for thread, _ in seen}) == 1  # one loop, not one per caller
    assert threading.get_ident() not in {thread for thread, _ in seen}
    assert len({fetcher for _, fetcher in seen}) == 1


def test_new_settings_get_a_new_fetcher_and_the_old_one_closes() -> None:
    jobs = JobLoop()
    fetchers: list[Fetcher] = []

    async def job(fetcher: Fetcher) -> None:
        if not fetchers:  # its closing takes a moment, as a connection's does
            close = fetcher.aclose

            async def slowly() -> None:
                await asyncio.sleep(0.1)
                await close()

            fetcher.aclose = slowly  # type: ignore[method-assign]
        fetchers.append(fetcher)

    async def run() -> None:
        await jobs.run(NetworkSettings(), URL, job)
        await jobs.run(NetworkSettings(), URL, job)  # the same settings: the same fetcher
        # Two jobs of new settings at once, while the old fetcher is being closed.
        new = NetworkSettings(concurrency=3)
        await asyncio.gather(jobs.run(new, URL, job), jobs.run(new, URL, job))

    try:
        asyncio.run(run())
        assert fetchers[0] is fetchers[1] and len(fetchers) == 4
        assert fetchers[2] is fetchers[3] is not fetchers[0]
        assert fetchers[0].client.is_closed and not fetchers[2].client.is_closed
    finally:
        jobs.close()
    assert fetchers[2].client.is_closed


def test_a_job_whose_caller_stops_waiting_finishes_before_close_returns() -> None:
    jobs = JobLoop()
    done = threading.Event()

    async def job(_fetcher: Fetcher) -> None:
        await asyncio.sleep(0.3)
        done.set()

    async def run() -> None:
        waiting = asyncio.create_task(jobs.run(NetworkSettings(), URL, job))
        await asyncio.sleep(0.05)
        waiting.cancel()  # as a stopped worker cancels its jobs' tasks
        with contextlib.suppress(asyncio.CancelledError):
            await waiting

    asyncio.run(run())
    assert not done.is_set()
    jobs.close()
    assert done.is_set()
