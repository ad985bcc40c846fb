"""Runs where each pass starts from a fresh clone of the archive, without the catalog (a CI
runner every hour), change exactly what the same passes change on one persistent machine:
no commit when nothing is new, the README stable, the same files."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from . import feeds
from .conftest import Clock, git, snapshot, write_config
from .fakeserver import FakeServer


def _config(root: Path, server: FakeServer, layout: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    return write_config(
        root / "newsmirror.toml",
        [
            {"id": "a", "name": "甲台", "url": server.url("/a.xml")},
            {"id": "b", "name": "乙台", "url": server.url("/b.xml")},
        ],
        layout=layout,
        git=True,
        remotes=("origin",),
    )


def _files(site: Path) -> dict[str, bytes]:
    return {k: v[0] for k, v in snapshot(site).items()}


def test_passes_on_fresh_clones_equal_passes_on_one_machine(
    tmp_path: Path, server: FakeServer, run_update, clock: Clock
) -> None:
    for layout in ("dated", "duty-machine"):
        base = tmp_path / layout
        origin = base / "origin.git"
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
        steady = base / "steady"
        cfg = _config(steady, server, layout)
        subprocess.run(["git", "init", "-q", "-b", "main", str(steady / "site")], check=True)
        git(steady / "site", "remote", "add", "origin", str(origin))
        other = base / "other.git"  # the steady machine pushes elsewhere
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(other)], check=True)
        git(steady / "site", "remote", "set-url", "origin", str(other))

        a = feeds.items(3, prefix="https://a.example/n/")
        b = feeds.items(2, prefix="https://b.example/n/")
        plan = [(a, b), (a, b), ([*feeds.items(4, prefix="https://a.example/n/")], b), (a, b)]
        first = True
        for n, (items_a, items_b) in enumerate(plan):
            server.routes["/a.xml"] = feeds.rss(items_a)
            server.routes["/b.xml"] = feeds.rss(items_b)
            steady_report = run_update(cfg)
            # The same pass in a fresh clone of the published archive, no catalog.
            fresh = base / f"fresh{n}"
            fresh_cfg = _config(fresh, server, layout)
            if first:
                subprocess.run(["git", "init", "-q", "-b", "main", str(fresh / "site")], check=True)
                git(fresh / "site", "remote", "add", "origin", str(origin))
            else:
                subprocess.run(["git", "clone", "-q", str(origin), str(fresh / "site")], check=True)
            fresh_report = run_update(fresh_cfg)
            first = False
            assert (fresh_report.commit is None) == (steady_report.commit is None), n
            assert fresh_report.new == steady_report.new, n
            assert not fresh_report.publish_errors, fresh_report.publish_errors
            got, want = _files(fresh / "site"), _files(steady / "site")
            assert sorted(got) == sorted(want), n
            for name in want:
                a_bytes, b_bytes = got[name], want[name]
                if name == "README.md":  # times are the pass's own: equal up to the clock
                    a_bytes = re.sub(rb"\d{4}-\d\d-\d\d \d\d:\d\d UTC", b"T", a_bytes)
                    b_bytes = re.sub(rb"\d{4}-\d\d-\d\d \d\d:\d\d UTC", b"T", b_bytes)
                assert a_bytes == b_bytes, (n, name)
            clock.ms += 3_600_000
        # One commit per pass that brought something (passes 0 and 2), none otherwise.
        assert int(git(origin, "rev-list", "--count", "main")) == 2


def test_a_lost_catalog_fetches_no_archived_page_or_json_again(
    tmp_path: Path, server: FakeServer, shared: Path, run_update
) -> None:
    import shutil

    from . import outlets as o
    from .dwfake import FakeDW

    dw = FakeDW(server, shared)
    dw.fixtures()
    outlet = o.Outlet(server, "nyt", "/nyt.xml")
    outlet.pages["/p1"] = o.nyt_page()
    outlet.serve([o.teaser("好", server.url("/p1"), "2022-11-24T08:00:00+00:00")])
    (tmp_path / "a").mkdir()
    cfg = write_config(tmp_path / "a/c.toml", [dw.config(), outlet.config()])
    first = run_update(cfg)
    assert first.new == 3
    fresh = tmp_path / "b"
    shutil.copytree(
        tmp_path / "a/site", fresh / "site", ignore=shutil.ignore_patterns(".newsmirror")
    )
    shutil.copy(cfg, fresh / "c.toml")
    server.requests.clear()
    again = run_update(fresh / "c.toml")
    assert (again.new, again.updated) == (0, 0)
    asked = [r.path for r in server.requests]
    # The listings, and the one article DW does not have (404, retried every pass); never
    # the JSON of an archived article, never an archived article's page.
    assert not any(p.endswith(("/90000011", "/90000012", "/p1")) for p in asked), asked
    assert "/rdf/rss-chi-all" in asked and "/nyt.xml" in asked
