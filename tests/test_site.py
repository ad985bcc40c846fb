"""The static site: every link leads somewhere, feeds parse cleanly, rebuilds touch only what
changed, nothing is fetched from third parties, and `serve` answers searches live."""

from __future__ import annotations

import posixpath
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import feedparser
import pytest
from lxml import html as lhtml

from newsmirror.config import Settings, load
from newsmirror.publish.serve import make_server
from newsmirror.publish.site import BuildReport, SiteBuilder
from newsmirror.report import UpdateReport
from newsmirror.store.catalog import Catalog
from newsmirror.store.search import SearchIndex

from . import feeds
from .conftest import Clock, write_config
from .fakeserver import FakeServer
from .test_cli import nm
from .test_copy import PNG, image

# Every test here runs on both catalog engines (conftest.catalog_backend).
pytestmark = pytest.mark.usefixtures("catalog_backend")

PROXY = "https://images.weserv.nl"


def site_items(server: FakeServer, n: int = 6) -> list[feeds.Item]:
    items = feeds.items(n)
    items[-1].title = "美中重啟氣候對話"
    items[-1].body = (
        "<p>美國氣候特使表示，願與中國重啟對話。</p>"
        f'<img src="{server.url("/img/a.png")}"><p>见<a href="{items[-2].link}">上一篇</a>。</p>'
        '<iframe src="https://www.youtube.com/embed/abc"></iframe>'
    )
    items[-2].title = "气候大会即将召开"
    items[-2].body = '<p>联合国气候大会下周开幕。</p><img src="https://img.example.org/b.jpg">'
    return items


@pytest.fixture
def site(
    tmp_path: Path, server: FakeServer, run_update: Callable[[Path], UpdateReport]
) -> Iterator[tuple[Path, list[feeds.Item]]]:
    server.routes["/img/a.png"] = image(PNG, "image/png")
    items = site_items(server)
    server.routes["/f.xml"] = feeds.rss(items)
    other = feeds.items(3, prefix="https://other.example.org/n/")
    other[0].body += f'<img src="{server.url("/img/a.png")}">'
    server.routes["/g.xml"] = feeds.rss(other)
    cfg = write_config(
        tmp_path / "nm.toml",
        [
            {"id": "news", "name": "新闻", "url": server.url("/f.xml"), "script": "both"},
            {"id": "copy", "name": "副本", "url": server.url("/g.xml"), "images": "copy"},
        ],
    )
    cfg.write_text(
        cfg.read_text()
        + '\n[site]\npath = "public"\nbase_url = "https://mirror.example.org/m/"\npage_size = 3\n'
    )
    run_update(cfg)
    items[-1].body += "<p>更新：会谈推迟。</p>"  # an edit: a second revision
    server.routes["/f.xml"] = feeds.rss(items)
    assert run_update(cfg).updated == 1
    yield cfg, items


def build(cfg: Path, pagefind: bool = False) -> BuildReport:
    settings: Settings = load(cfg)
    catalog = Catalog(settings.catalog, create=False)
    try:
        return SiteBuilder(settings, catalog, pagefind=pagefind).build()
    finally:
        catalog.close()


def pages(root: Path) -> dict[str, int]:
    return {
        p.relative_to(root).as_posix(): p.stat().st_mtime_ns
        for p in root.rglob("*")
        if p.is_file() and not p.relative_to(root).as_posix().startswith(("pagefind/", "."))
    }


def check_links(root: Path, allowed_hosts: set[str]) -> int:
    """Every relative href/src of every page names an existing file; every absolute
    resource (img, script, stylesheet) is on an allowed host.  Returns links checked."""
    checked = 0
    for page in root.rglob("*.html"):
        rel = page.relative_to(root).as_posix()
        if rel.startswith(("pagefind/", ".")):
            continue
        doc = lhtml.fromstring(page.read_bytes())
        for el, attr, link, _pos in doc.iterlinks():
            parts = urlsplit(link)
            if parts.scheme in ("http", "https"):
                if el.tag in ("img", "script", "link", "iframe", "source", "video", "audio"):
                    assert parts.netloc in allowed_hosts, f"{rel}: third-party {el.tag} {link}"
                continue
            if parts.scheme or not parts.path:
                continue
            target = posixpath.normpath(posixpath.join(posixpath.dirname(rel), unquote(parts.path)))
            assert not target.startswith(".."), f"{rel}: {link} leaves the site"
            assert (root / target).is_file(), f"{rel}: broken {el.tag} {attr} {link}"
            checked += 1
    return checked


def test_site_pages_and_links(site: tuple[Path, list[feeds.Item]]) -> None:
    cfg, items = site
    report = build(cfg)
    assert report.full and not report.errors
    root = cfg.parent / "public"
    assert check_links(root, {"images.weserv.nl"}) > 100
    home = (root / "index.html").read_text()
    assert (
        "新闻" in home and "美中重啟氣候對話" in home and 'href="sources/news/index.html"' in home
    )
    article = next(root.glob("articles/news/*/*.html"))
    page = [p for p in root.glob("articles/news/*/*.html") if "美中重啟" in p.read_text()]
    main = next(p for p in page if ".rev" not in p.name and ".hans" not in p.name)
    text = main.read_text()
    # title, source, original link, body, other script, earlier revision
    assert "<h1>美中重啟氣候對話</h1>" in text and ">新闻</a>" in text
    assert f'href="{items[-1].link}"' in text and "原文" in text
    assert "会谈推迟" in text and ">简体中文</a>" in text
    rev = main.with_name(main.stem + ".rev1.html")
    assert rev.is_file() and "会谈推迟" not in rev.read_text() and "较早的版本" in rev.read_text()
    assert re.search(r'href="[^"]*\.rev1\.html"', text)
    # the link to the other mirrored article leads to its page; the player became a link
    assert re.search(r'<a href="[0-9a-f]+\.html">上一篇</a>', text)
    assert "<iframe" not in text and "https://www.youtube.com/embed/abc" in text
    # images: proxied, or the copy hard-linked into the site
    assert (
        f'src="{PROXY}/?url=img.example.org/b.jpg"'
        in root.joinpath(
            next(p for p in root.rglob("*.html") if "气候大会即将召开</h1>" in p.read_text())
        ).read_text()
    )
    assert list((root / "assets").rglob("*.png"))
    # paginated source pages, newest first on the index; day pages
    assert (root / "sources/news/2.html").is_file() and "sources/news/3.html" not in pages(root)
    assert len(list((root / "days").glob("*.html"))) >= 2
    # no script needed to read: only the search page loads any
    assert "<script" not in text and "<script" not in home
    assert (
        "Content-Security-Policy" in text
        and "img-src 'self' data: https://images.weserv.nl" in text.replace("&#39;", "'")
    )
    assert article.is_file()


def test_feeds_parse_without_complaint(site: tuple[Path, list[feeds.Item]]) -> None:
    cfg, _items = site
    build(cfg)
    root = cfg.parent / "public" / "feeds"
    for name in ("all", "news", "copy"):
        for ext in ("atom", "rss"):
            d = feedparser.parse((root / f"{name}.{ext}").read_bytes())
            assert not d.bozo, f"{name}.{ext}: {d.get('bozo_exception')}"
            n = {"all": 9, "news": 6, "copy": 3}[name]
            assert len(d.entries) == n, f"{name}.{ext}"
            if name != "copy":
                e = next(e for e in d.entries if e.title == "美中重啟氣候對話")
                body = e.content[0].value if ext == "atom" else e.summary
                assert "会谈推迟" in body
                assert f"{PROXY}/?url=" in body or "/assets/" in body
                assert e.link.startswith("https://mirror.example.org/m/articles/news/")
                assert 'href="https://mirror.example.org/m/articles/' in body  # relinked, absolute
        import json

        doc = json.loads((root / f"{name}.json").read_text())
        assert doc["version"] == "https://jsonfeed.org/version/1.1" and doc["items"]
    copy_feed = feedparser.parse((root / "copy.atom").read_bytes())
    assert not copy_feed.bozo and len(copy_feed.entries) == 3


def test_article_pages_show_authors_and_date_once(
    tmp_path: Path, server: FakeServer, shared: Path, run_update: Callable[[Path], UpdateReport]
) -> None:
    from .dwfake import FakeDW

    dw = FakeDW(server, shared)
    dw.fixtures()
    cfg = write_config(tmp_path / "c.toml", [dw.config()])
    cfg.write_text(cfg.read_text() + '\n[site]\npath = "public"\n')
    run_update(cfg)
    archived = next((tmp_path / "site").rglob("a-90000011.md")).read_text()
    m = re.search(r"<div><i>([^<]*)<br>(\S+Z)</i></div>", archived)
    assert m, "the archive keeps its dateline"
    assert not build(cfg).errors
    page = next((tmp_path / "public").rglob("a-90000011.html")).read_text()
    assert m[2] not in page  # no raw ISO date in the body
    meta = re.search(r'<p class="meta"[^>]*>.*?</p>', page, re.S)
    assert meta and "<time datetime=" in meta[0]
    for name in m[1].split("、"):
        assert name in meta[0] and page.count(name) == 1


def test_feeds_without_a_base_url_hold_no_relative_link(
    site: tuple[Path, list[feeds.Item]],
) -> None:
    cfg, _items = site
    cfg.write_text(cfg.read_text().replace('base_url = "https://mirror.example.org/m/"\n', ""))
    build(cfg)
    root = cfg.parent / "public" / "feeds"
    for name in ("all", "news", "copy"):
        d = feedparser.parse((root / f"{name}.atom").read_bytes())
        assert not d.bozo and d.entries
        for e in d.entries:
            assert e.link.startswith("http"), e.link  # the outlet's page
            body = lhtml.fragment_fromstring(e.content[0].value, create_parent="div")
            for _el, _attr, link, _pos in body.iterlinks():
                assert urlsplit(link).scheme in ("http", "https"), f"{name}: {link}"
        if name == "copy":  # the copies' pictures cannot be named: their captions stay
            assert "/assets/" not in (root / f"{name}.atom").read_text()


def test_incremental_build_touches_only_what_changed(
    site: tuple[Path, list[feeds.Item]],
    server: FakeServer,
    run_update: Callable[[Path], UpdateReport],
    clock: Clock,
) -> None:
    cfg, items = site
    root = cfg.parent / "public"
    build(cfg)
    before = pages(root)
    again = build(cfg)
    assert (again.written, again.removed, again.full) == (0, 0, False)
    assert pages(root) == before
    # one new article, in the newest day of "news"
    new = feeds.Item(
        title="新的一篇",
        link="https://news.example.org/story/new",
        body="<p>新文章。</p>",
        date=items[0].date,
    )
    server.routes["/f.xml"] = feeds.rss([new, *items])
    assert run_update(cfg).new == 1
    report = build(cfg)
    after = pages(root)
    touched = {p for p in after if before.get(p) != after[p]}
    new_page = [p for p in touched if p.startswith("articles/news/") and p.endswith(".html")]
    assert len(new_page) == 2  # the article and its second-script page
    day = sorted(p for p in touched if p.startswith("days/"))
    # 9 articles that day (both sources) in pages of 3: the new one opens the fourth
    # page, the third gains its "newer" link, the others stay
    assert day == ["days/2022-10-17-3.html", "days/2022-10-17-4.html"]
    expected = {
        *new_page,
        *day,
        "index.html",
        "sources/news/index.html",
        "sources/news/3.html",  # 6 articles in pages of 3 before: the new one opens page 3
        "sources/news/2.html",  # ... whose "newer" link page 2 gains
        *(f"feeds/{g}.{x}" for g in ("all", "news") for x in ("atom", "rss", "json")),
    }
    assert touched == expected
    assert report.written == len(expected) and report.removed == 0


def test_deleted_site_is_rebuilt_whole(site: tuple[Path, list[feeds.Item]]) -> None:
    cfg, _items = site
    build(cfg)
    root = cfg.parent / "public"
    import shutil

    shutil.rmtree(root)
    report = build(cfg)
    assert report.full and (root / "index.html").is_file()
    assert check_links(root, {"images.weserv.nl"}) > 100


def test_static_search_bundle_and_build_command(site: tuple[Path, list[feeds.Item]]) -> None:
    cfg, _items = site
    out = nm(cfg.parent, "-c", str(cfg), "build")
    assert out.returncode == 0, out.stderr
    assert "full build" in out.stdout and "search index rebuilt for 2022-10" in out.stdout
    root = cfg.parent / "public"
    bundle = root / "pagefind" / "2022-10"
    assert (bundle / "pagefind-ui.js").is_file() and (bundle / "pagefind-entry.json").is_file()
    entry = (bundle / "pagefind-entry.json").read_text()
    assert '"zh' in entry  # indexed as Chinese (segmented by the extended binary)
    search = (root / "search.html").read_text()
    assert 'src="pagefind/2022-10/pagefind-ui.js"' in search and 'data-bundles="2022-10"' in search
    second = nm(cfg.parent, "-c", str(cfg), "build")
    assert "0 pages written" in second.stdout and "search index rebuilt" not in second.stdout


def test_serve_answers_searches_from_the_catalog(site: tuple[Path, list[feeds.Item]]) -> None:
    cfg, _items = site
    build(cfg)
    settings = load(cfg)
    catalog = Catalog(settings.catalog, create=False)
    SearchIndex(catalog).sync()
    catalog.close()
    server, live = make_server(settings, SiteBuilder.pages_for(settings), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with urllib.request.urlopen(f"{base}/search.html?q={quote('对话')}") as r:
            text = r.read().decode()
        assert "<mark>對話</mark>" in text and "美中重啟氣候對話" in text
        link = re.search(r'<ol class="results"><li><a href="([^"]+)"', text)
        assert link is not None
        with urllib.request.urlopen(f"{base}/{link.group(1)}") as r:
            assert "<h1>美中重啟氣候對話</h1>" in r.read().decode()
        bad = quote('"对话')
        with urllib.request.urlopen(f"{base}/search.html?q={bad}") as r:
            assert "unbalanced quote" in r.read().decode()
        with urllib.request.urlopen(f"{base}/") as r:
            assert "新闻" in r.read().decode()
    finally:
        server.shutdown()
        server.server_close()
        live.close()


def test_serve_is_safe_to_expose(
    site: tuple[Path, list[feeds.Item]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket
    import urllib.error

    from newsmirror.publish import serve as serve_module

    cfg, _items = site
    build(cfg)
    settings = load(cfg)
    outside = tmp_path / "secret.txt"
    outside.write_text("SECRET")
    (settings.site.path / "leak.txt").symlink_to(outside)
    (settings.site.path / "linkdir").symlink_to(tmp_path)
    (settings.site.path / "nolist").mkdir()
    (settings.site.path / "nolist/a.txt").write_text("a")
    monkeypatch.setattr(serve_module, "MAX_CONNECTIONS", 8)
    monkeypatch.setattr(serve_module._Handler, "timeout", 1.0)
    server, live = make_server(settings, SiteBuilder.pages_for(settings), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    base = f"http://127.0.0.1:{port}"

    def status(path: str) -> int:
        try:
            with urllib.request.urlopen(base + path, timeout=10) as r:
                return int(r.status)
        except urllib.error.HTTPError as e:
            return e.code

    try:
        assert status("/") == 200 and status("/nolist/a.txt") == 200
        for path in ("/leak.txt", "/linkdir/secret.txt", "/.newsmirror-site", "/nolist/", "/x/.."):
            assert status(path) == 404, path
        # A query too long to be a search is refused quickly, with a reason.
        with urllib.request.urlopen(f"{base}/search.html?q={quote('对话' * 1000)}") as r:
            assert "characters long" in r.read().decode()
        # Idle connections are dropped, and more than the cap are not even kept.
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    if status("/") == 200:
                        break
                except OSError:
                    time.sleep(0.2)
            else:
                raise AssertionError("the server never answered while idle connections stood")
        finally:
            for s in idle:
                s.close()
    finally:
        server.shutdown()
        server.server_close()
        live.close()


def test_pagefind_indexes_terms_readers_never_download(
    site: tuple[Path, list[feeds.Item]],
) -> None:
    from newsmirror.publish.pagefind import search_terms, shadow_page
    from newsmirror.store.search import normalize

    cfg, _items = site
    build(cfg)
    root = cfg.parent / "public"
    page = next(
        p
        for p in root.glob("articles/news/*/*.html")
        if "美中重啟" in p.read_text() and ".rev" not in p.name and ".hans" not in p.name
    )
    shadow = shadow_page(page.read_bytes()).decode()
    assert search_terms(normalize("對話")) == "z05bf9 z05bf908bdd z08bdd"
    assert "z05bf908bdd" in shadow and 'data-pagefind-meta="summary[content]"' in shadow
    assert "z05bf9" not in page.read_text()  # the published page is unchanged
    assert (root / "search-fold.js").read_text().count('"對":"对"') == 1
