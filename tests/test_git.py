"""Commit and push against real local bare repositories."""

from __future__ import annotations

import subprocess
from pathlib import Path

from . import feeds
from .conftest import Clock, git, write_config
from .fakeserver import FakeServer


def _setup(tmp_path: Path, server: FakeServer, remotes: dict[str, Path]) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=site, check=True)
    for name, path in remotes.items():
        subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True)
        git(site, "remote", "add", name, str(path))
    return write_config(
        tmp_path / "newsmirror.toml",
        [
            {"id": "ex", "name": "示例台", "url": server.url("/feed.xml")},
            {"id": "dw", "name": "德国之声", "url": server.url("/dw.xml")},
        ],
        git=True,
        remotes=tuple(remotes),
    )


def test_commit_and_push_cycle(
    tmp_path: Path, server: FakeServer, run_update, clock: Clock
) -> None:
    origin, backup = tmp_path / "origin.git", tmp_path / "backup.git"
    cfg = _setup(tmp_path, server, {"origin": origin, "backup": backup})
    server.routes["/feed.xml"] = feeds.rss(feeds.items(2))
    server.routes["/dw.xml"] = feeds.rss(feeds.items(1, prefix="https://www.dw.com/zh/x/a-"))
    report = run_update(cfg)
    assert report.commit and sorted(report.pushed) == ["backup", "origin"]
    for remote in (origin, backup):
        assert git(remote, "rev-parse", "main").strip() == report.commit
    msg = git(tmp_path / "site", "log", "-1", "--format=%B")
    assert msg.startswith("Update: 3 new, 0 updated")
    assert "ex (示例台): 2 new, 0 updated" in msg and "dw (德国之声): 1 new, 0 updated" in msg
    tree = git(origin, "-c", "core.quotepath=false", "ls-tree", "-r", "--name-only", "main").split(
        "\n"
    )
    assert "README.md" in tree and "lists/示例台.md" in tree and "lists/德国之声.md" in tree
    assert not any(".newsmirror" in t for t in tree)

    # Nothing changed: no commit, no push, success.
    clock.ms += 3_600_000
    again = run_update(cfg)
    assert again.commit is None and again.pushed == [] and not again.publish_errors
    assert int(git(origin, "rev-list", "--count", "main")) == 1


def test_failed_push_is_retried_and_loses_nothing(
    tmp_path: Path, server: FakeServer, run_update, clock: Clock
) -> None:
    origin = tmp_path / "origin.git"
    cfg = _setup(tmp_path, server, {"origin": origin})
    server.routes["/feed.xml"] = feeds.rss(feeds.items(1))
    server.routes["/dw.xml"] = feeds.rss([])
    hidden = tmp_path / "origin-away.git"
    first = run_update(cfg)
    assert first.pushed == ["origin"]
    origin.rename(hidden)  # the remote is unreachable for a while
    server.routes["/feed.xml"] = feeds.rss(feeds.items(2))
    clock.ms += 3_600_000
    second = run_update(cfg)
    assert second.commit and "origin" in second.publish_errors
    # All of git's reason, not only its last line ("…and the repository exists.").
    reason = second.publish_errors["origin"]
    assert "does not appear to be a git repository" in reason
    assert "the repository exists" in reason and "\n" not in reason
    # Back online; nothing new arrives, but the waiting commit goes out.
    hidden.rename(origin)
    clock.ms += 3_600_000
    third = run_update(cfg)
    assert third.commit is None and third.pushed == ["origin"]
    assert git(origin, "rev-parse", "main").strip() == second.commit


def test_unknown_remote_is_reported(tmp_path: Path, server: FakeServer, run_update) -> None:
    cfg = _setup(tmp_path, server, {})
    text = cfg.read_text().replace("remotes = []", 'remotes = ["nowhere"]')
    cfg.write_text(text)
    server.routes["/feed.xml"] = feeds.rss(feeds.items(1))
    server.routes["/dw.xml"] = feeds.rss([])
    report = run_update(cfg)
    assert report.commit and "no remote named 'nowhere'" in report.publish_errors["nowhere"]
