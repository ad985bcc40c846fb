"""A run killed at any moment (SIGKILL) and run again gives exactly the archive that an
uninterrupted run gives."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from . import feeds
from .conftest import git, snapshot, write_config
from .fakeserver import FakeServer

FEEDS = 16
ITEMS = 60


def _config(root: Path, server: FakeServer) -> Path:
    root.mkdir()
    return write_config(
        root / "newsmirror.toml",
        [{"id": f"s{i}", "name": f"源{i}", "url": server.url(f"/f{i}.xml")} for i in range(FEEDS)],
        layout="duty-machine",
        git=True,
    )


def _run(root: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "newsmirror", "update"],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _archive(root: Path) -> dict[str, bytes]:
    files = {k: v[0] for k, v in snapshot(root / "site").items()}
    # The README says *when* each source last changed: wall-clock times differ between runs.
    files["README.md"] = re.sub(rb"\d{4}-\d\d-\d\d \d\d:\d\d UTC", b"T", files["README.md"])
    return files


def test_killed_runs_converge_to_the_uninterrupted_archive(
    tmp_path: Path, server: FakeServer
) -> None:
    for i in range(FEEDS):
        server.routes[f"/f{i}.xml"] = feeds.rss(
            feeds.items(ITEMS, prefix=f"https://s{i}.example/n/", start_ms=1_666_000_000_000 + i)
        )
    reference = tmp_path / "reference"
    started = time.monotonic()
    assert _run_to_end(_config(reference, server)) == 0
    length = time.monotonic() - started  # kill moments scale with this machine's speed
    expected = _archive(reference)
    assert len([k for k in expected if k.startswith("articles/")]) == FEEDS * ITEMS

    killed = tmp_path / "killed"
    _config(killed, server)
    fractions = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2)
    mid_work = kill_repeatedly(lambda: _run(killed), killed, length, fractions)
    assert mid_work >= 1, "no kill landed in the middle of the work; make the work larger"
    assert _run_to_end(killed / "newsmirror.toml") == 0
    got = _archive(killed)
    assert sorted(got) == sorted(expected)
    for name in expected:
        assert got[name] == expected[name], name
    site = killed / "site"
    assert git(site, "status", "--porcelain") == ""  # everything is committed
    assert not (site / ".git/index.lock").exists()
    assert not list(site.rglob(".nm-*.tmp"))  # no temporary file left behind


def kill_repeatedly(
    start: Callable[[], subprocess.Popen[bytes]],
    root: Path,
    length: float,
    fractions: Sequence[float],
) -> int:
    """Start a run and SIGKILL it: first as soon as its first article file is there
    (whatever this machine's speed), then at these fractions of ``length`` (the time of
    a whole run).  Returns how many kills left the articles part-written."""
    mid_work = 0
    for fraction in (None, *fractions):
        p = start()
        if fraction is None:
            while _written(root) == 0 and p.poll() is None:
                time.sleep(0.005)
        else:
            time.sleep(length * fraction)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
        p.wait()
        if 0 < _written(root) < FEEDS * ITEMS:
            mid_work += 1
    return mid_work


def _written(root: Path) -> int:
    articles = root / "site/articles"
    return len(list(articles.rglob("*.md"))) if articles.exists() else 0


def _run_to_end(cfg: Path) -> int:
    p = _run(cfg.parent)
    return p.wait(timeout=300)
