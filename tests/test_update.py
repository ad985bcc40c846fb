"""Whole update passes against the fake outlet: layouts, idempotence, edits, 304, failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsmirror.store.db import RAW
from newsmirror.store.rows import FIRST_NUMBER

from . import feeds
from .conftest import Clock, archive_catalog, catalog_db, snapshot, write_config
from .fakeserver import Answer, FakeServer

# Every test here runs on both catalog engines (conftest.catalog_backend).
pytestmark = pytest.mark.usefixtures("catalog_backend")


def _one_source(tmp_path: Path, server: FakeServer, **kw) -> Path:
    return write_config(
        tmp_path / "newsmirror.toml",
        [{"id": "ex", "name": "示例台", "url": server.url("/feed.xml")}],
        **kw,
    )


def test_dated_layout_paths(tmp_path: Path, server: FakeServer, run_update) -> None:
    server.routes["/feed.xml"] = feeds.rss(feeds.items(3))
    run_update(_one_source(tmp_path, server))
    files = sorted(
        p.relative_to(tmp_path / "site").as_posix()
        for p in (tmp_path / "site/articles").rglob("*.md")
    )
    assert len(files) == 3
    assert all(
        f.startswith("articles/ex/2022-10-") and len(f.split("/")[-1]) == 19 for f in files
    ), files
    lst = (tmp_path / "site/lists/示例台.md").read_text()
    assert lst.startswith("示例台\n------\n\n")
    assert lst.index("示例新闻 2") < lst.index("示例新闻 0")  # newest first


def test_duty_machine_numbers_and_list_bytes(
    tmp_path: Path, server: FakeServer, run_update, clock: Clock
) -> None:
    cfg = _one_source(tmp_path, server, layout="duty-machine")
    server.routes["/feed.xml"] = feeds.rss(feeds.items(2))
    run_update(cfg)
    site = tmp_path / "site"
    # Oldest new item gets the first (highest) number: the newest sorts first.
    oldest = (site / f"articles/ex/{FIRST_NUMBER}.md").read_text()
    newest = (site / f"articles/ex/{FIRST_NUMBER - 1}.md").read_text()
    assert "[示例新闻 0]" in oldest and "[示例新闻 1]" in newest
    # 1_666_000_000_000 ms is 2022-10-17 09:46 UTC = 17:46 UTC+8; +1 h stays on 10-17.
    assert (site / "lists/示例台.md").read_bytes() == (
        "示例台\n------\n\n"
        f"10-17 [示例新闻 1](/articles/ex/{FIRST_NUMBER - 1}.md)\n\n"
        f"10-17 [示例新闻 0](/articles/ex/{FIRST_NUMBER}.md)\n\n"
    ).encode()
    # A later run: two more items, numbered below; an edited old one keeps its number.
    more = feeds.items(4)
    more[-1].body = "<p>修改后的正文。</p>"  # items are newest first: [-1] is item 0
    server.routes["/feed.xml"] = feeds.rss(more)
    clock.ms += 3_600_000
    report = run_update(cfg)
    assert (report.new, report.updated) == (2, 1)
    assert "修改后的正文" in (site / f"articles/ex/{FIRST_NUMBER}.md").read_text()
    assert "[示例新闻 2]" in (site / f"articles/ex/{FIRST_NUMBER - 2}.md").read_text()
    assert "[示例新闻 3]" in (site / f"articles/ex/{FIRST_NUMBER - 3}.md").read_text()
    assert len(list((site / "articles/ex").iterdir())) == 4


def test_list_keeps_only_the_newest(tmp_path: Path, server: FakeServer, run_update) -> None:
    cfg = _one_source(tmp_path, server, layout="duty-machine", archive={"list_size": 3})
    server.routes["/feed.xml"] = feeds.rss(feeds.items(5))
    run_update(cfg)
    lines = [x for x in (tmp_path / "site/lists/示例台.md").read_text().split("\n") if "[" in x]
    assert [x.split("[")[1].split("]")[0] for x in lines] == [
        "示例新闻 4",
        "示例新闻 3",
        "示例新闻 2",
    ]


def test_second_update_changes_no_byte(
    tmp_path: Path, server: FakeServer, run_update, clock: Clock
) -> None:
    cfg = _one_source(tmp_path, server, layout="duty-machine", git=True)
    server.routes["/feed.xml"] = feeds.rss(feeds.items(3))
    first = run_update(cfg)
    assert first.commit
    before = snapshot(tmp_path / "site")
    clock.ms += 3_600_000
    # Serve the same items with no validators: the feed is re-read in full, and still nothing
    # may change.
    body = feeds.rss(feeds.items(3))
    server.routes["/feed.xml"] = lambda req: Answer(200, body, {"Content-Type": "text/xml"})
    second = run_update(cfg)
    assert second.commit is None
    assert (second.new, second.updated, second.sources[0].unchanged) == (0, 0, 3)
    assert snapshot(tmp_path / "site") == before


def test_edited_item_one_file_two_revisions(
    tmp_path: Path, server: FakeServer, run_update, clock: Clock
) -> None:
    cfg = _one_source(tmp_path, server)
    its = feeds.items(1, prefix="https://www.dw.com/zh/旧标题/a-")
    its[0].link = "https://www.dw.com/zh/旧标题/a-123"
    server.routes["/feed.xml"] = feeds.rss(its)
    run_update(cfg)
    # The outlet republishes with an edited title and slug, under the same article id.
    its[0].title = "新标题"
    its[0].link = "https://www.dw.com/zh/新标题/a-123?maca=x"
    server.routes["/feed.xml"] = feeds.rss(its)
    clock.ms += 60_000
    report = run_update(cfg)
    assert (report.new, report.updated) == (0, 1)
    files = list((tmp_path / "site/articles").rglob("*.md"))
    assert len(files) == 1 and files[0].name == "a-123.md"
    assert (
        "[新标题](https://www.dw.com/zh/%E6%96%B0%E6%A0%87%E9%A2%98/a-123)" in files[0].read_text()
    )
    db = catalog_db(tmp_path / "site")
    titles = [r[0] for r in db.execute("SELECT title FROM revisions ORDER BY id")]
    assert titles == ["示例新闻 0", "新标题"]


def test_each_revision_keeps_its_own_items_text(
    tmp_path: Path, server: FakeServer, run_update, clock: Clock
) -> None:
    # Long bodies are deflated where the feed is parsed (SQLite keeps them so); each row
    # must still hold its own item's text, the first time and after an edit.
    cfg = _one_source(tmp_path, server)
    its = feeds.items(4)
    for i, it in enumerate(its):
        it.body = f"<p>条目{i}独有的文字。</p>" + "<p>很长的正文段落，反复出现。</p>" * (20 * i)
    server.routes["/feed.xml"] = feeds.rss(its)
    run_update(cfg)
    its[1].body += "<p>更正：补充的一段。</p>"
    server.routes["/feed.xml"] = feeds.rss(its)
    clock.ms += 60_000
    assert run_update(cfg).updated == 1
    catalog = archive_catalog(tmp_path / "site")
    ids = [r[0] for r in catalog.db.execute("SELECT id FROM articles")]
    stored = {st.article.title: st.article.body for st in catalog.stored(ids)}
    for i, it in enumerate(its):
        assert stored[it.title].startswith(f"<p>条目{i}独有的文字。</p>")
        assert stored[it.title].count("很长的正文段落") == 20 * i
    assert stored[its[1].title].endswith("<p>更正：补充的一段。</p>")
    bodies = [r[0] for r in catalog.db.execute("SELECT body FROM revisions")]
    assert len(bodies) == 5
    deflated = [b for b in bodies if isinstance(b, bytes) and b[:1] != RAW]
    assert len(deflated) == 4  # all but the short one


def test_conditional_get_on_the_wire(tmp_path: Path, server: FakeServer, run_update) -> None:
    cfg = _one_source(tmp_path, server)
    server.routes["/feed.xml"] = feeds.rss(feeds.items(2))
    run_update(cfg)
    report = run_update(cfg)
    first, second = server.hits("/feed.xml")
    assert "if-none-match" not in first.headers
    assert second.headers["if-none-match"].startswith('"')
    assert second.headers["if-modified-since"] == "Wed, 26 Oct 2022 02:00:00 GMT"
    assert second.headers["user-agent"].startswith("newsmirror/")
    assert report.sources[0].not_modified and report.new == 0


def test_failing_sources_do_not_stop_the_others(
    tmp_path: Path, server: FakeServer, run_update
) -> None:
    server.routes["/a.xml"] = feeds.rss(feeds.items(2, prefix="https://a.example/"))
    server.routes["/b.xml"] = feeds.atom(feeds.items(2, prefix="https://b.example/"))
    server.routes["/500.xml"] = lambda req: Answer(500, b"oops")
    server.routes["/garbage.xml"] = lambda req: Answer(
        200, b"\x00\x01<<<not xml at all", {"Content-Type": "text/xml"}
    )
    cfg = write_config(
        tmp_path / "newsmirror.toml",
        [
            {"id": "a", "name": "A", "url": server.url("/a.xml")},
            {"id": "bad", "name": "Bad", "url": server.url("/500.xml")},
            {"id": "junk", "name": "Junk", "url": server.url("/garbage.xml")},
            {"id": "b", "name": "B", "url": server.url("/b.xml")},
        ],
    )
    report = run_update(cfg)
    by_id = {s.id: s for s in report.sources}
    assert by_id["a"].new == 2 and by_id["b"].new == 2
    assert "HTTP 500" in (by_id["bad"].error or "")
    assert by_id["junk"].error and "/garbage.xml" in by_id["junk"].error
    db = catalog_db(tmp_path / "site")
    errors = dict(db.execute("SELECT id, last_error FROM sources WHERE last_error IS NOT NULL"))
    assert set(errors) == {"bad", "junk"}
    readme = (tmp_path / "site/README.md").read_text()
    assert "lists/A.md" in readme and "lists/B.md" in readme


def test_every_feed_format(tmp_path: Path, server: FakeServer, run_update) -> None:
    makers = {
        "rss": feeds.rss,
        "rss091": feeds.rss091,
        "atom": feeds.atom,
        "rdf": feeds.rdf,
        "json": feeds.json_feed,
    }
    sources = []
    for name, make in makers.items():
        server.routes[f"/{name}"] = make(feeds.items(2, prefix=f"https://{name}.example/"))
        sources.append({"id": name, "name": name.upper(), "url": server.url(f"/{name}")})
    report = run_update(write_config(tmp_path / "newsmirror.toml", sources))
    assert {s.id: s.new for s in report.sources} == {k: 2 for k in makers}
    for name in makers:
        files = list((tmp_path / "site/articles" / name).rglob("*.md"))
        assert len(files) == 2
        text = files[0].read_text()
        assert "<p>第二段。</p>" in text, (name, text)


def test_update_date_wins_over_publication_date(
    tmp_path: Path, server: FakeServer, run_update
) -> None:
    it = feeds.items(1)
    it[0].updated = feeds.dt("2022-11-01T00:00:00+00:00")
    server.routes["/feed.xml"] = feeds.atom(it)
    run_update(_one_source(tmp_path, server))
    (f,) = (tmp_path / "site/articles").rglob("*.md")
    assert f.read_text().startswith("<!--1667260800000-->\n")
    assert f.parent.name == "2022-11-01"


def test_malformed_feeds_keep_their_text(tmp_path: Path, server: FakeServer, run_update) -> None:
    doc = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        "<item><title>德国&nbsp;新闻 A & B</title><link>https://x.example/1?a=1&b=2</link>"
        "<description>&lt;p&gt;正文&lt;/p&gt;</description></item></channel></rss>"
    )
    server.routes["/feed.xml"] = doc.encode()
    run_update(_one_source(tmp_path, server))
    (f,) = (tmp_path / "site/articles").rglob("*.md")
    line = f.read_text().split("\n")[1]
    assert line == "[德国\xa0新闻 A & B](https://x.example/1?a=1&b=2)", line


def test_a_stop_during_a_pass_ends_it_with_what_was_written(
    tmp_path: Path, server: FakeServer, clock: Clock
) -> None:
    """The flag the command's signal handler sets reaches the pass (an unset flag is
    falsy: it was once replaced by a fresh one, and Ctrl-C went unheard until the end)."""
    from newsmirror.config import load
    from newsmirror.pipeline import StopFlag, Updater

    stop = StopFlag()

    def slow_then_stop(_req: object) -> Answer:
        stop.set()  # Ctrl-C while this source's feed is being fetched
        return Answer(200, feeds.rss(feeds.items(2)), {"Content-Type": "application/rss+xml"})

    server.routes["/slow.xml"] = slow_then_stop
    cfg = write_config(tmp_path / "c.toml", [{"id": "slow", "url": server.url("/slow.xml")}])
    report = Updater(load(cfg), clock=clock, stop=stop).run()
    assert report.interrupted
    assert report.new == 0  # fetched, but not applied: the stop came first
    assert (tmp_path / "site" / "README.md").exists()  # lists and README still written
