"""Watching archived articles: edits, removals and restorations found by re-checks, and
no event for what churns on every request (ads, counters, the page's clock)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from newsmirror.config import load
from newsmirror.store.catalog import Catalog
from newsmirror.store.watch import Watchlist

from . import outlets as o
from .conftest import Clock, archive_catalog, write_config
from .fakeserver import Answer, FakeServer, Request
from .feeds import Item, dt, rss

# Every test here runs on both catalog engines (conftest.catalog_backend).
pytestmark = pytest.mark.usefixtures("catalog_backend")

HOUR = 3_600_000
TEXT = [
    o.P1 * 2,
    o.P2 * 2,
    o.P3 * 2,
    "本报记者在现场看到，法院外聚集了大批支持者和记者，秩序井然。" * 2,
]
_counter = itertools.count(1000)


def page(title: str, paragraphs: list[str]) -> bytes:
    """An article page with what changes on every request around the article: the
    page's clock, a view counter, a rotating advert, a 'most read' list."""
    n = next(_counter)
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body>"
        f"<header><span class='clock'>更新于 12:{n % 60:02d}:{n % 59:02d}</span>{o.NAV}</header>"
        f"<div class='ad'><a href='/ad/{n}'>广告 {n}：限时优惠</a></div>"
        f"<main><article><h1>{title}</h1><div class='meta'><span class='views'>阅读 {n} 次</span>"
        f"</div>{body}</article></main>"
        f"<aside class='most-read'><h3>最多阅读</h3><ul><li><a href='/r{n}'>热门文章 {n}</a></li>"
        f"<li><a href='/s{n}'>另一热门 {n}</a></li></ul></aside>{o.FOOTER}</body></html>"
    ).encode()


class Outlet:
    """Pages whose answers the test sets: 'ok', 'edited', 404, 410, 'home', 'soft404'."""

    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self.state: dict[str, object] = {}
        self.titles: dict[str, str] = {}
        server.routes["/"] = b"<html><head><title>Home</title></head><body>home</body></html>"
        server.routes["/missing"] = (
            b"<html><head><title>\xe9\xa1\xb5\xe9\x9d\xa2\xe4\xb8\x8d\xe5\xad\x98\xe5\x9c\xa8"
            b"</title></head><body><p>Sorry</p></body></html>"
        )

    def add(self, path: str, title: str) -> None:
        self.state[path] = "ok"
        self.titles[path] = title
        self.server.routes[path] = lambda req, path=path: self.answer(path, req)

    def answer(self, path: str, _req: Request) -> Answer:
        state = self.state[path]
        html = {"Content-Type": "text/html; charset=utf-8"}
        if state in (404, 410):
            return Answer(int(str(state)), b"gone", {"Content-Type": "text/plain"})
        if state == "home":
            return Answer(302, b"", {"Location": self.server.url("/")})
        if state == "soft404":
            return Answer(302, b"", {"Location": self.server.url("/missing")})
        paragraphs = list(TEXT)
        if state == "edited":
            paragraphs[1] = paragraphs[1].replace("公开帖文", "经过删节的帖文")
        title = self.titles[path] + ("（已更新标题）" if state == "retitled" else "")
        return Answer(200, page(title, paragraphs), html)

    def feed(self, titles: dict[str, str] | None = None) -> None:
        items = [
            Item((titles or {}).get(p, t), self.server.url(p), "摘要……", dt("2022-11-24T08:00:00Z"))
            for p, t in self.titles.items()
        ]
        self.server.routes["/feed.xml"] = rss(items)


def _config(tmp_path: Path, server: FakeServer) -> Path:
    cfg = write_config(
        tmp_path / "c.toml",
        [
            {
                "id": "hk",
                "name": "香港",
                "url": server.url("/feed.xml"),
                "fulltext": "page",
                "extractor": "generic",
                "images": "original",
            }
        ],
    )
    with cfg.open("a", encoding="utf-8") as f:
        f.write('\n[watch]\nenabled = true\nintervals = ["1h"]\nhorizon = "30d"\nconfirm = 2\n')
    return cfg


def _outlet(tmp_path: Path, server: FakeServer, *names: str) -> tuple[Outlet, Path]:
    """An outlet serving these articles, archived by a page source that watches them."""
    outlet = Outlet(server)
    for name in names:
        outlet.add(f"/news/{name}.html", f"新闻 {name}")
    outlet.feed()
    return outlet, _config(tmp_path, server)


def _passes(
    outlet: Outlet,
    cfg: Path,
    clock: Clock,
    run_update: Callable[[Path], object],
    *states: dict[str, object],
) -> None:
    """One pass an hour after the last per state (the pages' answers it sets)."""
    for state in states:
        outlet.state.update(state)
        clock.ms += HOUR + 1
        run_update(cfg)


def _events(tmp_path: Path) -> list[tuple[str, str, str]]:
    """(article path's last part, kind, detail), oldest first."""
    cat = archive_catalog(tmp_path / "site")
    try:
        return [
            (e.path.rsplit("/", 1)[-1], e.kind, e.detail) for e in reversed(Watchlist(cat).events())
        ]
    finally:
        cat.close()


def test_edits_removals_and_restorations_are_told_apart_from_churn(
    tmp_path: Path, server: FakeServer, clock: Clock
) -> None:
    from newsmirror.pipeline import Updater

    outlet = Outlet(server)
    names = ["edit", "gone404", "gone410", "home", "soft", "blip", "churn"]
    for name in names:
        outlet.add(f"/news/{name}.html", f"新闻 {name}")
    outlet.feed()
    cfg = _config(tmp_path, server)

    def run() -> None:
        report = Updater(load(cfg), clock=clock).run()
        assert not report.failed

    run()
    files = {p.name: p for p in (tmp_path / "site" / "articles" / "hk").rglob("*.md")}
    assert len(files) == len(names)
    originals = {name: p.read_bytes() for name, p in files.items()}

    # Pass 2, an hour on: every page is asked again; only churn differs.  One page has a
    # bad minute (404 once): not yet a removal.
    clock.ms += HOUR + 1
    outlet.state["/news/blip.html"] = 404
    run()
    assert _events(tmp_path) == []
    assert {n: p.read_bytes() for n, p in files.items()} == originals

    # Pass 3: the edit, and four kinds of take-down, first seen; the blip is back.
    clock.ms += HOUR + 1
    outlet.state.update({
        "/news/edit.html": "edited",
        "/news/gone404.html": 404,
        "/news/gone410.html": 410,
        "/news/home.html": "home",
        "/news/soft.html": "soft404",
        "/news/blip.html": "ok",
    })  # fmt: skip
    run()
    assert [(k, d) for _n, k, d in _events(tmp_path)] == [("edit", "text")]

    # Pass 4: the take-downs answer the same again: removals, each with its evidence.
    clock.ms += HOUR + 1
    run()
    events = _events(tmp_path)
    kinds = {(k, d.split(" http")[0]) for _n, k, d in events}
    assert kinds == {
        ("edit", "text"),
        ("removal", "HTTP 404"),
        ("removal", "HTTP 410"),
        ("removal", "redirected to the home page"),
        ("removal", "the page says '页面不存在'"),
    }
    # Files keep the last text the outlet served; the edited one has the new text.
    now = {n: p.read_bytes() for n, p in files.items()}
    edited = next(n for n in now if now[n] != originals[n])
    assert "经过删节的帖文".encode() in now[edited]
    assert all(now[n] == originals[n] for n in now if n != edited)

    # Pass 5: one removed article is back.
    clock.ms += HOUR + 1
    outlet.state["/news/gone404.html"] = "ok"
    run()
    assert [k for _n, k, _d in _events(tmp_path)].count("restoration") == 1
    assert [k for _n, k, _d in _events(tmp_path)].count("removal") == 4


def test_an_edit_in_the_feed_is_an_event_and_whitespace_is_not(
    tmp_path: Path, server: FakeServer, clock: Clock, run_update
) -> None:
    body = "<p>" + o.P1 + "</p>"
    item = Item("标题", server.url("/a/1.html"), body, dt("2022-11-24T08:00:00Z"))
    server.routes["/f.xml"] = rss([item])
    cfg = write_config(tmp_path / "c.toml", [{"id": "f", "url": server.url("/f.xml")}])
    run_update(cfg)
    # Only white space inside the body changes: the file may be rewritten, no event.
    server.routes["/f.xml"] = rss(
        [Item(item.title, item.link, body.replace("。", "。 \n"), item.date)]
    )
    clock.ms += HOUR
    run_update(cfg)
    assert _events(tmp_path) == []
    server.routes["/f.xml"] = rss([Item("新标题", item.link, body, item.date)])
    clock.ms += HOUR
    run_update(cfg)
    assert [(k, d) for _n, k, d in _events(tmp_path)] == [("edit", "title")]


def test_changes_are_published_in_the_archive_with_diffs(
    tmp_path: Path, server: FakeServer, clock: Clock, run_update
) -> None:
    import re

    outlet, cfg = _outlet(tmp_path, server, "a", "b")
    run_update(cfg)
    _passes(outlet, cfg, clock, run_update, {"/news/a.html": "edited", "/news/b.html": 404}, {})
    root = tmp_path / "site"
    (month,) = (root / "changes").glob("*.md")
    assert month.name == "2023-11.md"
    text = month.read_text(encoding="utf-8")
    assert text.startswith("# 2023年11月：修改与删除\n")
    lines = [line for line in text.splitlines() if line.startswith("- ")]
    assert len(lines) == 2
    assert "**已被删除**（HTTP 404）[新闻 b]" in lines[0]  # newest first
    assert "**修改**（正文）[新闻 a]" in lines[1] and "[对比](diffs/" in lines[1]
    # Every link of the page resolves to a file of the archive.
    for target in re.findall(r"\]\(([^)]+)\)", text):
        assert (month.parent / target).resolve().is_file(), target
    (diff_page,) = (root / "changes" / "diffs").glob("*.md")
    page = diff_page.read_text(encoding="utf-8")
    assert "<del>公开</del><ins>经过删节的</ins>" in page
    assert '<span class="fold">…</span>' in page  # the unchanged paragraphs are folded
    archived = re.search(r"\[存档\]\(([^)]+)\)", page)
    assert archived and (diff_page.parent / archived.group(1)).resolve().is_file()


def test_diff_command_shows_an_edit_by_character(
    tmp_path: Path, server: FakeServer, clock: Clock, run_update
) -> None:
    from .test_cli import nm

    body = "<p>政府周三宣布经济增长。</p>"
    item = Item("标题", server.url("/a/1.html"), body, dt("2022-11-24T08:00:00Z"))
    server.routes["/f.xml"] = rss([item])
    cfg = write_config(tmp_path / "newsmirror.toml", [{"id": "f", "url": server.url("/f.xml")}])
    run_update(cfg)
    one = nm(tmp_path, "diff", "1")
    assert one.returncode == 0 and "one revision only" in one.stdout
    server.routes["/f.xml"] = rss(
        [Item("新标题", item.link, body.replace("周三", "周四").replace("增长", "放缓"), item.date)]
    )
    clock.ms += HOUR
    run_update(cfg)
    (path,) = (p.relative_to(tmp_path / "site") for p in (tmp_path / "site").rglob("f/**/*.md"))
    for ref in ("1", str(path), item.link):
        r = nm(tmp_path, "diff", ref)
        assert r.returncode == 0, r.stderr
        assert "edit: title, text" in r.stdout
        assert "title: {+新+}标题" in r.stdout
        assert "政府周[-三-]{+四+}宣布经济[-增长-]{+放缓+}。" in r.stdout
    bad = nm(tmp_path, "diff", "1", "7")
    assert bad.returncode == 1 and "numbered 1 to 2" in bad.stderr
    missing = nm(tmp_path, "diff", "nosuch")
    assert missing.returncode == 1 and "no archived article 'nosuch'" in missing.stderr


def test_evidence_of_each_event_reads_back_as_warc(
    tmp_path: Path, server: FakeServer, clock: Clock, run_update
) -> None:
    from warcio.archiveiterator import ArchiveIterator

    from .test_cli import nm

    outlet, cfg = _outlet(tmp_path, server, "a", "b")
    run_update(cfg)
    states = ({"/news/a.html": "edited", "/news/b.html": 410}, {}, {"/news/b.html": "ok"})
    _passes(outlet, cfg, clock, run_update, *states)
    assert sorted(k for _n, k, _d in _events(tmp_path)) == ["edit", "removal", "restoration"]
    out = tmp_path / "evidence.warc.gz"
    r = nm(tmp_path, "-c", str(cfg), "export-warc", str(out))
    assert r.returncode == 0, r.stderr
    assert "3 fetch(es)" in r.stdout
    with out.open("rb") as f:
        recs = [
            (rec.rec_type, rec.rec_headers, rec.http_headers, rec.content_stream().read())
            for rec in ArchiveIterator(f)
        ]
    assert recs[0][0] == "warcinfo"
    responses = [(h, http, body) for t, h, http, body in recs if t == "response"]
    requests = [(h, http) for t, h, http, _b in recs if t == "request"]
    assert len(responses) == len(requests) == 3
    by_status = {http.get_statuscode(): (h, body) for h, http, body in responses}
    assert set(by_status) == {"200", "410"}
    assert by_status["410"][0].get_header("WARC-Target-URI") == server.url("/news/b.html")
    assert by_status["410"][1] == b"gone"
    assert any("经过删节的帖文".encode() in body for _h, _http, body in responses)
    for h, _http, _body in responses:
        assert h.get_header("WARC-Payload-Digest", "").startswith("sha1:")
    # Each request names its response and carries the headers that were sent.
    ids = {h.get_header("WARC-Record-ID") for h, _http, _b in responses}
    assert {h.get_header("WARC-Concurrent-To") for h, _http in requests} == ids
    assert all(http.get_header("User-Agent") for _h, http in requests)
    # Filters: one article, one day, one source.
    r = nm(
        tmp_path, "-c", str(cfg), "export-warc", str(out), "--article", server.url("/news/b.html")
    )
    assert "2 fetch(es)" in r.stdout
    r = nm(tmp_path, "-c", str(cfg), "export-warc", str(out), "--day", "2001-01-01")
    assert "0 fetch(es)" in r.stdout
    r = nm(tmp_path, "-c", str(cfg), "export-warc", str(out), "--source", "nosuch")
    assert r.returncode == 1 and "no source 'nosuch'" in r.stderr


def test_the_site_shows_edits_and_removals(
    tmp_path: Path, server: FakeServer, clock: Clock, run_update
) -> None:
    import feedparser

    from newsmirror.publish.site import SiteBuilder

    outlet, cfg = _outlet(tmp_path, server, "a", "b")
    with cfg.open("a", encoding="utf-8") as f:
        f.write('\n[site]\npath = "public"\nbase_url = "https://m.example.org/"\n')
    run_update(cfg)
    _passes(outlet, cfg, clock, run_update, {"/news/a.html": "edited", "/news/b.html": 404}, {})
    settings = load(cfg)
    catalog = Catalog(settings.catalog)
    try:
        report = SiteBuilder(settings, catalog, pagefind=False).build()
    finally:
        catalog.close()
    assert not report.errors
    public = tmp_path / "public"
    listing = (public / "changes.html").read_text(encoding="utf-8")
    assert listing.index("kind-removal") < listing.index("kind-edit")  # newest first
    pages = {
        p.name: p.read_text(encoding="utf-8")
        for p in public.rglob("articles/**/*.html")
        if ".rev" not in p.name  # an older version's page has no history line
    }
    notes = sorted(
        re.search(r'<p class="changes-note"[^>]*>(.*?)</p>', t).group(1)  # type: ignore[union-attr]
        for t in pages.values()
    )
    assert notes[0].startswith("2023-11-15 已被删除")
    assert notes[1].startswith('修改 1 次 · <a href="../../../changes/')
    (diff_page,) = (public / "changes").glob("*.html")
    assert "<del>公开</del><ins>经过删节的</ins>" in diff_page.read_text(encoding="utf-8")
    feed = feedparser.parse((public / "feeds" / "changes.atom").read_bytes())
    assert [e.title for e in feed.entries] == ["[已被删除] 新闻 b", "[修改] 新闻 a"]
    assert (
        feed.entries[1].link == "https://m.example.org/" + diff_page.relative_to(public).as_posix()
    )


def test_an_article_leaving_the_feed_early_is_a_weak_signal(
    tmp_path: Path, server: FakeServer, clock: Clock, run_update
) -> None:
    items = [
        Item(
            f"第{n}篇", server.url(f"/a/{n}.html"), f"<p>{o.P1}{n}</p>", dt(f"2022-11-2{n}T08:00Z")
        )
        for n in (1, 2, 3)
    ]
    server.routes["/f.xml"] = rss(items)
    for n in (1, 2, 3):  # the pages still answer: only the listing changes
        server.routes[f"/a/{n}.html"] = page(f"第{n}篇", TEXT)
    cfg = write_config(tmp_path / "c.toml", [{"id": "f", "url": server.url("/f.xml")}])
    with cfg.open("a", encoding="utf-8") as f:
        f.write("\n[watch]\nenabled = true\n")
    run_update(cfg)
    steps = [
        [items[0], items[2]],  # the middle one is gone while an older one stays
        [items[0], items[2]],  # said once
        items,  # back: unmarked, no event
        [items[1], items[2]],  # the oldest falls off the end: normal, no event
    ]
    for listing in steps:
        server.routes["/f.xml"] = rss(listing)
        clock.ms += HOUR
        run_update(cfg)
    assert [(k, d) for _n, k, d in _events(tmp_path)] == [
        ("disappearance", "no longer in the feed")
    ]


def test_refusals_and_save_page_now(tmp_path: Path, server: FakeServer, clock: Clock) -> None:
    """A server refusing re-checks is left alone after three; Save Page Now is asked on an
    edit or a removal only (tested against a fake endpoint)."""
    from newsmirror.pipeline import Updater

    outlet = Outlet(server)
    names = [f"n{i}" for i in range(6)]
    for name in names:
        outlet.add(f"/news/{name}.html", f"新闻 {name}")
    outlet.feed()
    cfg = _config(tmp_path, server)
    with cfg.open("a", encoding="utf-8") as f:
        f.write(f'save_page_now = true\nsave_page_now_url = "{server.url("/save/")}"\n')
    Updater(load(cfg), clock=clock).run()
    pages = [f"/news/{n}.html" for n in names]
    before = {p: len(server.hits(p)) for p in pages}

    def refuse(_req: Request) -> Answer:
        return Answer(403, b"forbidden", {"Content-Type": "text/plain"})

    for p in pages:
        server.routes[p] = refuse
    clock.ms += HOUR + 1
    report = Updater(load(cfg), clock=clock).run()
    assert report.watch is not None and report.watch.failed == 6
    asked = sum(len(server.hits(p)) - before[p] for p in pages)
    # Three refusals, and at most the one already under way beside the third (two at a
    # time per host): the other pages wait for the next pass.
    assert 3 <= asked <= 4
    assert not [r for r in server.requests if r.path.startswith("/save/")]
    # An edit and a removal: each page is handed to Save Page Now once.
    for p in pages:
        outlet.add(p, outlet.titles[p])
    outlet.state.update({pages[0]: "edited", pages[1]: 404})
    for _ in range(2):
        clock.ms += 24 * HOUR
        Updater(load(cfg), clock=clock).run()
    saved = sorted(r.path for r in server.requests if r.path.startswith("/save/"))
    assert saved == sorted("/save/" + server.url(p) for p in pages[:2])


def test_dw_is_rechecked_from_its_json(
    tmp_path: Path, server: FakeServer, shared: Path, clock: Clock, run_update
) -> None:
    """DW re-checks ask the graph-api JSON: an edited text is an edit, a null content or a
    404 is a take-down (confirmed on the next pass)."""
    import copy
    import json

    from .dwfake import FakeDW
    from .dwfake import load as load_doc

    dw = FakeDW(server, shared)
    dw.fixtures()
    cfg = write_config(tmp_path / "newsmirror.toml", [dw.config()])
    with cfg.open("a", encoding="utf-8") as f:
        f.write('\n[watch]\nenabled = true\nintervals = ["1h"]\n')
    run_update(cfg)
    edited = copy.deepcopy(load_doc(shared, "zh", 90000011))
    content = edited["data"]["content"]
    content["text"] = content["text"].replace("</p>", "（更正：数字有误）</p>", 1)
    dw.article("zh", edited, 90000011)
    gone = {"data": {"content": None}}
    server.routes["/graph-api/zh/content/article/90000012"] = json.dumps(gone).encode()
    for _ in range(2):
        clock.ms += HOUR + 1
        run_update(cfg)
    events = {(n, k, d) for n, k, d in _events(tmp_path)}
    assert events == {
        ("a-90000011.md", "edit", "text"),
        ("a-90000012.md", "removal", "graph-api: no such content"),
    }
    assert "（更正：数字有误）" in (next((tmp_path / "site").rglob("a-90000011.md"))).read_text(
        encoding="utf-8"
    )


def test_an_edit_seen_in_a_feed_keeps_the_feed_as_evidence(
    tmp_path: Path, server: FakeServer, clock: Clock, run_update
) -> None:
    from warcio.archiveiterator import ArchiveIterator

    from newsmirror import evidence

    item = Item("标题", server.url("/a/1.html"), f"<p>{o.P1}</p>", dt("2022-11-24T08:00:00Z"))
    server.routes["/f.xml"] = rss([item])
    cfg = write_config(tmp_path / "c.toml", [{"id": "f", "url": server.url("/f.xml")}])
    run_update(cfg)
    server.routes["/f.xml"] = rss([Item(item.title, item.link, f"<p>{o.P2}</p>", item.date)])
    clock.ms += HOUR
    run_update(cfg)
    cat = archive_catalog(tmp_path / "site")
    try:
        (blob,) = Watchlist(cat).evidence()
    finally:
        cat.close()
    out = tmp_path / "e.warc.gz"
    evidence.write_file(out, [blob])
    with out.open("rb") as f:
        (response,) = [
            (r.rec_headers.get_header("WARC-Target-URI"), r.content_stream().read())
            for r in ArchiveIterator(f)
            if r.rec_type == "response"
        ]
    assert response[0] == server.url("/f.xml")
    assert o.P2.encode() in response[1]


def test_a_stop_leaves_the_remaining_rechecks_due(
    tmp_path: Path, server: FakeServer, clock: Clock
) -> None:
    from newsmirror.pipeline import StopFlag, Updater

    names = [f"n{i}" for i in range(8)]
    outlet, cfg = _outlet(tmp_path, server, *names)
    Updater(load(cfg), clock=clock).run()
    stop = StopFlag()
    pages = [f"/news/{n}.html" for n in names]
    before = sum(len(server.hits(p)) for p in pages)

    def stopping(path: str) -> Callable[[Request], Answer]:
        def answer(req: Request) -> Answer:
            stop.set()  # Ctrl-C while the first re-checks are under way
            return outlet.answer(path, req)

        return answer

    for p in pages:
        server.routes[p] = stopping(p)
    clock.ms += HOUR + 1
    report = Updater(load(cfg), clock=clock, stop=stop).run()
    asked = sum(len(server.hits(p)) for p in pages) - before
    assert report.interrupted and report.watch is not None
    assert 1 <= asked <= 2 and report.watch.checked == asked and report.watch.failed == 0
    # The next pass asks the others: nothing was pushed back by the stop.
    for p in pages:
        outlet.add(p, outlet.titles[p])
    report = Updater(load(cfg), clock=clock).run()
    assert report.watch is not None and report.watch.checked == len(pages) - asked


def test_a_headline_changed_on_the_page_is_a_title_edit(
    tmp_path: Path, server: FakeServer, clock: Clock, run_update
) -> None:
    """A page source's title comes from its feed; once the story has left the feed, only
    the page shows a new headline — a change between two looks is an edit."""
    outlet, cfg = _outlet(tmp_path, server, "a")
    run_update(cfg)
    _passes(outlet, cfg, clock, run_update, {}, {"/news/a.html": "retitled"})
    assert [(k, d) for _n, k, d in _events(tmp_path)] == [("edit", "title")]
    (path,) = (tmp_path / "site" / "articles").rglob("*.md")
    assert "新闻 a（已更新标题）" in path.read_text(encoding="utf-8").splitlines()[1]


def test_an_outlets_words_in_a_change_list_stay_text() -> None:
    """A removal's detail quotes the outlet's not-found page: it never becomes a link or
    markup in the archive's Markdown."""
    from newsmirror.publish.changes import render_month
    from newsmirror.store.watch import Event

    hostile = "the page says '[找不到该页面](javascript:alert(1)) <img src=x onerror=1>'"
    event = Event(1, 1, 1_700_000_000_000, "removal", hostile, 1, None, "s", "a/b.md", "T", "u")
    text = render_month("2023-11", [event], {"s": "S"}).decode()
    assert not re.search(r"(?<!\\)\]\(javascript:", text)  # only an escaped bracket
    assert not re.search(r"(?<!\\)<img", text)
    assert "\\[找不到该页面\\](javascript:alert(1)) \\<img src=x onerror=1\\>" in text


def test_evidence_that_cannot_be_made_costs_only_the_evidence(
    tmp_path: Path, server: FakeServer, clock: Clock, run_update, monkeypatch
) -> None:
    from newsmirror import evidence

    item = Item("标题", server.url("/a/1.html"), f"<p>{o.P1}</p>", dt("2022-11-24T08:00:00Z"))
    server.routes["/f.xml"] = rss([item])
    cfg = write_config(tmp_path / "c.toml", [{"id": "f", "url": server.url("/f.xml")}])
    run_update(cfg)

    def broken(*_a: object) -> bytes:
        raise ValueError("no records today")

    monkeypatch.setattr(evidence, "records", broken)
    server.routes["/f.xml"] = rss([Item(item.title, item.link, f"<p>{o.P2}</p>", item.date)])
    clock.ms += HOUR
    report = run_update(cfg)
    assert report.updated == 1 and not report.failed
    assert [(k, d) for _n, k, d in _events(tmp_path)] == [("edit", "text")]


def _enroll(site: Path, now_ms: int) -> None:
    """What the workers' schedule does before it queues re-checks."""
    from newsmirror.watch import enroll

    cat = archive_catalog(site)
    try:
        enroll(cat, load(site.parent / "c.toml").watch, now_ms)
    finally:
        cat.close()


def test_rechecks_as_workers_jobs_leave_the_archive_an_update_leaves(
    tmp_path: Path, server: FakeServer
) -> None:
    """Workers' jobs (fetch, then re-check, one source each) record in the catalog only;
    the publisher writes the files.  Pass for pass, the archive and the events are those
    the same passes of ``update`` leave, and a job whose store fails records nothing."""
    import asyncio

    from newsmirror.pipeline import Updater

    from .conftest import Clock
    from .test_queue import _files

    names = ["edit", "gone404", "soft", "blip", "title"]
    states: list[dict[str, object]] = [
        {},
        {"/news/blip.html": 404},
        {"/news/edit.html": "edited", "/news/gone404.html": 404, "/news/soft.html": "soft404",
         "/news/blip.html": "ok", "/news/title.html": "retitled"},
        {},
        {"/news/gone404.html": "ok"},
    ]  # fmt: skip

    def passes(side: str, one: Callable[[Path, Clock], None]) -> None:
        (tmp_path / side).mkdir()
        outlet, cfg = _outlet(tmp_path / side, server, *names)
        clock = Clock()
        for state in states:
            outlet.state.update(state)
            one(cfg, clock)
            clock.ms += HOUR + 1

    def update(cfg: Path, clock: Clock) -> None:
        assert not Updater(load(cfg), clock=clock).run().failed

    def jobs(cfg: Path, clock: Clock) -> None:
        settings = load(cfg)
        Updater(settings, clock=clock).publish()  # takes nothing in: a new archive
        assert Updater(settings, clock=clock).fetch_source("hk").error is None
        before = _files(tmp_path / "jobs" / "site")
        _enroll(tmp_path / "jobs" / "site", clock())
        asyncio.run(Updater(settings, clock=clock).recheck_source_with("hk", None))
        assert _files(tmp_path / "jobs" / "site") == before  # rows only
        Updater(settings, clock=clock).publish()

    passes("update", update)
    passes("jobs", jobs)
    expected = _files(tmp_path / "update" / "site")
    got = _files(tmp_path / "jobs" / "site")
    assert sorted(got) == sorted(expected)
    assert got == expected
    events = _events(tmp_path / "jobs")
    assert events == _events(tmp_path / "update")
    assert sorted({k for _n, k, _d in events}) == ["edit", "removal", "restoration"]


def test_a_workers_recheck_that_cannot_store_its_edit_records_no_look(
    tmp_path: Path, server: FakeServer, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a worker, an edit and the look that found it are one transaction: when the
    edit cannot be stored, the look is recorded as failed and asked again, and nothing
    of the edit is kept, so the next look finds it again."""
    import asyncio

    from newsmirror.apply import Applier
    from newsmirror.config import SourceSettings
    from newsmirror.model import Article
    from newsmirror.pipeline import Updater

    outlet, cfg = _outlet(tmp_path, server, "a", "b")
    settings = load(cfg)
    Updater(settings, clock=clock).run()
    outlet.state["/news/a.html"] = "edited"
    clock.ms += HOUR + 1
    real = Applier.store_edits

    async def broken(
        self: Applier, catalog: Catalog, source: SourceSettings, articles: list[Article]
    ) -> set[str]:
        await real(self, catalog, source, articles)  # the rows are written, then it fails
        raise OSError("disk full")

    monkeypatch.setattr(Applier, "store_edits", broken)
    _enroll(tmp_path / "site", clock())
    report = asyncio.run(Updater(settings, clock=clock).recheck_source_with("hk", None))
    assert (report.checked, report.edits, report.failed) == (2, 0, 1)
    cat = archive_catalog(tmp_path / "site")
    try:
        assert cat.unpublished() == []
        (a,) = [st for st in cat.stored(cat.article_ids(["hk"])) if "a.html" in st.article.url]
        assert "经过删节的帖文" not in a.article.body
    finally:
        cat.close()
    monkeypatch.setattr(Applier, "store_edits", real)
    clock.ms += 2 * HOUR + 1  # a failed look backs off: twice the first interval
    report = asyncio.run(Updater(settings, clock=clock).recheck_source_with("hk", None))
    assert (report.checked, report.edits) == (2, 1)  # the edit is found again
    Updater(settings, clock=clock).publish()
    assert [(k, d) for _n, k, d in _events(tmp_path)] == [("edit", "text")]
    articles = (tmp_path / "site" / "articles").rglob("*.md")
    edited = [p.name for p in articles if "经过删节的帖文" in p.read_text(encoding="utf-8")]
    assert len(edited) == 1, edited  # the publisher wrote the edited file
