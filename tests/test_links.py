"""Links in bodies go to the mirrored copy when the archive has the article, in either
order of arrival; other links go to the outlet's canonical URL."""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

import pytest

from newsmirror.model import ARCHIVE_REF
from newsmirror.transform.links import keys_in, link_keys, relink

from . import feeds
from .conftest import Clock, write_config
from .fakeserver import FakeServer

# Every test here runs on both catalog engines (conftest.catalog_backend).
pytestmark = pytest.mark.usefixtures("catalog_backend")

LINKING = (
    '<p>见<a href="https://www.dw.com/zh/%E6%97%A7%E6%A0%87%E9%A2%98/a-555?maca=zh-rss">'
    '旧文</a>、<a href="https://api.dw.com/api/detail/article/555">API 形式</a>、'
    '<a href="https://blog.example/post?utm_source=x&amp;id=3#c">博客</a>和'
    '<a href="https://news.example.org/story/b1?utm_medium=rss">另一篇</a>。</p>'
)


def test_link_keys() -> None:
    assert link_keys("https://www.dw.com/zh/slug/a-555?maca=x") == (
        "id:a-555",
        "url:https://www.dw.com/zh/slug/a-555",
    )
    assert link_keys("https://api.dw.com/api/detail/article/555")[0] == "id:a-555"
    assert link_keys("https://x.example/p?utm_source=1#top") == ("url:https://x.example/p",)
    assert link_keys("mailto:a@b.example") == ()
    assert "id:a-555" in keys_in(LINKING)


def test_relink_pure() -> None:
    out = relink(LINKING, {"id:a-555": "articles/b/2022-10-17/a-555.md"})
    assert out.count(f'href="{ARCHIVE_REF}articles/b/2022-10-17/a-555.md"') == 2
    assert 'href="https://blog.example/post?id=3#c"' in out  # tracking gone, rest kept
    assert 'href="https://news.example.org/story/b1"' in out
    kept = relink(LINKING, {}, keep_tracking=True)
    assert "utm_source=x&amp;id=3" in kept and "maca=zh-rss" in kept
    assert relink("<p>no links</p>", {}) == "<p>no links</p>"


def _sources(server: FakeServer) -> list[dict[str, str]]:
    return [
        {"id": "a", "name": "A", "url": server.url("/a.xml")},
        {"id": "b", "name": "B", "url": server.url("/b.xml")},
    ]


def _a_item() -> feeds.Item:
    (it,) = feeds.items(1, prefix="https://news.example.org/story/a")
    it.body = LINKING
    return it


def _b_items() -> list[feeds.Item]:
    dw = feeds.Item(
        title="旧文",
        link="https://www.dw.com/zh/%E6%96%B0%E6%A0%87%E9%A2%98/a-555",
        body="<p>被链接的文章</p>",
        date=feeds.dt(1_665_000_000_000),
    )
    (other,) = feeds.items(1, prefix="https://news.example.org/story/b")
    other.link = "https://news.example.org/story/b1"
    return [dw, other]


def _hrefs(path: Path) -> list[str]:
    return re.findall(r'<a href="([^"]*)"', path.read_text())


def _only(root: Path, source: str, text: str) -> Path:
    (found,) = [p for p in (root / "articles" / source).rglob("*.md") if text in p.read_text()]
    return found


def _check_relinked(root: Path) -> None:
    a = _only(root, "a", "博客")
    target = _only(root, "b", "被链接的文章")
    other = _only(root, "b", "第 0 条")
    dw, api, blog, story = _hrefs(a)
    for rel in (dw, api):
        assert not rel.startswith(("http", "/"))  # relative to the file
        assert Path(posixpath.normpath(a.parent / rel)) == target
    assert Path(posixpath.normpath(a.parent / story)) == other  # by canonical URL
    assert blog == "https://blog.example/post?id=3#c"


@pytest.mark.parametrize("order", ["target first", "linking first", "same pass"])
def test_relinking_in_every_order(
    order: str, tmp_path: Path, server: FakeServer, run_update, clock: Clock
) -> None:
    cfg = write_config(tmp_path / "newsmirror.toml", _sources(server))
    root = tmp_path / "site"
    empty = feeds.rss([])
    a, b = feeds.rss([_a_item()]), feeds.rss(_b_items())
    first = {"target first": (empty, b), "linking first": (a, empty), "same pass": (a, b)}
    server.routes["/a.xml"], server.routes["/b.xml"] = first[order]
    run_update(cfg)
    if order == "linking first":
        # Not mirrored yet: the outlet's canonical link, tracking removed.
        dw, api, _blog, story = _hrefs(_only(root, "a", "博客"))
        assert dw == "https://www.dw.com/zh/%E6%97%A7%E6%A0%87%E9%A2%98/a-555"
        assert api == "https://api.dw.com/api/detail/article/555"
        assert story == "https://news.example.org/story/b1"
    server.routes["/a.xml"], server.routes["/b.xml"] = a, b
    clock.ms += 3600_000
    report = run_update(cfg)
    _check_relinked(root)
    if order == "linking first":
        assert report.rerendered == 1
        assert "1 articles relinked" in report.commit_message()
    # Nothing moves on a further pass.
    clock.ms += 3600_000
    again = run_update(cfg)
    assert again.rerendered == 0 and again.updated == 0


def test_links_as_published(tmp_path: Path, server: FakeServer, run_update) -> None:
    cfg = write_config(tmp_path / "newsmirror.toml", _sources(server))
    cfg.write_text(cfg.read_text() + '\n[links]\nmode = "as-published"\n')
    server.routes["/a.xml"], server.routes["/b.xml"] = feeds.rss([_a_item()]), feeds.rss(_b_items())
    run_update(cfg)
    hrefs = _hrefs(_only(tmp_path / "site", "a", "博客"))
    assert hrefs[0].endswith("a-555?maca=zh-rss") and hrefs[2].startswith("https://blog")


README_BEFORE = """\
<p>德国外交部长周三在柏林表示，对话仍是解决分歧的唯一途径。</p>
<img src="https://static.dw.com/image/65000002_605.jpg">
<p>此前报道见<a href="https://www.dw.com/zh/德中对话/a-65000001?maca=zh-rss-chi-all">德中对话</a>，
评论见<a href="https://blog.example.org/post?utm_source=rss&amp;id=7">博客</a>。</p>"""


def test_readme_before_and_after(tmp_path: Path, server: FakeServer, run_update) -> None:
    target = feeds.Item(
        title="德中对话",
        link="https://www.dw.com/zh/德中对话/a-65000001",
        body="<p>早前的报道</p>",
        date=feeds.dt("2026-11-19T08:00:00+00:00"),
    )
    article = feeds.Item(
        title="德国外长：对话是唯一途径",
        link="https://www.dw.com/zh/德国外长对话是唯一途径/a-65000002?maca=zh-rss-chi-all",
        body=README_BEFORE,
        date=feeds.dt("2026-11-20T09:30:00+00:00"),
    )
    server.routes["/dw.xml"] = feeds.rss([article, target])
    cfg = write_config(
        tmp_path / "newsmirror.toml",
        [{"id": "dw", "name": "德国之声", "url": server.url("/dw.xml"), "script": "hant"}],
    )
    run_update(cfg)
    after = (tmp_path / "site/articles/dw/2026-11-20/a-65000002.md").read_text()
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert "```html\n" + README_BEFORE + "\n```" in readme
    assert "```\n" + after + "```" in readme, after
