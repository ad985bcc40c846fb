"""Hostile and broken documents: bounded, clear per-source or per-item errors, everything
else archived."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsmirror.errors import ParseError
from newsmirror.sources.feed import parse_feed, read_items

from . import feeds
from .conftest import write_config
from .fakeserver import FakeServer

ITEM = "<item><title>{title}</title><link>https://x.example/{n}</link><description>{body}"
ITEM += "</description></item>"


def rss(*items: str, prolog: str = "", encoding: str = "utf-8") -> str:
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>{prolog}<rss version="2.0"><channel>'
        f"<title>t</title>{''.join(items)}</channel></rss>"
    )


def item(n: int, title: str = "标题", body: str = "正文") -> str:
    return ITEM.format(n=n, title=title, body=body)


def test_external_entities_are_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    doc = rss(
        item(1, "A &xxe; B", "&xxe;"),
        prolog=f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{secret}">]>',
    )
    (only,) = read_items(doc.encode())
    assert "TOPSECRET" not in only.title + only.body


def test_billion_laughs_stays_small() -> None:
    ents = '<!ENTITY a "lollollollollollollollollollol">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9)
    )
    doc = rss(item(1, "&j;"), prolog=f"<!DOCTYPE rss [{ents}]>")
    (only,) = read_items(doc.encode())
    assert len(only.title) < 100


def test_deep_nesting_is_bounded() -> None:
    deep = "<a>" * 600 + "x" + "</a>" * 600
    doc = rss(item(1), item(2).replace("</item>", deep + "</item>"))
    assert [i.title for i in read_items(doc.encode())] == ["标题", "标题"]
    body = "&lt;div&gt;" * 600 + "x"
    (a,), _ = parse_feed(
        rss(item(3, body=body)).encode(), source="s", feed_url="https://x.example/", now_ms=0
    )
    assert "x" in a.body


@pytest.mark.parametrize(
    ("declared", "codec"),
    [("utf-8", "gb18030"), ("gb2312", "gbk"), ("utf-8", "big5"), ("GBK", "gb18030")],
)
def test_mislabelled_chinese_encodings(declared: str, codec: str) -> None:
    title = "台灣與德國" if codec == "big5" else "德国之声：镕基"
    doc = rss(item(1, title, "正文"), encoding=declared).encode(codec)
    (only,) = read_items(doc)
    assert only.title == title


def test_control_characters_are_removed() -> None:
    (only,) = read_items(rss(item(1, "标\x01题\x0b", "正\x08文")).encode())
    assert (only.title, only.body) == ("标题", "正文")


def test_not_a_feed_is_a_clear_error() -> None:
    for junk in (b"", b"   ", b"\x00\x01\x02", b"<html><body>hello</body></html>", b"{}"):
        try:
            items = read_items(junk)
        except ParseError as e:
            assert "feed" in str(e)
        else:
            assert items == []


def test_one_bad_item_does_not_stop_the_others(
    tmp_path: Path, server: FakeServer, run_update
) -> None:
    good = feeds.items(2)
    doc = feeds.rss(good).replace(
        b"<item>", b"<item><title>no link</title><description>x</description></item><item>", 1
    )
    doc = doc.replace(
        b"</channel>", b"<item><title>bad</title><link>javascript:alert(1)</link></item></channel>"
    )
    server.routes["/feed.xml"] = doc
    report = run_update(
        write_config(
            tmp_path / "newsmirror.toml",
            [{"id": "ex", "name": "Ex", "url": server.url("/feed.xml")}],
        )
    )
    (src,) = report.sources
    assert src.new == 2 and src.error is None
    reasons = sorted(e.reason for e in src.item_errors)
    assert reasons == ["item has no link", "item link is not http(s): 'javascript:alert(1)'"]
