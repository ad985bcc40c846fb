"""Catalog and archive files: schema checks, refusals, path safety, atomic writes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from newsmirror import urls
from newsmirror.errors import ArchiveError, CatalogError
from newsmirror.model import Article
from newsmirror.store.catalog import APPLICATION_ID, SCHEMA_VERSION, Catalog
from newsmirror.store.files import ArchiveWriter
from newsmirror.store.rows import NewArticle


def _article(**kw: object) -> Article:
    base = dict(
        source="ex",
        ident="id:1",
        key="1",
        url="https://e.example/1",
        title="t",
        date_ms=1,
        body="<p>b</p>",
    )
    base.update(kw)
    return Article(**base)  # type: ignore[arg-type]


def test_new_catalog_has_schema_and_wal(tmp_path: Path) -> None:
    c = Catalog(tmp_path / "c.sqlite")
    c.close()
    db = sqlite3.connect(tmp_path / "c.sqlite")
    assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    Catalog(tmp_path / "c.sqlite").close()  # reopening migrates nothing and works


def test_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    Catalog(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(CatalogError, match="newer than this newsmirror understands"):
        Catalog(path)
    assert path.read_bytes() == before


def test_corrupt_and_foreign_databases_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(CatalogError, match="corrupt"):
        Catalog(bad)
    other = tmp_path / "other.sqlite"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE mine (x)")
    db.commit()
    db.close()
    with pytest.raises(CatalogError, match="not a newsmirror catalog"):
        Catalog(other)


def test_locked_catalog_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    c = Catalog(path)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    c.db.execute("PRAGMA busy_timeout = 100")
    with pytest.raises(CatalogError, match="locked"), c.transaction():
        pass
    holder.execute("ROLLBACK")


def test_revisions_are_kept(tmp_path: Path) -> None:
    c = Catalog(tmp_path / "c.sqlite")
    with c.transaction():
        c.ensure_source("ex", "Ex", "https://e.example/feed")
        c.add_article(_article(), "articles/ex/1.md", None, "h1", 10)
    known = c.known("ex", [_article()])["id:1"]
    with c.transaction():
        c.update_article(known, _article(title="t2"), "h2", 20)
    assert [(r[1], r[2]) for r in c.revisions("ex", "id:1")] == [(10, "t"), (20, "t2")]


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_articles_added_together_get_ids_revisions_and_refs_in_order(
    engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Many rows go in one statement each (in pieces under the variable limit); the ids
    come back in order and name the right rows, as one insert at a time would."""
    where = request.getfixturevalue("pg_url") if engine == "postgresql" else tmp_path / "c"
    c = Catalog(where)
    new = [
        NewArticle(
            _article(ident=f"id:{i}", key=str(i), title=f"t{i}", body=f"<p>{'长' * i}</p>"),
            f"articles/ex/{i}.md",
            i,
            f"h{i}",
            {f"id:x{i}", f"url:https://e.example/{i}", "img:https://e.example/shared.png"},
            alt_path=f"alt/{i}.md" if i % 2 else None,
        )
        for i in range(200)  # 13 values a row: more than one statement's worth
    ]
    with c.transaction():
        c.ensure_source("ex", "Ex", "https://e.example/f")
        first = c.add_article(_article(ident="id:first"), "articles/ex/first.md", None, "h", 5)
        ids = c.add_articles(new, 10)
        ids += c.add_articles([], 10)
    assert len(set(ids)) == 200 and min(ids) > first
    rows = c.db.execute(
        "SELECT id, ident, path, number, title, content_hash, alt_path, first_seen_ms "
        "FROM articles WHERE id != ? ORDER BY id",
        (first,),
    ).fetchall()
    assert [tuple(r) for r in rows] == [
        (aid, n.article.ident, n.path, n.number, n.article.title, n.hash, n.alt_path, 10)
        for aid, n in zip(ids, new, strict=True)
    ]
    for aid, n in zip(ids[::37], new[::37], strict=True):
        assert c.revisions("ex", n.article.ident) == [(n.hash, 10, n.article.title)]
        (stored,) = c.stored([aid])
        assert stored.article.body == n.article.body
    assert c.referrers(["id:x5"]) == [ids[5]]
    assert c.referrers(["img:https://e.example/shared.png"]) == sorted(ids)
    with c.transaction():
        c.add_pending(["id:x1", "id:x2", "id:x1"])  # a key twice is kept once
        c.add_pending(["id:x2"])
    assert c.pending() == ["id:x1", "id:x2"]
    with c.transaction():
        c.clear_pending(["id:x1", "id:none"])
    assert c.pending() == ["id:x2"]
    c.close()


def test_long_bodies_are_kept_deflated_and_read_back_as_written(tmp_path: Path) -> None:
    long = "<p>" + "德国之声报道，柏林政府周三宣布经济增长。\x00" * 40 + "</p>"
    c = Catalog(tmp_path / "c.sqlite")
    with c.transaction():
        c.ensure_source("ex", "Ex", "https://e.example/feed")
        c.add_article(_article(body=long), "articles/ex/1.md", None, "h1", 10)
        c.add_article(_article(ident="id:2", key="2", body="<p>短</p>"), "a/ex/2.md", None, "h", 10)
    assert c.db.execute("PRAGMA page_size").fetchone()[0] == 16384
    kept = dict(c.db.execute("SELECT article_id, body FROM revisions").fetchall())
    assert isinstance(kept[1], bytes) and len(kept[1]) < len(long.encode()) / 3
    assert kept[2] == "<p>短</p>"  # too short to gain: text
    # A body a catalog of before kept as text reads the same.
    c.db.execute(
        "INSERT INTO revisions (article_id, content_hash, seen_ms, url, title, "
        "date_ms, authors, body) VALUES (1, 'h0', 5, 'u', 't0', 1, '[]', ?)",
        ("<p>x</p>" * 50,),
    )
    stored = {st.known.article_id: st.article.body for st in c.stored([1, 2])}
    assert stored == {1: "<p>x</p>" * 50, 2: "<p>短</p>"}
    (first,) = [r for r in c.db.execute("SELECT id FROM revisions WHERE content_hash = 'h1'")]
    assert c.revision(first[0], _article()).body == long
    c.close()


def test_deflated_bodies_are_plain_zlib_streams_with_or_without_isal() -> None:
    from newsmirror.store import db

    body = "<p>" + "德国之声报道，柏林政府周三宣布经济增长。" * 60 + "</p>"
    fast = db.deflated(body)
    assert fast is not None and zlib.decompress(fast).decode() == body
    # As small as zlib's own level 1 (the catalog's size depends on it).
    assert len(fast) <= len(zlib.compress(body.encode(), 1)) * 1.1
    # Where isal cannot be imported, zlib's own deflate makes what every reader reads.
    script = (
        "import sys, zlib\n"
        "sys.modules['isal.isal_zlib'] = None\n"
        "from newsmirror.store import db\n"
        "assert db._deflate is zlib.compress\n"
        "sys.stdout.write(db.deflated(sys.stdin.read()).hex())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], input=body, capture_output=True, text=True,
        encoding="utf-8", check=True,
    )  # fmt: skip
    slow = bytes.fromhex(out.stdout)
    assert db.unpack(slow) == db.unpack(fast) == body


@pytest.mark.parametrize(
    "bad", ["../x.md", "/etc/passwd", "a/../../x", "a//b", "", "a/./b", "a\0b"]
)
def test_paths_cannot_escape_the_archive(tmp_path: Path, bad: str) -> None:
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(ArchiveError):
        ArchiveWriter(root).write_if_changed(bad, b"x")
    assert [p.name for p in tmp_path.iterdir()] == ["root"]  # nothing written beside it


def test_symlink_escape_is_refused(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "root/link").symlink_to(tmp_path)
    with pytest.raises(ArchiveError, match="escapes"):
        ArchiveWriter(tmp_path / "root").write_if_changed("link/outside.md", b"x")
    assert not (tmp_path / "outside.md").exists()


def test_write_if_changed_and_stale_temps(tmp_path: Path) -> None:
    w = ArchiveWriter(tmp_path)
    w.clear_temps()
    assert w.write_if_changed("a/b.md", b"x")
    mtime = (tmp_path / "a/b.md").stat().st_mtime_ns
    assert not w.write_if_changed("a/b.md", b"x")
    assert (tmp_path / "a/b.md").stat().st_mtime_ns == mtime
    assert w.write_batch([("a/b.md", b"y"), ("a/c.md", b"z")]) == [True, True]
    assert (tmp_path / "a/b.md").read_bytes() == b"y"
    (tmp_path / "a/.nm-99-1.tmp").write_bytes(b"half")  # a killed run's leftover
    (tmp_path / "a/.nm-notes.txt").write_bytes(b"not ours")
    ArchiveWriter(tmp_path).clear_temps()  # the next run
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [".nm-notes.txt", "b.md", "c.md"]


def test_batch_stops_between_files(tmp_path: Path) -> None:
    w = ArchiveWriter(tmp_path)
    w.clear_temps()
    calls = iter([False, False, True])
    assert w.write_batch([("1.md", b"1"), ("2.md", b"2"), ("3.md", b"3")], lambda: next(calls)) == [
        True,
        True,
    ]
    assert not (tmp_path / "3.md").exists()


def test_writer_refuses_symlinked_folders(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "root/articles").symlink_to(tmp_path)
    w = ArchiveWriter(tmp_path / "root")
    with pytest.raises(ArchiveError, match="escapes"):
        w.write_if_changed("articles/x.md", b"x")


@pytest.mark.parametrize(
    ("outlet", "safe"),
    [
        ("CON", False),
        ("nul.txt", False),
        ("Com1", False),
        ("key.hant", False),
        ("key.HANS", False),
        ("trailing.", False),
        ("console", True),
        ("a-63558196", True),
        ("../../etc", False),
        ("x/y", False),
        (".hidden", False),
        ("名字", False),
        ("a" * 200, False),
    ],
)
def test_file_keys_are_always_safe(outlet: str, safe: bool) -> None:
    key = urls.file_key(outlet, "https://e.example/x")
    assert (key == outlet) is safe
    assert "/" not in key and not key.startswith(".")


def test_outlet_ids() -> None:
    assert urls.outlet_id("https://www.dw.com/zh/任何标题/a-63558196?maca=x") == "a-63558196"
    assert (
        urls.outlet_id("https://www.bbc.com/zhongwen/simp/articles/c4n3x?at_medium=RSS") == "c4n3x"
    )
    assert urls.outlet_id("https://www.voachinese.com/a/some-slug/7000001.html") == "7000001"
    assert urls.outlet_id("https://example.org/a-1") is None


def test_tracking_stripping_keeps_other_params_verbatim() -> None:
    assert (
        urls.serialize("https://E.example/p?a=%E4%B8%AD&utm_source=RSS&b=1&maca=z#f")
        == "https://e.example/p?a=%E4%B8%AD&b=1#f"
    )
    assert urls.serialize("https://e.example/p?utm_source=x") == "https://e.example/p"
    assert urls.canonical("https://e.example/p?x=1#frag") == "https://e.example/p?x=1"


def test_schema_1_catalog_is_migrated_with_its_data(tmp_path: Path) -> None:
    from newsmirror.store.schema import MIGRATIONS

    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0])
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute("PRAGMA user_version = 1")
    db.execute("INSERT INTO sources (id, name, url, failures) VALUES ('ex', 'Ex', 'u', 2)")
    db.commit()
    db.close()
    c = Catalog(path)
    (st,) = c.sources()
    assert (st.id, st.failures, st.next_due_ms, st.failing_since_ms) == ("ex", 2, None, None)
    assert c.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 14
    assert c.db.execute("SELECT count(*) FROM checks").fetchone()[0] == 0
    # Schema 10: the indexes of columns that are nearly always NULL keep only the others,
    # and lookups by value still use them.
    indexes = dict(c.db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index'"))
    assert indexes["articles_by_home"].endswith("WHERE home IS NOT NULL")
    assert indexes["articles_by_alt_path"].endswith("WHERE alt_path IS NOT NULL")
    for sql in (
        "SELECT id FROM articles WHERE home = ?",
        "SELECT url FROM articles WHERE path = ? OR alt_path = ?",
    ):
        marks = ("x",) * sql.count("?")
        plan = " ".join(r[3] for r in c.db.execute("EXPLAIN QUERY PLAN " + sql, marks))
        assert "INDEX" in plan and "SCAN" not in plan, plan


def test_a_second_concurrent_update_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    from newsmirror.config import load
    from newsmirror.pipeline import Updater, archive_lock

    from .conftest import write_config

    cfg = write_config(
        tmp_path / "newsmirror.toml", [{"id": "ex", "name": "Ex", "url": "http://127.0.0.1:9/feed"}]
    )
    settings = load(cfg)
    settings.archive.path.mkdir()
    with (
        archive_lock(settings.archive.path),
        pytest.raises(CatalogError, match="another newsmirror process is updating this archive"),
    ):
        Updater(settings).run()
    assert not (settings.archive.path / "README.md").exists()
    assert not settings.catalog_path.exists()


def test_removing_and_temps_of_a_reused_writer(tmp_path: Path) -> None:
    w = ArchiveWriter(tmp_path)
    w.clear_temps()
    assert w.write_batch([("a/b.md", b"x"), ("d/e.md", b"y")]) == [True, True]
    assert w.remove(["x/y/gone.md", "d/e.md"]) == 1
    assert not (tmp_path / "x").exists()  # a path that is not there makes no folder
    assert not (tmp_path / "d").exists()  # the folder it left empty is gone
    w.clear_temps()  # the same writer, a second time
    w.write_if_changed("a/c.md", b"z")
    (tmp_path / "a/.nm-99-1.tmp").write_bytes(b"half")  # killed while writing there
    ArchiveWriter(tmp_path).clear_temps()
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["b.md", "c.md"]


def test_sources_ready_together_share_a_commit_and_keep_their_own_errors(
    tmp_path: Path,
) -> None:
    import asyncio

    from newsmirror.apply import CommitGroup

    catalog = Catalog(tmp_path / "c.sqlite")
    statements: list[str] = []
    catalog.db.set_trace_callback(statements.append)  # type: ignore[union-attr]

    def adds(sid: str, fail: bool = False):  # type: ignore[no-untyped-def]
        def record() -> None:
            catalog.ensure_source(sid, sid.upper(), f"https://{sid}.example/feed")
            if fail:
                raise ValueError(f"{sid}: broken")

        return record

    async def main() -> list[object]:
        group = CommitGroup(catalog)
        return await asyncio.gather(
            group.run(adds("a")),
            group.run(adds("b", fail=True)),
            group.run(adds("c")),
            return_exceptions=True,
        )

    try:
        results = asyncio.run(main())
        assert results[0] is None and results[2] is None
        assert isinstance(results[1], ValueError) and "b: broken" in str(results[1])
        # One transaction for the three; b's part alone was undone.
        assert statements.count("COMMIT") == 1 and statements.count("BEGIN IMMEDIATE") == 1
        assert [s.id for s in catalog.sources()] == ["a", "c"]
    finally:
        catalog.close()


def test_a_failed_group_commit_is_every_sources_error(tmp_path: Path) -> None:
    import asyncio

    from newsmirror.apply import CommitGroup

    catalog = Catalog(tmp_path / "c.sqlite")
    other = sqlite3.connect(tmp_path / "c.sqlite", timeout=0)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the catalog: BEGIN fails
    catalog.db.execute("PRAGMA busy_timeout = 0")

    async def main() -> list[object]:
        group = CommitGroup(catalog)
        return await asyncio.gather(
            group.run(lambda: catalog.ensure_source("a", "A", "https://a.example/")),
            group.run(lambda: catalog.ensure_source("b", "B", "https://b.example/")),
            return_exceptions=True,
        )

    try:
        results = asyncio.run(main())
        assert all(isinstance(r, CatalogError) for r in results), results
    finally:
        other.rollback()
        other.close()
    assert catalog.sources() == []
    catalog.close()
