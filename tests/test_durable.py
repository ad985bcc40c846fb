"""Durability at the cost of a few syncs per pass, and git work that grows with the pass.

New files of a pass become durable in syncs shared by all the sources waiting (group
commit), and no catalog row names a file before such a sync; git stages only what the pass
wrote (the writer's journal), so a stray file is never committed and a pass that wrote
nothing runs no ``git add``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import threading
import time
from pathlib import Path

import pytest

from newsmirror.config import load
from newsmirror.errors import ArchiveError
from newsmirror.pipeline import Updater
from newsmirror.publish import git as git_publish
from newsmirror.report import SourceReport
from newsmirror.store import files as files_module
from newsmirror.store.files import WRITTEN, ArchiveWriter, SyncBarrier

from . import feeds
from .conftest import archive_catalog, git, write_config
from .fakeserver import FakeServer

# Every test here runs on both catalog engines (conftest.catalog_backend).
pytestmark = pytest.mark.usefixtures("catalog_backend")

SOURCES = 12


def _config(tmp_path: Path, server: FakeServer, *, git_on: bool = False) -> Path:
    for i in range(SOURCES):
        server.routes[f"/f{i}.xml"] = feeds.rss(
            feeds.items(5, prefix=f"https://s{i}.example/n/", start_ms=1_666_000_000_000 + i)
        )
    return write_config(
        tmp_path / "newsmirror.toml",
        [
            {"id": f"s{i}", "name": f"源{i}", "url": server.url(f"/f{i}.xml")}
            for i in range(SOURCES)
        ],
        git=git_on,
    )


def test_new_files_share_syncs_and_are_not_fsynced_one_by_one(
    tmp_path: Path, server: FakeServer, run_update, monkeypatch: pytest.MonkeyPatch
) -> None:
    syncs: list[float] = []
    fsynced: list[int] = []

    def slow_sync(path: Path) -> None:
        time.sleep(0.2)  # long enough for the other sources to queue behind it
        syncs.append(time.monotonic())

    real_fsync = os.fsync
    monkeypatch.setattr(files_module, "sync_file_system", slow_sync)
    monkeypatch.setattr(os, "fsync", lambda fd: (fsynced.append(fd), real_fsync(fd))[1])
    cfg = _config(tmp_path, server)
    report = run_update(cfg)
    assert report.new == SOURCES * 5 and not report.failed
    assert 1 <= len(syncs) < SOURCES
    # Nothing is fsynced file by file: the lists and the README share a sync too.
    assert fsynced == []
    # A pass that edits every article replaces files (and rewrites every list): their
    # bytes are synced before they are moved into place, a few syncs for them all.
    for i in range(SOURCES):
        edited = [
            dataclasses.replace(it, body=it.body + "<p>更正。</p>")
            for it in feeds.items(5, prefix=f"https://s{i}.example/n/", start_ms=1 + i)
        ]
        server.routes[f"/f{i}.xml"] = feeds.rss(edited)
    syncs.clear()
    again = run_update(cfg)
    assert again.updated == SOURCES * 5 and not again.failed
    assert fsynced == [] and 1 <= len(syncs) < 2 * SOURCES + 2
    texts = [p.read_text() for p in (tmp_path / "site/articles/s0").rglob("*.md")]
    assert len(texts) == 5 and all("更正。" in t for t in texts)


def test_no_catalog_row_without_a_sync(
    tmp_path: Path, server: FakeServer, run_update, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_sync(path: Path) -> None:
        raise ArchiveError(f"cannot sync {path}: Input/output error")

    cfg = _config(tmp_path, server)
    monkeypatch.setattr(files_module, "sync_file_system", broken_sync)
    updater = Updater(load(cfg), clock=clock)
    seen: list[SourceReport] = []
    updater.on_source = seen.append
    # Each source fails on its own; then the lists, which cannot be made durable either,
    # end the pass with the same error.
    with pytest.raises(ArchiveError, match="Input/output error"):
        updater.run()
    assert len(seen) == SOURCES
    assert all("Input/output error" in (r.error or "") for r in seen)
    catalog = archive_catalog(tmp_path / "site")
    try:
        assert all(st.articles == 0 for st in catalog.sources())
    finally:
        catalog.close()
    # The files are there but unknown; the next pass, able to sync, takes them in.
    monkeypatch.undo()
    again = run_update(cfg)
    assert again.new == SOURCES * 5 and not again.failed


def test_replacements_are_moved_into_place_only_after_a_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = ArchiveWriter(tmp_path, fsync=True)
    writer.write_batch([("a/old.md", b"old"), ("a/same.md", b"same")])
    at_sync: list[dict[str, bytes]] = []

    def sync(path: Path) -> None:
        at_sync.append({p.name: p.read_bytes() for p in (tmp_path / "a").iterdir()})

    fsynced: list[int] = []
    monkeypatch.setattr(files_module, "sync_file_system", sync)
    monkeypatch.setattr(os, "fsync", fsynced.append)
    written = writer.write_batch(
        [("a/old.md", b"new"), ("a/same.md", b"same"), ("a/fresh.md", b"fresh")],
        defer_sync=True,
    )
    assert written == [True, False, True]
    assert fsynced == []  # one sync for the batch instead of one fsync per replaced file
    # At the sync the replaced file still held its old bytes and its new ones waited
    # beside it: a crash there leaves the old file whole.
    (seen,) = at_sync
    assert seen["old.md"] == b"old" and b"new" in seen.values()
    assert (tmp_path / "a/old.md").read_bytes() == b"new"
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["fresh.md", "old.md", "same.md"]
    writer.sync()  # the renames
    assert len(at_sync) == 2


def test_a_large_batch_is_made_durable_by_syncs_a_small_one_by_fsyncs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = ArchiveWriter(tmp_path, fsync=True)
    writer.write_batch([(f"a/{i}.md", b"old") for i in range(5)])
    syncs: list[Path] = []
    fsynced: list[int] = []
    monkeypatch.setattr(files_module, "sync_file_system", syncs.append)
    monkeypatch.setattr(os, "fsync", fsynced.append)
    many = [(f"a/{i}.md", b"new") for i in range(files_module.SHARED_SYNC_FROM + 5)]
    assert writer.write_batch(many) == [True] * len(many)
    # Durable on return: the replacements' bytes, then their renames and the new files.
    assert fsynced == [] and len(syncs) == 2
    assert all((tmp_path / p).read_bytes() == b"new" for p, _ in many)
    syncs.clear()
    assert writer.write_batch([("a/0.md", b"again"), ("b/x.md", b"x")]) == [True, True]
    assert syncs == [] and len(fsynced) >= 2  # each file, then its folder


def test_a_failed_sync_leaves_every_replaced_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = ArchiveWriter(tmp_path, fsync=True)
    writer.write_batch([("a/one.md", b"1"), ("a/two.md", b"2")])

    def broken_sync(path: Path) -> None:
        raise ArchiveError(f"cannot sync {path}: Input/output error")

    monkeypatch.setattr(files_module, "sync_file_system", broken_sync)
    with pytest.raises(ArchiveError):
        writer.write_batch([("a/one.md", b"uno"), ("a/two.md", b"dos")], defer_sync=True)
    assert (tmp_path / "a/one.md").read_bytes() == b"1"
    assert (tmp_path / "a/two.md").read_bytes() == b"2"
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["one.md", "two.md"]


def test_barrier_releases_a_waiter_only_after_a_sync_that_began_after_it() -> None:
    writer = ArchiveWriter(Path("."), fsync=True)
    started: list[float] = []
    gate = threading.Event()

    def sync() -> None:
        started.append(time.monotonic())
        gate.wait(5)

    writer.sync = sync  # type: ignore[method-assign]

    async def main() -> list[float]:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(2) as pool:
            barrier = SyncBarrier(writer, pool)
            first = asyncio.ensure_future(barrier.wait())
            await asyncio.sleep(0.05)  # the first sync is running now
            asked = time.monotonic()
            late = [asyncio.ensure_future(barrier.wait()) for _ in range(10)]
            await asyncio.sleep(0.05)
            assert not first.done() and not any(f.done() for f in late)
            gate.set()
            await asyncio.gather(first, *late)
            assert barrier.syncs == 2  # ten late waiters share one sync
            return [asked]

    (asked,) = asyncio.run(main())
    assert len(started) == 2 and started[1] >= asked


def _repo(tmp_path: Path, server: FakeServer) -> Path:
    cfg = _config(tmp_path, server, git_on=True)
    return cfg


def test_git_stages_only_what_the_pass_wrote(
    tmp_path: Path, server: FakeServer, run_update, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _repo(tmp_path, server)
    first = run_update(cfg)
    assert first.commit
    site = tmp_path / "site"
    (site / "notes-of-the-operator.txt").write_text("private")
    commands: list[tuple[str, ...]] = []
    real_run = git_publish.GitRepo.run

    def record(self: git_publish.GitRepo, *args: str, **kw: object) -> str:
        commands.append(args)
        return real_run(self, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(git_publish.GitRepo, "run", record)
    clock.ms += 3_600_000
    nothing = run_update(cfg)
    assert nothing.commit is None
    assert not any("add" in c for c in commands), commands
    assert not any(c[:1] == ("status",) for c in commands)

    server.routes["/f0.xml"] = feeds.rss(
        feeds.items(6, prefix="https://s0.example/n/", start_ms=1_666_000_000_000)
    )
    clock.ms += 3_600_000
    commands.clear()
    one = run_update(cfg)
    assert one.new == 1 and one.commit
    assert ("add", "-A") not in commands
    changed = git(site, "show", "--name-only", "--format=", "HEAD").split()
    assert "notes-of-the-operator.txt" not in changed
    assert any(p.startswith("articles/") for p in changed) and "README.md" in changed
    assert "notes-of-the-operator.txt" in git(site, "status", "--porcelain")
    assert not (site / WRITTEN).exists()


def test_files_of_an_interrupted_pass_are_committed_by_the_next(
    tmp_path: Path, server: FakeServer, run_update, clock
) -> None:
    cfg = _repo(tmp_path, server)
    run_update(cfg)
    site = tmp_path / "site"
    # What a pass killed after writing a file and before committing leaves behind.
    (site / "lists").mkdir(exist_ok=True)
    (site / "lists/extra [1].md").write_text("x")
    (site / WRITTEN).write_bytes(b"lists/extra [1].md\0")
    clock.ms += 3_600_000
    report = run_update(cfg)
    assert report.commit
    assert "lists/extra [1].md" in git(site, "show", "--name-only", "--format=", "HEAD")
    assert git(site, "status", "--porcelain") == ""
