"""DW read natively, against a fake DW built from the shared wire-format samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from newsmirror.sources.dw import content_from_page, list_entries
from newsmirror.sources.dw_body import DWFormatError, build

from .conftest import Clock, catalog_db, write_config
from .dwfake import FakeDW, load, page, path_of
from .fakeserver import FakeServer

# Every test here runs on both catalog engines (conftest.catalog_backend).
pytestmark = pytest.mark.usefixtures("catalog_backend")


def rdf(entries: list[tuple[int, str, str]]) -> bytes:
    """A DW-shaped RDF listing of ``(id, slug, dc:date)``."""
    items = "".join(
        f'<item rdf:about="https://www.dw.com/zh/{slug}/a-{aid}?maca=chi-rss-chi-all-1127-rdf">'
        f"<title>{slug}</title><link>https://www.dw.com/zh/{slug}/a-{aid}?maca=chi-rss</link>"
        f"<dc:date>{date}</dc:date><dwsyn:contentID>{aid}</dwsyn:contentID></item>"
        for aid, slug, date in entries
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:dwsyn="http://rss.dw.com/syndication/dwsyn/"><channel rdf:about="x"><title>DW'
        f"</title></channel>{items}</rdf:RDF>"
    ).encode()


@pytest.fixture
def dw(server: FakeServer, shared: Path) -> FakeDW:
    fake = FakeDW(server, shared)
    fake.fixtures()
    return fake


def _cfg(tmp_path: Path, *sources: dict[str, object]) -> Path:
    return write_config(tmp_path / "newsmirror.toml", list(sources))


def _file(tmp_path: Path, key: str) -> str:
    (f,) = (tmp_path / "site/articles").rglob(f"{key}.md")
    return f.read_text(encoding="utf-8")


def test_fixture_articles_in_the_archive_conventions(
    tmp_path: Path, dw: FakeDW, run_update
) -> None:
    report = run_update(_cfg(tmp_path, dw.config()))
    assert report.new == 2
    text = _file(tmp_path, "a-90000011")
    head, body = text.split("\n------\n\n")
    # The title line links to the public canonical URL, never to the fake site.
    assert head == (
        "<!--1795160530000-->\n[示例：莱茵河水位回升 货运恢复](https://www.dw.com/zh/"
        "%E7%A4%BA%E4%BE%8B-%E8%8E%B1%E8%8C%B5%E6%B2%B3%E6%B0%B4%E4%BD%8D%E5%9B%9E%E5%8D%87-"
        "%E8%B4%A7%E8%BF%90%E6%81%A2%E5%A4%8D/a-90000011)"
    )
    assert "127.0.0.1" not in text
    # Dateline with author and ISO date; lead image with caption and credit.
    assert body.startswith(
        "<div><i>示例记者<br>2026-11-20T07:30:12.345Z</i></div>"
        '<img src="https://images.weserv.nl/?url='
        'static.dw.com/image/90000101_605.jpg" width="100%">'
        '<div><small style="color: #999;">考布测量站的水位标尺（示例图片说明） ©示例图片社'
        "</small></div>"
        "<p>（德国之声中文网）"
    )
    # Inline image with its caption, sub-head, source and copyright lines.
    assert (
        '<img src="https://images.weserv.nl/?url='
        'static.dw.com/image/90000102_605.jpg" width="100%"><div><small '
        'style="color: #999;">满载的货船重新驶过罗蕾莱礁石（示例图片说明） ©示例通讯社'
        "</small></div>"
        "<h2>化工企业松了一口气</h2>"
    ) in body
    assert body.endswith(
        "<p>（路透社、德新社）</p><p><em>©2026年德国之声版权声明：本文所有内容受到著作权法"
        "保护，如无德国之声特别授权，不得擅自使用。（示例）</em></p>\n"
    )
    # Video as poster image linked to its page; YouTube as a poster and a plain link.
    assert (
        '<a href="https://www.dw.com/zh/%E7%A4%BA%E4%BE%8B%E8%A7%86%E9%A2%91/video-90000200">'
        '<img src="https://images.weserv.nl/?url='
        'static.dw.com/image/90000201_605.jpg" width="100%"></a>'
    ) in body
    assert '<a href="https://www.youtube.com/watch?v=XXXXXXXXXXX">' in body
    # Links: relative and old app-API links go to the canonical DW pages.
    assert (
        '<a href="https://www.dw.com/zh/%E7%A4%BA%E4%BE%8B-%E5%A4%8F%E5%AD%A3%E5%B9%B2%E6%97%B1'
        '%E5%BD%B1%E5%93%8D%E8%88%AA%E8%BF%90/a-90000003">此前报道</a>'
    ) in body
    assert '<a href="https://www.dw.com/zh/a-90000004" rel="ArticleRef">另一篇相关报道</a>' in body
    assert "api.dw.com" not in body
    # Furniture gone, the words of the topic wrapper kept.
    for furniture in ("svg", "rich-text-ad", "AUTO_TOPIC", "class=", "data-src", "iframe"):
        assert furniture not in body, furniture
    assert "水位周三回升到一米以上，内河航运公司" in body


def test_lead_image_is_not_shown_twice(tmp_path: Path, dw: FakeDW, run_update) -> None:
    run_update(_cfg(tmp_path, dw.config()))
    body = _file(tmp_path, "a-90000012")
    assert body.count("90000111_605.jpg") == 1
    assert body.count("联邦议院全会厅") == 1
    assert "<div><i>示例编辑部<br>2026-11-20T06:05:00.000Z</i></div>" in body


def test_missing_article_is_named_and_retried(
    tmp_path: Path, dw: FakeDW, server: FakeServer, run_update, clock: Clock
) -> None:
    cfg = _cfg(tmp_path, dw.config())
    report = run_update(cfg)
    (err,) = report.sources[0].item_errors
    assert err.where == "a-80000001" and err.retry
    assert "graph-api" in err.reason and "HTTP 404" in err.reason
    # It appears later: the next run fetches the listing again (no 304) and archives it.
    doc = load(dw.shared, "zh", 90000012)
    c = doc["data"]["content"]
    c.update(
        id=80000001, title="示例：去年的旧闻", canonicalUrl="https://www.dw.com/zh/old/a-80000001"
    )
    dw.article("zh", doc, 80000001)
    clock.ms += 3_600_000
    again = run_update(cfg)
    assert again.new == 1 and again.sources[0].item_errors == []
    assert not again.sources[0].not_modified
    assert "示例：去年的旧闻" in _file(tmp_path, "a-80000001")
    # Known articles with unchanged dates were not fetched again.
    assert len(server.hits("/graph-api/zh/content/article/90000011")) == 1


def test_command_output_names_the_missing_item(tmp_path: Path, dw: FakeDW) -> None:
    import subprocess
    import sys

    _cfg(tmp_path, dw.config())
    p = subprocess.run(
        [sys.executable, "-m", "newsmirror", "update"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    assert "item failed dw: a-80000001: graph-api:" in p.stdout


def test_broken_json_falls_back_to_the_article_page(
    tmp_path: Path, dw: FakeDW, server: FakeServer, run_update
) -> None:
    doc = load(dw.shared, "zh", 90000011)
    link = doc["data"]["content"]["canonicalUrl"]
    dw.article("zh", doc, 90000011, link, api=b'{"data": {"content": ')
    report = run_update(_cfg(tmp_path, dw.config()))
    assert report.new == 2
    assert len(server.hits(path_of(link))) == 1
    assert "<h2>化工企业松了一口气</h2>" in _file(tmp_path, "a-90000011")


def test_both_languages_same_ids(
    tmp_path: Path, server: FakeServer, shared: Path, run_update
) -> None:
    fake = FakeDW(server, shared)
    fake.fixtures("zh")
    fake.fixtures("zh-hant")
    report = run_update(_cfg(tmp_path, fake.config("dw"), fake.config("dwt", "zh-hant")))
    assert {s.id: s.new for s in report.sources} == {"dw": 2, "dwt": 2}
    hant = (tmp_path / "site/articles/dwt/2026-11-20/a-90000011.md").read_text()
    assert "[示例：萊茵河水位回升 貨運恢復](https://www.dw.com/zh-hant/" in hant
    assert "（德國之聲中文網）連日降雨之後" in hant
    assert "/a-90000011.md" in str(list((tmp_path / "site/articles/dw").rglob("a-90000011.md")))


def test_edited_republication_is_one_file_two_revisions(
    tmp_path: Path, dw: FakeDW, run_update, clock: Clock
) -> None:
    cfg = _cfg(tmp_path, dw.config())
    run_update(cfg)
    doc = load(dw.shared, "zh", 90000011)
    c = doc["data"]["content"]
    c.update(
        title="示例：莱茵河水位继续回升",
        lastModifiedDate="2026-11-20T09:00:00.000Z",
        canonicalUrl="https://www.dw.com/zh/示例-莱茵河水位继续回升/a-90000011",
    )
    dw.article("zh", doc, 90000011)
    dw.listing = dw.listing.replace(b"2026-11-20T07:42:10Z", b"2026-11-20T09:00:00Z").replace(
        b"\xe7\xa4\xba\xe4\xbe\x8b-\xe8\x8e\xb1", b"\xe7\xa4\xba\xe4\xbe\x8b-\xe6\x96\xb0"
    )
    clock.ms += 3_600_000
    report = run_update(cfg)
    assert (report.new, report.updated) == (0, 1)
    files = list((tmp_path / "site/articles/dw").rglob("a-90000011.md"))
    assert len(files) == 1 and "[示例：莱茵河水位继续回升]" in files[0].read_text()
    db = catalog_db(tmp_path / "site")
    titles = [
        r[0]
        for r in db.execute(
            "SELECT r.title FROM revisions r JOIN articles a ON a.id = r.article_id "
            "WHERE a.ident = 'id:a-90000011' ORDER BY r.id"
        )
    ]
    assert titles == ["示例：莱茵河水位回升 货运恢复", "示例：莱茵河水位继续回升"]


def test_own_samples(tmp_path: Path, server: FakeServer, shared: Path, run_update) -> None:
    fake = FakeDW(server, shared)
    fake.listing = rdf(
        [
            (90000021, "短讯", "2026-11-21T08:00:00Z"),
            (90000022, "直播", "2026-11-21T11:30:00Z"),
            (90000023, "视频", "2026-11-21T10:00:00Z"),
            (90000024, "无标题", "2026-11-21T10:00:00Z"),
        ]
    )
    for aid in (90000021, 90000022, 90000023, 90000024):
        fake.article("zh", load(shared, "zh", aid), aid)
    report = run_update(_cfg(tmp_path, fake.config()))
    assert report.new == 3
    (err,) = report.sources[0].item_errors
    assert err.where == "a-90000024" and "without id or title" in err.reason
    short = _file(tmp_path, "a-90000021")
    assert "<div><i><br>2026-11-21T08:00:00.000Z</i></div><p>（德国之声中文网）" in short
    assert "<img" not in short and "script" not in short and "第二段文字。" in short
    assert (
        '<a href="https://www.dw.com/zh/%E7%A4%BA%E4%BE%8B%E9%9F%B3%E9%A2%91/audio-90000301">'
        "▶ 音频：每周评论（示例）</a>" in short
    )
    assert "▶ 图集：柏林的秋天（示例）</a>" in short
    live = _file(tmp_path, "a-90000022")
    assert live.startswith("<!--1795260600000-->")  # the last modification
    assert "<div><i>记者甲、记者乙<br>2026-11-21T09:00:00.000Z</i></div>" in live
    assert '<h3><time datetime="2026-11-21T11:30:00Z">11:30</time> 辩论结束</h3>' in live
    video = _file(tmp_path, "a-90000023")
    assert (
        '<img src="https://images.weserv.nl/?url='
        'static.dw.com/image/90000501_605.jpg" width="100%">' in video
    )
    assert "<p>汉堡港的一天（示例视频摘要）</p>" in video


def test_live_blogs_and_videos_from_their_own_paths(
    tmp_path: Path, server: FakeServer, shared: Path, run_update
) -> None:
    fake = FakeDW(server, shared)
    fake.listing = rdf([(90000022, "直播", "2026-11-21T11:30:00Z")]).replace(
        b"/a-90000022", b"/live-90000022"
    )
    fake.listing = fake.listing.replace(
        b"</rdf:RDF>",
        rdf([(90000023, "视频", "2026-11-21T10:00:00Z")])
        .split(b"</channel>", 1)[1]
        .replace(b"/a-90000023", b"/video-90000023"),
    )
    live = load(shared, "zh", 90000022)
    live["data"]["content"]["__typename"] = "LiveBlog"
    video = load(shared, "zh", 90000023)
    del video["data"]["content"]["canonicalUrl"]
    video["data"]["content"]["namedUrl"] = "/zh/示例视频/video-90000023"
    fake.article("zh", live, 90000022, content="liveblog")
    fake.article("zh", video, 90000023, content="video")
    report = run_update(_cfg(tmp_path, fake.config()))
    assert report.new == 2 and not report.sources[0].item_errors
    assert "辩论结束" in _file(tmp_path, "live-90000022")
    clip = _file(tmp_path, "video-90000023")
    assert "<p>汉堡港的一天（示例视频摘要）</p>" in clip
    # The video is not copied: the file says where to watch it.
    assert "/video-90000023" in clip and "▶ 在德国之声网站观看视频</a>" in clip
    assert [e.key for e in list_entries(fake.listing)] == ["live-90000022", "video-90000023"]
    # When the graph-api fails, a live blog is read from its page's LiveBlog object.
    assert content_from_page(page(live), 90000022, "live")["__typename"] == "LiveBlog"


def test_image_format_is_configurable(tmp_path: Path, dw: FakeDW, run_update) -> None:
    run_update(_cfg(tmp_path, {**dw.config(), "image_format": 906}))
    assert "90000102_906.jpg" in _file(tmp_path, "a-90000011")


def test_listing_forms(shared: Path) -> None:
    entries = list_entries((shared / "fixtures/dw/rss-chi-all.rdf").read_bytes())
    assert [(e.id, e.date_ms) for e in entries] == [
        (90000011, 1795160530000),
        (90000012, 1795154700000),
        (80000001, 1762941600000),
    ]
    rss2 = (
        b'<rss version="2.0"><channel><item><title>t</title>'
        b"<link>https://www.dw.com/zh/x/a-5?maca=1</link>"
        b"<pubDate>Wed, 26 Oct 2022 01:47:03 GMT</pubDate></item></channel></rss>"
    )
    assert [(e.id, e.date_ms) for e in list_entries(rss2)] == [(5, 1666748823000)]
    broken = rss2.replace(b"<title>t</title>", b"<title>a & b</title>")
    assert [e.id for e in list_entries(broken)] == [5]


def test_page_state_forms() -> None:
    doc = {"data": {"content": {"__typename": "Article", "id": 7, "text": "<p>x</p>"}}}
    assert content_from_page(page(doc), 7)["text"] == "<p>x</p>"
    as_string = b"<script>window.__APP_STATE__ = " + json.dumps(json.dumps(doc)).encode() + b";"
    assert content_from_page(as_string, 7)["id"] == 7
    with pytest.raises(DWFormatError, match="no article 8"):
        content_from_page(page(doc), 8)
    with pytest.raises(DWFormatError, match="no __APP_STATE__"):
        content_from_page(b"<html></html>", 7)
    with pytest.raises(DWFormatError, match="without any date"):
        build({"id": 1, "title": "t"}, language="zh", image_format=605)


def test_readme_sample_is_what_the_fixture_gives(tmp_path: Path, dw: FakeDW, run_update) -> None:
    run_update(_cfg(tmp_path, dw.config()))
    got = _file(tmp_path, "a-90000012")
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert "```\n" + got + "```" in readme


@pytest.mark.parametrize(
    "api",
    [
        b'{"data": {"content": ' * 100_000,  # nested deeper than any parser recurses
        b'{"data": {"content": {"id": 1e400, "title": "t", "text": "<p>x</p>"}}}',
        None,  # a date in year 1 at UTC+14 (below)
    ],
    ids=["deep", "huge-id", "year-1"],
)
def test_hostile_graph_api_answers_cost_their_article(
    tmp_path: Path, dw: FakeDW, server: FakeServer, run_update, api: bytes | None
) -> None:
    doc = load(dw.shared, "zh", 90000011)
    if api is None:
        doc["data"]["content"]["contentDate"] = "0001-01-01T00:00:00+14:00"
        doc["data"]["content"]["firstPublicationDate"] = "0001-01-01T00:00:00+14:00"
        dw.article("zh", doc, 90000011)
    else:
        dw.article("zh", None, 90000011, api=api)
    report = run_update(_cfg(tmp_path, dw.config()))
    (src,) = report.sources
    assert src.error is None
    assert src.new >= 1  # 90000012 at least
    assert (tmp_path / "site/README.md").exists()
    for e in src.item_errors:
        assert e.where.startswith("a-") and e.reason
