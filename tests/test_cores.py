"""Parsing on every core: a pool of worker processes gives back results and exceptions as a
thread would, and a worker that dies costs only the job that killed it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from newsmirror import cores as cores_module
from newsmirror.cores import MAX_DEFAULT, Cores, WorkerError
from newsmirror.errors import ParseError


class Unpicklable(Exception):
    def __init__(self, a: int, b: int) -> None:  # pickle calls it with one argument
        super().__init__(f"{a}/{b}")


def work(kind: str, value: int = 0) -> tuple[int, int]:
    """The job: its value and the process it ran in, or each way of failing."""
    if kind == "die":
        time.sleep(0.2)  # the other jobs are in the pool by now
        os.kill(os.getpid(), signal.SIGKILL)
    if kind == "slow":
        time.sleep(0.5)
    if kind == "parse":
        raise ParseError(f"bad document {value}")
    if kind == "key":
        raise KeyError(value)
    if kind == "odd":
        raise Unpicklable(1, 2)
    if kind == "memory":
        raise MemoryError
    if kind == "exit":
        raise SystemExit(3)
    return value * 2, os.getpid()


def thread_name() -> str:
    return threading.current_thread().name


def run(cores: Cores, *jobs: tuple[str, int]) -> list[object]:
    async def main() -> list[object]:
        return await asyncio.gather(*(cores(work, k, v) for k, v in jobs), return_exceptions=True)

    return asyncio.run(main())


def test_results_and_exceptions_come_back_as_they_were() -> None:
    cores = Cores(2)
    ok, parse, key, odd, memory, exit_ = run(
        cores, ("ok", 21), ("parse", 7), ("key", 3), ("odd", 0), ("memory", 0), ("exit", 0)
    )
    assert isinstance(ok, tuple) and ok[0] == 42 and ok[1] != os.getpid()
    assert isinstance(parse, ParseError) and str(parse) == "bad document 7"
    assert isinstance(key, KeyError) and key.args == (3,)
    # An exception that cannot cross the boundary is named, not lost.
    assert isinstance(odd, WorkerError) and "Unpicklable: 1/2" in str(odd)
    # Only the worker ran short: not a MemoryError that would stop the whole pass.
    assert isinstance(memory, WorkerError) and "out of memory" in str(memory)
    assert isinstance(exit_, WorkerError) and "SystemExit: 3" in str(exit_)


def test_a_dead_worker_costs_only_its_job() -> None:
    cores = Cores(2)
    jobs = [("slow", i) for i in range(6)]
    results = run(cores, *jobs[:3], ("die", 0), *jobs[3:])
    died = results.pop(3)
    assert isinstance(died, WorkerError) and "died" in str(died)
    assert [r[0] for r in results] == [0, 2, 4, 6, 8, 10]  # type: ignore[index]
    # The broken pool was replaced: later jobs share a pool again.
    later = run(cores, ("slow", 1), ("slow", 2), ("slow", 3))
    assert len({r[1] for r in later}) <= 2  # type: ignore[index]


def test_no_processes_means_a_thread() -> None:
    async def main() -> str:
        return await Cores(0)(thread_name)

    assert asyncio.run(main()) != threading.main_thread().name


@pytest.mark.parametrize("processes", [1, 2])
def test_pools_are_shared_across_passes(processes: int) -> None:
    pids = {run(Cores(processes), ("ok", 1))[0][1] for _ in range(4)}  # type: ignore[index]
    assert len(pids) <= processes  # a new pool for each would make new processes


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited


PARENT = """
import asyncio, os, sys, time
sys.path.insert(0, {tests!r})
from newsmirror.cores import Cores
from test_cores import work

async def main():
    cores = Cores(2)
    pids = await asyncio.gather(*(cores(work, "slow", i) for i in range(4)))
    print(" ".join(str(p) for _, p in pids), flush=True)
    time.sleep(60)

if __name__ == "__main__":
    asyncio.run(main())
"""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_workers_end_with_a_killed_parent() -> None:
    """A parent killed with SIGKILL cannot shut its pool down; its workers notice and end."""
    script = PARENT.format(tests=str(Path(__file__).parent))
    with subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as parent:
        assert parent.stdout is not None
        pids = {int(p) for p in parent.stdout.readline().split()}
        assert pids and all(_running(p) for p in pids)
        parent.kill()
    deadline = time.monotonic() + 20
    while any(_running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_running(p) for p in pids)


@pytest.mark.parametrize(("cores", "processes"), [(1, 0), (2, 2), (3, 3), (64, MAX_DEFAULT)])
def test_default_count(monkeypatch: pytest.MonkeyPatch, cores: int, processes: int) -> None:
    """Threads on one core; a worker per core, but not one for each core of a big server."""
    monkeypatch.setattr(cores_module, "available", lambda: cores)
    assert cores_module.default_processes() == processes
