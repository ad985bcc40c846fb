"""The catalog in PostgreSQL: what differs from SQLite (schema checks, refusals, text that
PostgreSQL cannot hold as given), and the same archive from both engines."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsmirror.config import load
from newsmirror.errors import CatalogError, ConfigError
from newsmirror.model import ARCHIVE_REF, Article
from newsmirror.pipeline import Updater
from newsmirror.store.catalog import SCHEMA_VERSION, Catalog
from newsmirror.store.db import escape_text, redact, to_pyformat, unescape_text

from . import conftest, feeds
from .conftest import Clock, snapshot, write_config
from .fakeserver import Answer, FakeServer


def _counting(f: Any, calls: list[str], name: str) -> Any:
    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return f(*args, **kwargs)

    return counted


def _sql(url: str, statement: str) -> Any:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(statement)
        return cur.fetchall() if cur.description else None


def test_new_database_gets_the_schema_and_reopens(pg_url: str) -> None:
    Catalog(pg_url).close()
    assert _sql(pg_url, "SELECT version FROM newsmirror_schema") == [(SCHEMA_VERSION,)]
    c = Catalog(pg_url, create=False)  # reopening migrates nothing and works
    c.ensure_source("s", "S", "https://e.example/f")
    c.close()
    assert _sql(pg_url, "SELECT count(*) FROM sources") == [(1,)]


def test_the_streams_are_compressed_with_lz4_where_the_server_has_it(pg_url: str) -> None:
    Catalog(pg_url).close()
    try:
        _sql(pg_url, "SET default_toast_compression = lz4")
    except psycopg.errors.InvalidParameterValue:  # a server built without it
        wanted = [("body", ""), ("title", "")]
    else:
        wanted = [("body", "l"), ("title", "l")]
    made = _sql(
        pg_url,
        "SELECT attname, attcompression FROM pg_attribute WHERE attrelid = "
        "'search_docs'::regclass AND attname IN ('title', 'body') ORDER BY attname",
    )
    assert made == wanted


def test_a_schema_10_search_index_is_made_again_of_streams(pg_url: str) -> None:
    from newsmirror.store.search import SearchIndex

    c = Catalog(pg_url)
    with c.transaction():
        c.ensure_source("s", "S", "https://e.example/f")
        for i, text in enumerate(("联合国人权理事会开会", "联合国开会，人权组织")):
            a = Article(
                "s", f"id:{i}", f"k{i}", f"https://e.example/{i}", text, i, f"<p>{text}</p>"
            )
            c.add_article(a, f"articles/s/{i}.md", None, f"h{i}", i)
    c.close()
    # As schema 10 left it: vectors in the rows, four GIN indexes, no keys function, bodies
    # as text.
    _sql(
        pg_url,
        "ALTER TABLE revisions ALTER COLUMN body TYPE TEXT "
        "USING convert_from(substr(body, 2), 'UTF8')",
    )
    _sql(pg_url, "DROP TABLE search_docs")
    _sql(pg_url, "DROP FUNCTION newsmirror_keys")
    _sql(pg_url, "DROP TABLE asset_data")  # schema 14
    _sql(pg_url, "DROP INDEX articles_by_first_seen")
    _sql(
        pg_url,
        "CREATE TABLE search_docs (article_id BIGINT PRIMARY KEY REFERENCES articles(id), "
        "hash TEXT NOT NULL, revision_id BIGINT NOT NULL, words tsvector NOT NULL, "
        "title tsvector NOT NULL, chars tsvector NOT NULL, pairs INTEGER[] NOT NULL)",
    )
    _sql(pg_url, "CREATE INDEX search_by_words ON search_docs USING gin (words)")
    _sql(
        pg_url,
        "INSERT INTO search_docs SELECT id, content_hash, 1, '联合', '联合', '联', '{1}' "
        "FROM articles",
    )
    _sql(pg_url, "UPDATE newsmirror_schema SET version = 10")
    c = Catalog(pg_url)
    assert _sql(pg_url, "SELECT count(*) FROM search_docs") == [(0,)]
    index = SearchIndex(c)
    assert index.sync() == 2
    hits, total = index.search("联合国人权")
    assert total == 1 and hits[0].title == "联合国人权理事会开会"
    columns = _sql(
        pg_url,
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = 'search_docs' ORDER BY ordinal_position",
    )
    assert columns == [("article_id",), ("hash",), ("revision_id",), ("title",), ("body",)]
    indexes = _sql(pg_url, "SELECT indexname FROM pg_indexes WHERE tablename = 'search_docs'")
    assert sorted(indexes) == [("search_by_keys",), ("search_docs_pkey",), ("search_long",)]
    c.close()


def test_revision_bodies_are_deflated_and_those_kept_as_text_read_back(pg_url: str) -> None:
    """PostgreSQL's own compression leaves Chinese text as it is; the catalog deflates it,
    and a body schema 12 kept as text (NUL escaped) reads back as it was written."""
    long = "<p>" + "德国之声报道，柏林政府周三宣布经济增长。\x00\x01" * 40 + "</p>"
    short = "<p>短\x00\x01</p>"
    c = Catalog(pg_url)
    with c.transaction():
        c.ensure_source("s", "S", "https://e.example/f")
        for i, body in enumerate((long, short)):
            a = Article("s", f"id:{i}", f"k{i}", f"https://e.example/{i}", "标题", i, body)
            c.add_article(a, f"articles/s/{i}.md", None, f"h{i}", i)
    kept = [r[0] for r in _sql(pg_url, "SELECT body FROM revisions ORDER BY id")]
    assert kept[0][:1] != b"\0" and len(kept[0]) < len(long.encode()) / 3  # deflated
    assert kept[1][:1] == b"\0"  # too short to gain: its text, marked
    assert [st.article.body for st in c.stored([1, 2])] == [long, short]
    # As schema 12 kept bodies: text, with the NUL escaped as every text column holds it.
    c.db.execute("ALTER TABLE revisions ALTER COLUMN body TYPE TEXT USING ''")
    c.db.execute("DROP INDEX search_long")
    c.db.execute("DROP TABLE asset_data")  # schema 14
    c.db.execute("DROP INDEX articles_by_first_seen")
    c.db.execute("UPDATE newsmirror_schema SET version = 12")
    c.db.execute("UPDATE revisions SET body = ? WHERE id = 1", (long,))
    c.close()
    c = Catalog(pg_url)
    assert _sql(pg_url, "SELECT version FROM newsmirror_schema") == [(SCHEMA_VERSION,)]
    assert c.stored([1])[0].article.body == long
    assert c.revision(1, c.stored([1])[0].article).body == long
    c.close()


def test_the_longest_bodies_are_indexed_and_found(pg_url: str) -> None:
    """A body of every CJK character once and words of every length has more keys than a
    ``tsvector`` may hold; its first 24,000 characters are keyed, and it is indexed."""
    import random

    from newsmirror.store.search import SearchIndex

    rng = random.Random(3)
    han = [chr(c) for c in range(0x4E00, 0x9FA6)]
    rng.shuffle(han)
    words = " ".join("x" * n for n in range(1, 600, 7))
    body = "".join(han) + "。" + words + "。" + "".join(han[:5000]) + " 末尾"
    c = Catalog(pg_url)
    try:
        c.ensure_source("s", "S", "https://e.example/f")
        a = Article("s", "id:1", "k1", "https://e.example/1", "长文" * 900, 1, f"<p>{body}</p>")
        c.add_article(a, "articles/s/1.md", None, "h1", 1)
        index = SearchIndex(c)
        assert index.sync() == 1
        assert index.search(han[10] + han[11] + han[12])[1] == 1
        assert index.search("长文长")[1] == 1
    finally:
        c.close()


def test_words_after_the_keyed_part_are_found_either_way_the_rows_are_read(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a long body's first 24,000 characters are keyed; its words after them are found
    through the index as when the rows are read one by one, and they are checked."""
    from newsmirror.store import search_pg
    from newsmirror.store.search import SearchIndex

    long = "<p>" + "德国之声报道柏林消息。" * 2500 + "</p><p>末尾 zzyzx 长尾词组</p>"
    c = Catalog(pg_url)
    try:
        c.ensure_source("s", "S", "https://e.example/f")
        for i, body in enumerate((long, "<p>短文 zzyzy 长尾</p>", long.replace("末尾", "开头"))):
            a = Article("s", f"id:{i}", f"k{i}", f"https://e.example/{i}", "标题", i, body)
            c.add_article(a, f"articles/s/{i}.md", None, f"h{i}", i)
        index = SearchIndex(c)
        assert index.sync() == 3
        queries = {"末尾": 1, "zzyzx": 2, "zzyz*": 3, "长尾词组": 2, '"末尾 zzyzx"': 1, "长尾": 3}
        queries |= {"zzyzx -末尾": 1, "末尾 OR 开头": 2, "柏林": 2, "柏林 -末尾": 1}
        for costly, way in (("BITMAP_ROW_US", "_walk"), ("WALK_ROW_US", "_bitmap")):
            used: list[str] = []
            with monkeypatch.context() as m:
                m.setattr(search_pg, costly, 1e9)  # so every query is read the other way
                m.setattr(search_pg, way, _counting(getattr(search_pg, way), used, way))
                found = {q: index.search(q)[1] for q in queries}
            assert found == queries, way
            assert len(used) == len(queries), way
        # The long rows are read from their own index, not by opening every row.
        with c.transaction():
            c.db.execute("SET LOCAL enable_seqscan = off")
            plan = c.db.execute(
                f"EXPLAIN SELECT article_id FROM search_docs WHERE {search_pg.LONG} "
                "AND article_id BETWEEN 0 AND 9"
            ).fetchall()
        assert "search_long" in " ".join(r[0] for r in plan)
    finally:
        c.close()


def test_a_phrase_rare_together_is_read_from_the_index_and_a_common_word_row_by_row(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Which way a query is answered follows the share of the newest articles that are its
    candidates: a phrase whose words are everywhere and together in 3 of 300 articles is
    read through the keys (walking would read every row), a word in all of them by
    walking the newest rows (the index would hand over a million ids' worth of groups)."""
    from newsmirror.store import search_pg
    from newsmirror.store.search import SearchIndex

    walked: list[bool] = []
    real_walk = search_pg._walk
    monkeypatch.setattr(search_pg, "_walk", lambda *a: walked.append(True) or real_walk(*a))
    c = Catalog(pg_url)
    try:
        with c.transaction():
            c.ensure_source("s", "S", "https://e.example/f")
            for i in range(300):
                if i == 280:  # the newest ids of a catalog a million articles long
                    c.db.execute("SELECT setval(pg_get_serial_sequence('articles', 'id'), 1000000)")
                text = "联合国开会。人权组织" if i % 100 else "联合国人权理事会"
                a = Article("s", f"id:{i}", f"k{i}", f"https://e.example/{i}", text, i, text)
                c.add_article(a, f"articles/s/{i}.md", None, f"h{i}", i)
        index = SearchIndex(c)
        index.sync()
        assert index.search("联合国人权")[1] == 3 and not walked
        assert index.search("联合国")[1] == 300 and walked == [True]
    finally:
        c.close()


def test_the_keys_function_knows_the_scripts_search_splits_text_by() -> None:
    from newsmirror.store import schema_pg, search_pg

    assert schema_pg._CJK_CLASS.encode().decode("unicode_escape") == search_pg.CJK
    function = schema_pg.PG_MIGRATIONS[11]  # and cuts and groups as the queries do
    assert f"left(a.p, {search_pg.PAIR_WORD})" in function
    assert f"left(b.p, {search_pg.PAIR_WORD})" in function
    assert f"(id / {search_pg.BLOCK})" in function


def test_every_key_a_query_asks_for_is_one_the_database_makes(pg_url: str) -> None:
    """The keys a query looks for (Python) are among those the index was made of (SQL) for
    an article holding its words, phrases and prefixes: a key the database did not make
    would lose the article whenever the query is read from the index."""
    from newsmirror.store import search_pg
    from newsmirror.store.search import SearchIndex, parse_query

    title = "联合国人权理事会在日内瓦开会"
    body = "德国之声报道：Merkel 访问北京，讨论气候谈判与 e-mobility 电动车。"
    c = Catalog(pg_url)
    with c.transaction():
        c.ensure_source("s", "S", "https://e.example/f")
        a = Article("s", "id:1", "k1", "https://e.example/1", title, 1, f"<p>{body}</p>")
        c.add_article(a, "articles/s/1.md", None, "h1", 1)
    SearchIndex(c).sync()
    made = _keys_of(pg_url, title, body)
    queries = ["联合国", "人权理事会", "日内瓦", "理", "德国之声报道", "merkel 访问北京"]
    queries += ["气候谈判", "e mobility", "电动车", "国人", "会在日", '"北京 讨论"', "merk*", "访*"]
    try:
        for q in queries:
            for t in [t for g in parse_query(q) for t in g]:
                for key, start in search_pg.keys(t.parts, t.prefix):
                    assert key in made or (start and any(m.startswith(key) for m in made)), q
            with c.transaction():  # and read from the index, the article is found
                c.db.execute("SET LOCAL enable_seqscan = off")
                sql, args = search_pg.candidates(parse_query(q))
                found = c.db.execute(f"SELECT article_id FROM search_docs WHERE {sql}", args)
                assert [r[0] for r in found] == [1], q
    finally:
        c.close()


def _keys_of(url: str, title: str, body: str) -> set[str]:
    from newsmirror.store import search_pg
    from newsmirror.store.search import normalize, parts

    with psycopg.connect(url, autocommit=True) as conn:
        vector = conn.execute(
            "SELECT tsvector_to_array(newsmirror_keys(%s, %s, 1))",
            (search_pg.stream(parts(normalize(title))), search_pg.stream(parts(normalize(body)))),
        ).fetchone()[0]
    return set(vector)


def test_a_migration_is_split_at_semicolons_outside_dollar_quotes() -> None:
    from newsmirror.store.schema import statements

    script = "DROP TABLE a;\nDO $$ BEGIN x; y; END $$;\nCREATE FUNCTION f() AS $$ z; $$;\n"
    assert [s.strip() for s in statements(script)] == [
        "DROP TABLE a",
        "DO $$ BEGIN x; y; END $$",
        "CREATE FUNCTION f() AS $$ z; $$",
    ]


def test_newer_schema_and_foreign_tables_are_refused_untouched(
    pg_url: str, pg_cluster: Any
) -> None:
    Catalog(pg_url).close()
    _sql(pg_url, f"UPDATE newsmirror_schema SET version = {SCHEMA_VERSION + 1}")
    with pytest.raises(CatalogError, match="newer than this newsmirror understands"):
        Catalog(pg_url)
    assert _sql(pg_url, "SELECT version FROM newsmirror_schema") == [(SCHEMA_VERSION + 1,)]

    other = pg_cluster.database()
    _sql(other, "CREATE TABLE articles (x int)")
    with pytest.raises(CatalogError, match="not a newsmirror catalog"):
        Catalog(other)
    tables = _sql(other, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    assert tables == [("articles",)]


def test_an_empty_database_is_no_catalog_for_commands_that_only_read(pg_url: str) -> None:
    with pytest.raises(CatalogError, match="no catalog yet"):
        Catalog(pg_url, create=False)
    assert _sql(pg_url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]


def test_tables_go_to_the_schema_the_url_names(pg_url: str) -> None:
    _sql(pg_url, "CREATE SCHEMA newsmirror")
    url = pg_url + "&options=-csearch_path%3Dnewsmirror"
    Catalog(url).close()
    public = _sql(pg_url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
    ours = _sql(pg_url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'newsmirror'")
    assert public == [(0,)] and ours[0][0] > 10


def test_unreachable_database_is_a_clear_error_without_the_password(tmp_path: Path) -> None:
    url = f"postgresql://u:s3cret@/nowhere?host={tmp_path}"
    with pytest.raises(CatalogError) as e:
        Catalog(url)
    assert "cannot connect" in str(e.value) and "s3cret" not in str(e.value)
    assert redact(url) == f"postgresql://u:***@/nowhere?host={tmp_path}"


def test_only_postgresql_urls_are_taken(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[archive]\npath = "site"\n\n[catalog]\nurl = "mysql://root:pw@db/x"\n\n'
        '[[sources]]\nid = "s"\nurl = "https://e.example/f"\n'
    )
    with pytest.raises(ConfigError, match=r"catalog\.url: must be a postgresql:// URL") as e:
        load(cfg)
    assert "pw" not in str(e.value)


def test_marks_in_literals_are_text() -> None:
    assert to_pyformat("SELECT ? WHERE a LIKE '%.md' AND b = '?'") == (
        "SELECT %s WHERE a LIKE '%%.md' AND b = '?'"
    )
    assert to_pyformat("SELECT 5 % ?") == "SELECT 5 %% %s"


@given(st.text(alphabet=st.sampled_from("\x00\x01\x02a中"), max_size=12))
def test_text_escaping_is_reversible_and_nul_free(text: str) -> None:
    stored = escape_text(text)
    assert "\x00" not in stored and unescape_text(stored) == text


def test_bodies_with_archive_references_read_back_as_written(pg_url: str) -> None:
    body = f'<img src="{ARCHIVE_REF}assets/ab/cd.png"><p>\x01 kept</p>'
    article = Article("s", "id:1", "1", "https://e.example/1", "t?", 1, body)
    c = Catalog(pg_url)
    try:
        c.ensure_source("s", "S", "https://e.example/f")
        aid = c.add_article(article, "articles/s/1.md", None, "h", 5)
        (stored,) = c.stored([aid])
        assert stored.article.body == body and stored.article.title == "t?"
        assert c.link_targets(["id:1"], "s") == {"id:1": "articles/s/1.md"}
    finally:
        c.close()


def _outlet(server: FakeServer) -> list[feeds.Item]:
    its = feeds.items(4)
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
    server.routes["/img.png"] = lambda _req: Answer(200, png, {"Content-Type": "image/png"})
    its[0].body += f'<img src="{server.url("/img.png")}"><a href="{its[1].link}">前一条</a>'
    server.routes["/f.xml"] = feeds.rss(its)
    server.routes["/g.xml"] = feeds.atom(feeds.items(3, prefix="https://g.example/n/"))
    return its


def _pass(settings: Any, clock: Clock, workers: bool) -> tuple[int, int, int]:
    """One pass: by one process, or by workers' jobs then the publisher (queue.py)."""
    if not workers:
        r = Updater(settings, clock=clock).run()
        return r.new, r.updated, len(r.failed)
    Updater(settings, clock=clock).publish()  # takes the archive's files in, first time
    reports = [Updater(settings, clock=clock).fetch_source(s.id) for s in settings.sources]
    Updater(settings, clock=clock).publish()
    return (sum(r.new for r in reports), sum(r.updated for r in reports),
            sum(1 for r in reports if r.error))  # fmt: skip


def _passes(
    root: Path, server: FakeServer, clock: Clock, *, workers: bool = False
) -> dict[str, bytes]:
    root.mkdir()
    cfg = write_config(
        root / "newsmirror.toml",
        [
            {"id": "f", "name": "甲", "url": server.url("/f.xml")},
            {"id": "g", "url": server.url("/g.xml")},
        ],
        git=True,
    )
    cfg.write_text(cfg.read_text() + '\n[images]\nmode = "copy"\n')
    settings = load(cfg)
    its = _outlet(server)
    assert _pass(settings, clock, workers) == (7, 0, 0)
    its[2].title = "改过的标题"
    its[2].body += "<p>更新</p>"
    server.routes["/f.xml"] = feeds.rss(its)
    clock.ms += 3_600_000
    assert _pass(settings, clock, workers) == (0, 1, 0)
    return {k: v[0] for k, v in snapshot(root / "site").items()}


def _on_postgres(root: Path, server: FakeServer, cluster: Any, workers: bool) -> dict[str, bytes]:
    conftest.PG_CLUSTER = cluster
    try:
        files = _passes(root, server, Clock(), workers=workers)
        assert "[catalog]" in (root / "newsmirror.toml").read_text()
        return files
    finally:
        conftest._forget_databases()


def by_revision_free_name(files: dict[str, bytes]) -> dict[str, bytes]:
    """Files with edit pages' names made alike: they are named by revision ids, which
    follow the order sources are applied in — the order their fetches finish in, which
    varies from run to run in one process too."""
    out = {}
    for name, data in files.items():
        name = re.sub(r"diffs/\d+-\d+", "diffs/N", name)
        out[name] = re.sub(rb"diffs/\d+-\d+", b"diffs/N", data)
    return out


@pytest.mark.parametrize("workers", [False, True], ids=["one-process", "workers"])
def test_postgresql_leaves_what_one_sqlite_process_leaves(
    tmp_path: Path, server: FakeServer, pg_cluster: Any, workers: bool
) -> None:
    """The same passes on PostgreSQL — in one process, or as workers' jobs and a
    publisher — leave the archive one process leaves on SQLite."""
    alone = _passes(tmp_path / "a", server, Clock())
    shared = _on_postgres(tmp_path / "b", server, pg_cluster, workers=workers)
    assert len(shared) == len(alone)
    assert any(p.startswith("assets/") for p in alone) and len(alone) > 8
    shared, alone = by_revision_free_name(shared), by_revision_free_name(alone)
    assert any("diffs/N" in name for name in alone)
    for name in alone:
        assert shared[name] == alone[name], name


def test_bulk_indexing_in_processes_writes_what_one_process_writes(
    pg_cluster: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsmirror.store import search, search_pg
    from newsmirror.store.search import SearchIndex

    monkeypatch.setattr(search_pg, "BULK", 5)
    rows = []
    for processes in (0, 3):
        monkeypatch.setattr(search, "default_processes", lambda n=processes: n)
        url = pg_cluster.database()
        c = Catalog(url)
        c.ensure_source("s", "S", "https://e.example/f")
        for i in range(40):
            text = f"第{i}条：气候谈判{i % 7}破裂，对话继续 talks {i}"
            a = Article("s", f"id:{i}", str(i), f"https://e.example/{i}", text, i, f"<p>{text}</p>")
            c.add_article(a, f"articles/s/{i}.md", None, f"h{i}", 5)
        assert SearchIndex(c).sync() == 40
        rows.append(
            _sql(
                url,
                "SELECT article_id, hash, revision_id, title, body FROM search_docs "
                "ORDER BY article_id",
            )
        )
        assert [h.article_id for h in SearchIndex(c).search("谈判3")[0]] == [39, 32, 25, 18, 11, 4]
        c.close()
    assert len(rows[0]) == 40 and rows[0] == rows[1]


def test_bulk_indexing_makes_the_indexes_again(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsmirror.store import search, search_pg
    from newsmirror.store.search import SearchIndex

    monkeypatch.setattr(search_pg, "BULK", 2)
    monkeypatch.setattr(search, "default_processes", lambda: 0)  # indexed in this process
    c = Catalog(pg_url)
    try:
        c.ensure_source("s", "S", "https://e.example/f")
        for i, text in enumerate(["气候谈判破裂", "对话继续", "气候峰会"]):
            a = Article("s", f"id:{i}", str(i), f"https://e.example/{i}", text, i, f"<p>{text}</p>")
            c.add_article(a, f"articles/s/{i}.md", None, f"h{i}", 5)
        # As a run killed mid-bulk leaves it: an index missing, autovacuum off.
        c.db.execute("DROP INDEX search_by_keys")
        c.db.execute("ALTER TABLE search_docs SET (autovacuum_enabled = false)")
        seen: list[object] = []
        index = SearchIndex(c)
        real_index = search_pg.index

        def indexing(db: Any, *args: Any) -> None:  # what the table's options are meanwhile
            seen.append(
                _sql(pg_url, "SELECT reloptions FROM pg_class WHERE relname = 'search_docs'")
            )
            real_index(db, *args)

        monkeypatch.setattr(search_pg, "index", indexing)
        assert index.sync() == 3
        assert seen and all(s == [(["autovacuum_enabled=false"],)] for s in seen)
        names = {r[0] for r in c.db.execute("SELECT indexname FROM pg_indexes")}
        assert set(search_pg.INDEXES) <= names
        options = c.db.execute("SELECT reloptions FROM pg_class WHERE relname = 'search_docs'")
        assert options.fetchone()[0] is None  # autovacuum back
        assert sorted(h.article_id for h in index.search("气候")[0]) == [1, 3]
        assert [h.title for h in index.search("谈")[0]] == ["气候谈判破裂"]
    finally:
        c.close()


def test_a_server_too_old_is_named(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from newsmirror.store import catalog

    monkeypatch.setattr(catalog, "PG_OLDEST", 990000)
    with pytest.raises(CatalogError, match=r"PostgreSQL 15 is too old .* needs 99 or newer"):
        Catalog(pg_url)
    assert _sql(pg_url, "SELECT to_regclass('articles')") == [(None,)]  # nothing made
