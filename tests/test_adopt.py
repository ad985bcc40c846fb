"""Switching over: an existing mirror repository is adopted, never overwritten."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsmirror.store.adopt import read_article_file

from . import feeds
from .conftest import Clock, catalog_db, lose_catalog, snapshot, write_config
from .fakeserver import Answer, FakeServer
from .test_cli import nm

# Every test here runs on both catalog engines (conftest.catalog_backend).
pytestmark = pytest.mark.usefixtures("catalog_backend")


def _existing_repo(site: Path, shared: Path) -> None:
    """The shape the hourly mirror scripts leave: numbered files, one duplicate, a list."""
    d = site / "articles/dw"
    d.mkdir(parents=True)
    golden = (shared / "golden/dw-63558196.md").read_bytes()
    (d / "1048500.md").write_bytes(golden)
    # The old scripts duplicated an edited story: an older copy under a higher number.
    (d / "1048560.md").write_bytes(golden.replace("美籲中重啟".encode(), "美國籲中國重啟".encode()))
    (d / "1048520.md").write_bytes(b"not an article file\n")
    (site / "lists").mkdir()
    (site / "lists/德国之声.md").write_bytes("德国之声\n------\n\n".encode())


def test_existing_duty_machine_repository_is_adopted(
    shared: Path, server: FakeServer, tmp_path: Path, run_update, clock: Clock
) -> None:
    site = tmp_path / "site"
    _existing_repo(site, shared)
    before = {
        p: (site / p).read_bytes()
        for p in ("articles/dw/1048500.md", "articles/dw/1048560.md", "articles/dw/1048520.md")
    }
    server.routes["/dw.xml"] = (shared / "golden/fulltext-feed.xml").read_bytes()
    cfg = write_config(
        tmp_path / "newsmirror.toml",
        [{"id": "dw", "name": "德国之声", "url": server.url("/dw.xml")}],
        layout="duty-machine",
    )
    report = run_update(cfg)
    # The golden item is already there (1048500): unchanged; the other two are new and are
    # numbered below the lowest existing file, never over one.
    assert (report.new, report.updated, report.sources[0].unchanged) == (2, 0, 1)
    for path, data in before.items():
        assert (site / path).read_bytes() == data, path
    names = sorted(p.name for p in (site / "articles/dw").iterdir())
    assert names == ["1048498.md", "1048499.md", "1048500.md", "1048520.md", "1048560.md"]
    lst = (site / "lists/德国之声.md").read_text()
    assert "(/articles/dw/1048500.md)" in lst and "1048560" not in lst  # duplicate left out
    # A second pass changes nothing.
    snap = snapshot(site)
    clock.ms += 3_600_000
    again = run_update(cfg)
    assert again.new == again.updated == 0 and snapshot(site) == snap


def test_lost_catalog_is_rebuilt_from_the_files(
    server: FakeServer, tmp_path: Path, run_update, clock: Clock
) -> None:
    server.routes["/feed.xml"] = feeds.rss(feeds.items(3))
    cfg = write_config(
        tmp_path / "newsmirror.toml",
        [{"id": "ex", "name": "示例台", "url": server.url("/feed.xml")}],
        layout="duty-machine",
    )
    run_update(cfg)
    snap = snapshot(tmp_path / "site")
    lose_catalog(tmp_path / "site")
    server.routes["/feed.xml"] = feeds.rss(feeds.items(4))
    clock.ms += 3_600_000
    report = run_update(cfg)
    assert (report.new, report.updated) == (1, 0)
    after = snapshot(tmp_path / "site")
    assert all(after[p] == snap[p] for p in snap if p.startswith("articles/"))
    assert "articles/ex/1048571.md" in after
    db = catalog_db(tmp_path / "site")
    assert db.execute("SELECT count(*) FROM articles").fetchone()[0] == 4


def test_guid_items_match_adopted_files_by_link(
    server: FakeServer, tmp_path: Path, run_update
) -> None:
    site = tmp_path / "site"
    (site / "articles/ex").mkdir(parents=True)
    its = feeds.items(1)
    its[0].guid = "urn:story:0"
    old = f"<!--{int(its[0].date.timestamp() * 1000)}-->\n[{its[0].title}]({its[0].link})\n"
    (site / "articles/ex/1048574.md").write_text(old + "------\n\n<p>old body</p>\n")
    server.routes["/feed.xml"] = feeds.rss(its)
    cfg = write_config(
        tmp_path / "newsmirror.toml",
        [{"id": "ex", "name": "示例台", "url": server.url("/feed.xml")}],
        layout="duty-machine",
    )
    report = run_update(cfg)
    assert (report.new, report.updated) == (0, 1)  # same story, new body: rewritten in place
    assert list((site / "articles/ex").iterdir()) == [site / "articles/ex/1048574.md"]
    assert "第 0 条示例新闻" in (site / "articles/ex/1048574.md").read_text()


def test_reading_article_files() -> None:
    f = read_article_file(
        b"<!--5-->\n[a \\] b](https://www.dw.com/zh/x/a-1)\n------\n\n<p>x</p>\n", "dw", "p.md"
    )
    assert f is not None
    assert (f.article.title, f.article.ident, f.article.date_ms) == ("a ] b", "id:a-1", 5)
    for bad in (b"", b"<!--x-->\n[a](b)\n------\n\n", b"<!--1-->\n[a](not a url)\n------\n\nx"):
        assert read_article_file(bad, "dw", "p.md") is None


def test_adopted_files_keep_their_image_copies_and_links(
    server: FakeServer, tmp_path: Path, run_update
) -> None:
    """A lost catalog (a fresh clone) rebuilt from files the archive wrote in copy mode:
    rendering them again keeps the relative pictures and links (they used to be resolved
    against the outlet's URL, and a later rewrite put broken outlet URLs in the files)."""
    its = feeds.items(3, prefix="https://s.example/n/")
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(200))
    server.routes["/img.png"] = lambda _req: Answer(200, png, {"Content-Type": "image/png"})
    its[0].body += f'<img src="{server.url("/img.png")}"><a href="{its[1].link}">前一条</a>'
    server.routes["/f.xml"] = feeds.rss(its)
    cfg = write_config(tmp_path / "newsmirror.toml", [{"id": "s", "url": server.url("/f.xml")}])
    cfg.write_text(cfg.read_text() + '\n[images]\nmode = "copy"\n')
    assert not run_update(cfg).failed
    site = tmp_path / "site"
    before = snapshot(site)
    newest = next(p for p in (site / "articles").rglob("*.md") if "前一条" in p.read_text())
    text = newest.read_text()
    assert 'src="../../../assets/' in text and '.md">前一条' in text

    lose_catalog(site)
    assert not run_update(cfg).failed  # adopts the files
    assert nm(tmp_path, "rewrite-images").returncode == 0
    after = snapshot(site)
    assert {k: v[0] for k, v in after.items()} == {k: v[0] for k, v in before.items()}
    catalog = catalog_db(site)
    keys = [r[0] for r in catalog.execute("SELECT key FROM refs WHERE key LIKE 'path:%'")]
    catalog.close()
    assert len(keys) == 1 and keys[0].startswith("path:articles/s/")
