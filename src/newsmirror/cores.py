"""CPU work (parsing, sanitizing, extracting) on every core the process may use.

Python threads share one interpreter lock, so parsing in threads keeps a pass on one core
however many the machine has, and the event loop that fetches and the writer that writes wait
for the same lock.  The pure, CPU-bound steps take plain bytes and settings and give back data
classes, so they can run in a pool of processes instead.

With one core there is no pool: a thread does the work (a process would only add copying).

A worker process can die under a job: a crash inside a C parser, the kernel's out-of-memory
killer.  That costs the job, not the pass: every job the broken pool held is run again alone
in a process of its own, so only the one that dies again fails, as its unit's error.  An
exception a job raises comes back as itself when it can cross the process boundary, and as a
:class:`WorkerError` naming it when it cannot.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import pickle
import select
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, ClassVar, ParamSpec, Protocol, TypeVar

from .errors import NewsmirrorError, reason

P = ParamSpec("P")
T = TypeVar("T")

# Imported once in the fork server, so each worker starts with them loaded.
PRELOAD = ["newsmirror.sources.feed", "newsmirror.sources.fulltext"]


class WorkerError(NewsmirrorError):
    """A job in a worker process failed in a way its own exception cannot tell."""


class Runner(Protocol):
    """Runs a CPU-bound function somewhere other than the event loop's thread."""

    async def __call__(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T: ...


async def in_thread(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """The runner of a single core: a thread, so the event loop is never stalled."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def available() -> int:
    """How many cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# The main process (fetching, writing, the catalog) spends about as much CPU on an article
# as its parsing does, so beyond a few workers more cores only add memory (~50 MB each).
MAX_DEFAULT = 4


def default_processes() -> int:
    """One worker process per core up to :data:`MAX_DEFAULT`, or none (threads) on a single
    core."""
    n = available()
    return min(n, MAX_DEFAULT) if n > 1 else 0


def _start(parent: int) -> None:
    """Set up a worker process (the pool's initializer)."""
    # Ctrl-C and a service manager's SIGTERM reach the whole process group: the parent
    # stops the pass in order and shuts the pool down; a worker killed mid-job would only
    # make the parent run that job again.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_watch, args=(parent,), name="parent", daemon=True).start()


def _watch(parent: int) -> None:
    """End this worker when the process that started the pool is gone.

    A parent killed with SIGKILL cannot shut its pool down, and a pool's worker holds both
    ends of its job queue, so it would wait for jobs forever (and keep the fork server alive).
    """
    try:
        fd = os.pidfd_open(parent)
    except ProcessLookupError:
        os._exit(0)
    except (AttributeError, OSError):  # no pidfd here: look once a second
        while _alive(parent):
            time.sleep(1)
        os._exit(0)
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    poller.poll()  # readable once the process has exited
    os._exit(0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _job(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Runs in the worker: the result, or the exception as something the parent can read."""
    try:
        return True, fn(*args, **kwargs)
    except BaseException as e:  # whatever it is, it belongs to the job
        if isinstance(e, MemoryError):
            # Only this worker ran short; the parent's state is intact.
            return False, WorkerError(f"out of memory ({reason(e)})")
        if not isinstance(e, Exception):  # a SystemExit from library code: the job's too
            return False, WorkerError(reason(e))
        try:
            pickle.loads(pickle.dumps(e))
        except Exception:
            return False, WorkerError(reason(e))
        return False, e


class Cores:
    """A pool of worker processes, started at the first job and kept for later passes.

    ``processes`` 0 runs every job in a thread.  Pools are shared by every ``Cores`` of the
    same size in this process (a scheduled ``run`` starts its workers once, not every pass).
    """

    _pools: ClassVar[dict[int, ProcessPoolExecutor]] = {}
    _lock = threading.Lock()

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._alone = asyncio.Semaphore(max(1, processes))

    async def __call__(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        if self.processes == 0:
            return await in_thread(fn, *args, **kwargs)
        pool = self._pool()
        try:
            # Submitting from a thread: the first submit waits for the fork server to start
            # (most of a second), and the event loop goes on fetching meanwhile.
            future = await asyncio.to_thread(pool.submit, _job, fn, args, kwargs)
            ok, value = await asyncio.wrap_future(future)
        except BrokenProcessPool:
            self._drop(pool)
            async with self._alone:
                ok, value = await self._alone_run(fn, args, kwargs)
        if ok:
            return value  # type: ignore[no-any-return]
        raise value

    def start(self) -> None:
        """Start the workers in the background, so they are ready when the first document
        arrives instead of starting then."""
        if self.processes:
            # Not a daemon: a process that ends while a worker is still being started would
            # pull the start's shared state from under it; the exit waits for the start.
            threading.Thread(target=self._warm, name="cores").start()

    def _warm(self) -> None:
        with contextlib.suppress(Exception):  # a pool that fails to start fails its jobs
            pool = self._pool()
            for _ in range(self.processes):
                pool.submit(int)  # a job that does nothing starts a worker

    async def _alone_run(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """The job in a process of its own: if that dies too, the job is the cause."""
        pool = _new_pool(1)
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, _job, fn, args, kwargs)
        except BrokenProcessPool:
            name = getattr(fn, "__name__", "job")
            raise WorkerError(f"the worker process died while running {name}") from None
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            pool = self._pools.get(self.processes)
            if pool is None:
                pool = self._pools[self.processes] = _new_pool(self.processes)
            return pool

    def _drop(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pools.get(self.processes) is pool:
                del self._pools[self.processes]
        pool.shutdown(wait=False, cancel_futures=True)


def _new_pool(processes: int) -> ProcessPoolExecutor:
    # A fork server, not fork: forking a process that runs threads (the event loop's
    # helpers, the writer) can copy a lock some thread holds.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return ProcessPoolExecutor(
        processes, mp_context=context, initializer=_start, initargs=(os.getpid(),)
    )
