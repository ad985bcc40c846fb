"""Simplified/Traditional conversion of titles and bodies; tags and URLs never touched."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsmirror.config import load
from newsmirror.pipeline import Updater
from newsmirror.transform.script import config_for, convert_html, detect, variant_path

from . import feeds
from .conftest import lose_catalog, write_config
from .fakeserver import FakeServer

# Every test here runs on both catalog engines (conftest.catalog_backend).
pytestmark = pytest.mark.usefixtures("catalog_backend")

BODY = (
    '<p title="头发软件"><a href="https://zh.wikipedia.org/wiki/%E5%A4%B4%E5%8F%91?q=软件">'
    "头发</a>和软件，见 https://example.org/头发/软件 &amp; 对话。</p>"
    '<img src="https://img.example/头发.jpg" alt="软件">'
)


def test_text_is_converted_and_markup_kept() -> None:
    out = convert_html(BODY, config_for("hant", "twp"))
    assert "頭髮</a>和軟體" in out and "對話" in out  # Taiwan phrases: 软件 -> 軟體
    for kept in (
        'title="头发软件"',
        'href="https://zh.wikipedia.org/wiki/%E5%A4%B4%E5%8F%91?q=软件"',
        "https://example.org/头发/软件",
        "&amp;",
        'src="https://img.example/头发.jpg" alt="软件"',
    ):
        assert kept in out
    assert "頭髮</a>和軟件" in convert_html(BODY, config_for("hant", "hk"))
    back = convert_html("<p>對話與頭髮</p>", config_for("hans"))
    assert back == "<p>对话与头发</p>"


def test_detect() -> None:
    assert detect("<p>德国之声中文网报道，对话将继续。</p>") == "hans"
    assert detect("<p>德國之聲中文網報導，對話將繼續。</p>") == "hant"
    assert detect("<p>no Chinese</p>") == "hans"
    assert variant_path("articles/dw/1048574.md", "hant") == "articles/dw/1048574.hant.md"


@given(st.text(alphabet=st.sampled_from(list('<>"=/&;#:ab 头发對話https.?')), max_size=60))
def test_markup_survives_any_text(text: str) -> None:
    out = convert_html(text, config_for("hant"))
    assert re.findall(r"<[^>]*>", out) == re.findall(r"<[^>]*>", text)
    assert len(out) == len(text)


def _feed(server: FakeServer) -> None:
    it = feeds.items(1)[0]
    it.title = "对话：头发与软件"
    it.body = BODY
    server.routes["/f.xml"] = feeds.rss([it])


def test_source_written_in_traditional(tmp_path: Path, server: FakeServer, run_update) -> None:
    _feed(server)
    cfg = write_config(
        tmp_path / "newsmirror.toml",
        [{"id": "s", "url": server.url("/f.xml"), "script": "hant", "traditional": "tw"}],
    )
    run_update(cfg)
    (f,) = (tmp_path / "site/articles/s").rglob("*.md")
    text = f.read_text()
    assert "[對話：頭髮與軟件](https://news.example.org/story/0)" in text
    assert 'href="https://zh.wikipedia.org/wiki/%E5%A4%B4%E5%8F%91?q=软件"' in text
    assert "頭髮</a>和軟件" in text


def test_both_scripts_cross_linked(tmp_path: Path, server: FakeServer, run_update) -> None:
    _feed(server)
    cfg = write_config(
        tmp_path / "newsmirror.toml",
        [{"id": "s", "url": server.url("/f.xml")}],
        layout="duty-machine",
    )
    cfg.write_text(cfg.read_text() + '\n[script]\nmode = "both"\ntraditional = "twp"\n')
    run_update(cfg)
    root = tmp_path / "site/articles/s"
    assert sorted(p.name for p in root.iterdir()) == ["1048574.hant.md", "1048574.md"]
    first, second = (root / "1048574.md").read_text(), (root / "1048574.hant.md").read_text()
    assert "[对话：头发与软件]" in first and "[對話：頭髮與軟體]" in second
    assert '<div><a href="1048574.hant.md">繁體中文</a></div>' in first
    assert '<div><a href="1048574.md">简体中文</a></div>' in second
    # The list names the article once, by its published file.
    lst = (tmp_path / "site/lists/s.md").read_text()
    assert "1048574.md" in lst and "hant" not in lst
    # A lost catalog is rebuilt from the files without taking the second script for an
    # article of its own.
    lose_catalog(tmp_path / "site")
    report = run_update(cfg)
    assert (report.new, report.updated) == (0, 0)
    assert (root / "1048574.md").read_text() == first
    # ... and rendering the adopted article again gives the same two files.
    Updater(load(cfg)).rewrite()
    assert (root / "1048574.md").read_text() == first
    assert (root / "1048574.hant.md").read_text() == second
