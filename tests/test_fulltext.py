"""Full text from article pages: each outlet's fake (feed of teasers + article pages)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from newsmirror.config import load
from newsmirror.errors import ConfigError
from newsmirror.extract.blocks import CAPTION

from . import outlets as o
from .conftest import archive_catalog, catalog_db, write_config
from .fakeserver import Answer, FakeServer
from .feeds import Item, rss

# Every test here runs on both catalog engines (conftest.catalog_backend).
pytestmark = pytest.mark.usefixtures("catalog_backend")


def _article(tmp_path: Path, source: str) -> tuple[str, str]:
    """(title line, body) of the one article of a source."""
    (f,) = (tmp_path / "site/articles" / source).rglob("*.md")
    head, body = f.read_text(encoding="utf-8").split("\n------\n\n")
    return head, body.rstrip("\n")


@dataclass
class Case:
    """One outlet: its page, where the fake serves it, and what the body must show."""

    name: str
    path: str
    page: Callable[[], bytes]
    texts: tuple[str, ...]
    images: tuple[tuple[str, str], ...]  # (src, caption)
    dateline: str
    absent: tuple[str, ...] = ()
    extractor: str = ""


FIRST = o.ms("2022-11-24T06:00:00+00:00")
LAST = o.ms("2022-11-24T07:30:00+00:00")

CASES = [
    Case(
        "bbc",
        "/zhongwen/simp/articles/c0abc",
        lambda: o.bbc_page(FIRST, LAST),
        (
            f"<p><b>{o.P1[:10]}</b>{o.P1[10:]}</p>",
            f"<h2>{o.SUB}</h2>",
            '<a href="https://www.bbc.com/zhongwen/simp/articles/c999">相关报道</a>',
            f"<i>{o.P3}</i>",
            "▶ 视频：法院外的人群",
            '<a href="https://twitter.com/bbcchinese/status/1">',
        ),
        (
            (
                "https://ichef.bbci.co.uk/news/1536/cpsprodpb/1a2b/live/court.jpg",
                f"{o.CAP1} 图像来源，Reuters",
            ),
        ),
        "<div><i>陈静<br>2022-11-24T06:00:00.000Z</i></div>",
        ("页面需要 JavaScript",),
    ),
    Case(
        "bbc-old",
        "/zhongwen/simp/china/2015/06/150601_old",
        o.bbc_old_page,
        (f"<p>{o.P1}</p>", f"<p>{o.P2}</p>"),
        (("https://ichef.bbci.co.uk/news/640/old.jpg", o.CAP2),),
        "<div><i><br>2015-06-01T08:00:00.000Z</i></div>",
        ("旧文章</h",),
        extractor="bbc",
    ),
    Case(
        "voa",
        "/a/hong-kong-trial/6845123.html",
        o.voa_page,
        (f"<p>{o.P1}</p>", f"<h2>{o.SUB}</h2>", f"<p>{o.P2}</p>", f"<p>{o.P3}</p>"),
        (("https://gdb.voanews.com/cover.jpg", o.CAP1),),
        "<div><i>李明<br>2022-11-24T01:30:00.000Z</i></div>",
        ("inline.jpg", o.CAP2),
    ),
    Case(
        "rfi",
        "/cn/中国/20221124-香港审讯",
        o.rfi_page,
        (f"<p>{o.P1}</p>", f"<p>{o.P2}</p>", f"<p>{o.P3}</p>"),
        (("https://s.rfi.fr/media/main.jpg", o.CAP1),),
        "<div><i>王晓雯、张伟<br>2022-11-24T10:00:00.000Z</i></div>",
        ("下载法广应用程序",),
    ),
    Case(
        "nyt",
        "/china/20221124/hong-kong-trial/",
        o.nyt_page,
        (f"<p>{o.P1}</p>", f"<p>{o.P2}</p>", f"<p>{o.P3}</p>", "<p>翻译：纽约时报中文网</p>"),
        (
            (
                "https://static01.nyt.com/images/cover.jpg",
                f"{o.CAP1} Lam Yik Fei for The New York Times",
            ),
        ),
        "<div><i>储百亮<br>2022-11-24T00:15:00.000Z</i></div>",
        ("cn.letters@nytimes.com", "广告"),
    ),
    Case(
        "rfa",
        "/mandarin/yataibaodao/gangtai/hk-11242022.html",
        o.rfa_page,
        (f"<p>{o.P1}</p>", f"<p>{o.P2}</p>", f"<p>{o.P3}</p>"),
        (("https://www.rfa.org/header.jpg", o.CAP1),),
        "<div><i>陈静<br>2022-11-24T05:00:00.000Z</i></div>",
        ("分享到 Facebook",),
    ),
    Case(
        "cdt",
        "/chinese/2022/11/hk-trial/",
        o.cdt_page,
        (f"<p>{o.P1}</p>", f"<p>{o.P2}</p>", f"<p>{o.P3}</p>"),
        (("https://chinadigitaltimes.net/chinese/files/2022/11/a.jpg", o.CAP1),),
        "<div><i><br>2022-11-24T03:00:00.000Z</i></div>",
        ("分享：",),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_outlet_page_becomes_the_article(
    case: Case, tmp_path: Path, server: FakeServer, run_update
) -> None:
    name = case.extractor or case.name
    outlet = o.Outlet(server, case.name.replace("-", ""), f"/{case.name}/rss.xml")
    outlet.pages[case.path] = case.page()
    link = server.url(case.path) + "?at_medium=RSS&at_campaign=rss&utm_source=RSS"
    # A long teaser: deflated as the feed is parsed, a body the page then replaces.
    teaser = o.teaser("香港审讯", link, "2022-11-24T08:00:00+00:00", summary="摘要。" * 100)
    outlet.serve([teaser])
    cfg = write_config(tmp_path / "c.toml", [outlet.config(extractor=name)])
    report = run_update(cfg)
    assert report.new == 1, report
    head, body = _article(tmp_path, outlet.name)
    # The title line keeps the feed's title and its link without the tracking parameters.
    assert head.endswith(f"[香港审讯]({server.url(case.path)})") or "%" in head
    assert body.startswith(case.dateline), body[:200]
    for text in case.texts:
        assert text in body, f"{case.name}: {text!r} missing from {body}"
    for src, caption in case.images:
        expected = f'<img src="{src}" width="100%">{CAPTION.format(caption)}'
        assert expected in body, f"{case.name}: picture {src} / {caption!r} missing from {body}"
    assert body.count("<img ") == len(case.images), body
    for furniture in (*o.FURNITURE, *case.absent):
        assert furniture not in body, f"{case.name}: furniture {furniture!r} kept in {body}"
    assert "摘要" not in body  # the teaser is replaced, not kept
    catalog = archive_catalog(tmp_path / "site")
    (kept,) = catalog.stored([r[0] for r in catalog.db.execute("SELECT id FROM articles")])
    assert case.texts[-1] in kept.article.body and "摘要" not in kept.article.body


def test_a_page_of_an_unknown_site_gbk_lying_about_its_charset(
    tmp_path: Path, server: FakeServer, run_update
) -> None:
    outlet = o.Outlet(server, "news", "/rss.xml", content_type="text/html; charset=utf-8")
    outlet.pages["/2022/11/24/1.html"] = o.generic_gbk_page()
    outlet.serve(
        [o.teaser("香港审讯", server.url("/2022/11/24/1.html"), "2022-11-24T08:00:00+00:00")]
    )
    run_update(write_config(tmp_path / "c.toml", [outlet.config(extractor="auto")]))
    _head, body = _article(tmp_path, "news")
    assert body.startswith("<div><i>朱镕基研究组<br>2022-11-24T06:00:00.000Z</i></div>")
    assert "朱镕基曾说过类似的话" in body  # 镕 is GBK, not GB2312, and not mojibake
    for src, caption in (("/photos/1.jpg", o.CAP1), ("/photos/2.jpg", o.CAP2)):
        assert f'<img src="{server.url(src)}" width="100%">{CAPTION.format(caption)}' in body
    assert body.count("<img ") == 2
    assert body.index(o.P1) < body.index("/photos/1.jpg") < body.index(o.P2)
    assert "grey.gif" not in body and "另一篇报道的标题" not in body


def test_auto_fetches_only_the_teasers(tmp_path: Path, server: FakeServer, run_update) -> None:
    full = "".join(f"<p>{o.P1}{o.P2}{o.P3}</p>" for _ in range(3))
    outlet = o.Outlet(server, "rfa", "/mandarin/rss2.xml")
    outlet.pages["/a/2.html"] = o.rfa_page()
    outlet.serve(
        [
            Item(
                "全文",
                server.url("/a/1.html"),
                full,
                o.teaser("x", "y", "2022-11-24T08:00:00").date,
            ),
            o.teaser("只有摘要", server.url("/a/2.html"), "2022-11-24T09:00:00+00:00", "摘要……"),
        ]
    )
    report = run_update(write_config(tmp_path / "c.toml", [outlet.config(fulltext="auto")]))
    assert report.new == 2
    assert server.hits("/a/1.html") == [] and len(server.hits("/a/2.html")) == 1
    bodies = {p.read_text(encoding="utf-8") for p in (tmp_path / "site/articles/rfa").rglob("*.md")}
    assert any(full in b for b in bodies) and any(o.CAP1 in b for b in bodies)


def test_known_articles_are_not_fetched_again(
    tmp_path: Path, server: FakeServer, run_update, clock
) -> None:
    outlet = o.Outlet(server, "voa", "/voa.xml")
    outlet.pages["/a/1.html"] = o.voa_page()
    outlet.serve([o.teaser("一", server.url("/a/1.html"), "2022-11-24T08:00:00+00:00")])
    cfg = write_config(tmp_path / "c.toml", [outlet.config()])
    assert run_update(cfg).new == 1
    server.routes["/voa.xml"] = rss(
        [o.teaser("一", server.url("/a/1.html"), "2022-11-24T08:00:00+00:00", "改")]
    )
    clock.ms += 3_600_000
    again = run_update(cfg)
    assert again.new == again.updated == 0
    assert len(server.hits("/a/1.html")) == 1
    # A new date in the feed means an edit: the page is read again.
    server.routes["/voa.xml"] = rss(
        [o.teaser("一", server.url("/a/1.html"), "2022-11-24T10:00:00+00:00")]
    )
    clock.ms += 3_600_000
    run_update(cfg)
    assert len(server.hits("/a/1.html")) == 2


def test_transient_failures_are_retried_with_backoff(
    tmp_path: Path, server: FakeServer, run_update
) -> None:
    answers = [Answer(503, b"busy", {"Retry-After": "0"}), Answer(502, b"bad gateway")]

    def flaky(_req: object) -> Answer:
        if answers:
            return answers.pop(0)
        return Answer(200, o.voa_page(), {"Content-Type": "text/html; charset=utf-8"})

    outlet = o.Outlet(server, "voa", "/voa.xml")
    outlet.serve([o.teaser("一", server.url("/a/1.html"), "2022-11-24T08:00:00+00:00")])
    server.routes["/a/1.html"] = flaky
    cfg = write_config(tmp_path / "c.toml", [outlet.config()])
    cfg.write_text(
        cfg.read_text().replace("per_host_delay = 0", 'per_host_delay = 0\nretry_delay = "0.05s"')
    )
    assert run_update(cfg).new == 1
    assert len(server.hits("/a/1.html")) == 3


def test_a_long_retry_after_stops_requests_to_that_server_for_this_pass(
    tmp_path: Path, server: FakeServer, run_update, clock
) -> None:
    outlet = o.Outlet(server, "bbc", "/bbc.xml")
    items = [
        o.teaser(f"第{i}篇", server.url(f"/articles/c{i}"), f"2022-11-24T0{i}:00:00+00:00")
        for i in range(1, 6)
    ]
    outlet.serve(items)
    for i in range(1, 6):
        server.routes[f"/articles/c{i}"] = lambda _r: Answer(
            429, b"slow down", {"Retry-After": "3600"}
        )
    cfg = write_config(tmp_path / "c.toml", [outlet.config(extractor="bbc")])
    cfg.write_text(
        cfg.read_text().replace(
            "per_host_delay = 0", "per_host_delay = 0\nper_host_concurrency = 1"
        )
    )
    report = run_update(cfg)
    assert report.new == 0
    (src,) = report.sources
    assert len(src.item_errors) == 5
    reasons = [e.reason for e in src.item_errors]
    assert all(
        "3600" in r or "wants no requests" in r or "refused 3 pages" in r for r in reasons
    ), reasons
    page_hits = [r for r in server.requests if r.path.startswith("/articles/")]
    assert len(page_hits) == 1, "after a 429 with a long Retry-After nothing more is asked"
    # Next pass (the server is well again): every article is fetched and stored.
    for i in range(1, 6):
        server.routes[f"/articles/c{i}"] = o._html(o.bbc_page(FIRST, LAST), "text/html")
    clock.ms += 3_600_000
    assert run_update(cfg).new == 5


def test_one_unreadable_page_does_not_stop_the_others(
    tmp_path: Path, server: FakeServer, run_update
) -> None:
    outlet = o.Outlet(server, "nyt", "/nyt.xml")
    outlet.pages["/good"] = o.nyt_page()
    outlet.pages["/empty"] = b"<html><body><nav>only furniture</nav></body></html>"
    outlet.serve(
        [
            o.teaser("好", server.url("/good"), "2022-11-24T08:00:00+00:00"),
            o.teaser("空", server.url("/empty"), "2022-11-24T09:00:00+00:00"),
            o.teaser("无", server.url("/missing"), "2022-11-24T10:00:00+00:00"),
        ]
    )
    report = run_update(write_config(tmp_path / "c.toml", [outlet.config()]))
    assert report.new == 1
    (src,) = report.sources
    reasons = sorted(e.reason for e in src.item_errors)
    assert len(reasons) == 2
    assert (
        "/empty: nyt rules: nothing matches section.article-body; generic extractor: " in reasons[0]
    )
    assert "/missing: HTTP 404" in reasons[1]
    db = catalog_db(tmp_path / "site")
    assert db.execute("select count(*) from articles").fetchone()[0] == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"fulltext": "always"}, "fulltext: must be one of 'feed', 'page', 'auto'"),
        ({"extractor": "bbcc"}, "extractor: must be one of"),
        ({"kind": "dw", "fulltext": "page"}, "fulltext"),
    ],
)
def test_config_errors_name_the_key(tmp_path: Path, extra: dict[str, object], message: str) -> None:
    src: dict[str, object] = {"id": "x", "url": "https://example.org/rss"}
    src.update(extra)
    cfg = write_config(tmp_path / "c.toml", [src])
    with pytest.raises(ConfigError, match=message):
        load(cfg)


def test_a_server_refusing_pages_is_left_alone_after_three(
    tmp_path: Path, server: FakeServer, run_update
) -> None:
    outlet = o.Outlet(server, "bbc", "/bbc.xml")
    outlet.serve(
        [
            o.teaser(f"第{i}篇", server.url(f"/p/{i}"), f"2022-11-24T0{i}:00:00+00:00")
            for i in range(10)
        ]
    )
    for i in range(10):
        server.routes[f"/p/{i}"] = lambda _r: Answer(403, b"Forbidden")
    cfg = write_config(tmp_path / "c.toml", [outlet.config(extractor="bbc")])
    cfg.write_text(cfg.read_text().replace("per_host_delay = 0", "per_host_concurrency = 1"))
    (src,) = run_update(cfg).sources
    assert len(src.item_errors) == 10
    assert len([r for r in server.requests if r.path.startswith("/p/")]) == 3
    assert sum("refused 3 pages this pass" in e.reason for e in src.item_errors) == 7


def test_refusals_of_one_server_are_counted_across_its_sources(
    tmp_path: Path, server: FakeServer, run_update
) -> None:
    """Two feeds of one outlet, their pages on one server that refuses them all: three
    refusals in the pass leave that server alone for both, not three for each."""
    outlets = [o.Outlet(server, name, f"/{name}.xml") for name in ("bbc", "bbc2")]
    for k, outlet in enumerate(outlets):
        outlet.serve(
            [
                o.teaser(f"第{k}-{i}篇", server.url(f"/p/{k}/{i}"), f"2022-11-24T0{i}:00:00+00:00")
                for i in range(5)
            ]
        )
        for i in range(5):
            server.routes[f"/p/{k}/{i}"] = lambda _r: Answer(403, b"Forbidden")
    configs = [outlet.config(extractor="bbc") for outlet in outlets]
    cfg = write_config(tmp_path / "c.toml", configs)
    cfg.write_text(cfg.read_text().replace("per_host_delay = 0", "per_host_concurrency = 1"))
    report = run_update(cfg)
    assert len([r for r in server.requests if r.path.startswith("/p/")]) == 3
    errors = [e for src in report.sources for e in src.item_errors]
    assert len(errors) == 10
    assert sum("refused 3 pages this pass" in e.reason for e in errors) == 7


def test_voa_items_whose_guid_is_the_link(tmp_path: Path, server: FakeServer, run_update) -> None:
    page = server.url("/a/hong-kong-trial/6845123.html")
    server.routes["/voa.xml"] = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>VOA</title>'
        f"<item><title>香港审讯</title><guid>{page}</guid>"
        "<pubDate>Thu, 24 Nov 2022 08:00:00 GMT</pubDate><description>摘要</description>"
        "</item></channel></rss>"
    ).encode()
    server.routes["/a/hong-kong-trial/6845123.html"] = o._html(o.voa_page(), "text/html")
    cfg = write_config(
        tmp_path / "c.toml",
        [{"id": "voa", "url": server.url("/voa.xml"), "fulltext": "page", "extractor": "voa"}],
    )
    assert run_update(cfg).new == 1
    (f,) = (tmp_path / "site/articles/voa").rglob("*.md")
    text = f.read_text(encoding="utf-8")
    assert f"[香港审讯]({page})" in text and o.P3 in text
    # Proxy mode (the default): the picture goes through the image proxy.
    assert (
        '<img src="https://images.weserv.nl/?url=gdb.voanews.com/cover.jpg" width="100%">' in text
    )


def test_hostile_page_markup_never_reaches_the_archive(
    tmp_path: Path, server: FakeServer, run_update
) -> None:
    page = (
        "<html><body><div class='post-content'>"
        f"<p onclick='steal()'>{o.P1}<a href='javascript:alert(1)'>点我</a></p>"
        "<script>alert(1)</script><iframe src='https://evil.example/x'></iframe>"
        "<img src='https://i.example/a.jpg' onerror='steal()'>"
        f"<p class='wp-caption-text'>{o.CAP1}</p>"
        f"<p style='position:fixed'>{o.P2}</p></div></body></html>"
    ).encode()
    outlet = o.Outlet(server, "cdt", "/cdt.xml")
    outlet.pages["/p/1"] = page
    outlet.serve([o.teaser("一", server.url("/p/1"), "2022-11-24T08:00:00+00:00")])
    run_update(write_config(tmp_path / "c.toml", [outlet.config()]))
    _head, body = _article(tmp_path, "cdt")
    assert o.P1 in body and o.P2 in body and o.CAP1 in body
    for bad in ("onclick", "javascript:", "<script", "alert(", "evil.example", "onerror", "fixed"):
        assert bad not in body, f"{bad!r} kept in {body}"
