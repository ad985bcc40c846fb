"""The article file format, byte for byte against the shared golden file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from newsmirror.render.markdown import file_hash, join_lines, render_article
from newsmirror.report import UpdateReport
from newsmirror.sources.feed import parse_feed

from .conftest import write_config
from .fakeserver import FakeServer


def test_golden_item_renders_byte_for_byte(shared: Path) -> None:
    raw = (shared / "golden" / "fulltext-feed.xml").read_bytes()
    articles, errors = parse_feed(raw, source="dw", feed_url="https://www.dw.com/zh/", now_ms=0)
    assert errors == []
    by_key = {a.key: a for a in articles}
    expected = (shared / "golden" / "dw-63558196.md").read_bytes()
    got = render_article(by_key["a-63558196"])
    assert got == expected, _first_difference(got, expected)


def _golden_update(
    shared: Path, server: FakeServer, tmp_path: Path, run_update, layout: str = "dated"
) -> UpdateReport:
    """One whole update of the golden feed, served by the fake outlet."""
    server.routes["/dw.xml"] = (shared / "golden" / "fulltext-feed.xml").read_bytes()
    cfg = write_config(
        tmp_path / "newsmirror.toml",
        [{"id": "dw", "name": "德国之声", "url": server.url("/dw.xml")}],
        layout=layout,
    )
    return run_update(cfg)  # type: ignore[no-any-return]


@pytest.mark.parametrize("size", [0, 1, 2046, 2047, 2048, 4094, 4095, 50_000])
def test_file_hash_is_the_sha256_of_everything_after_the_date_line(size: int) -> None:
    """Hashed in pieces (see ``file_hash``), still the hash of catalogs made before."""
    body = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    for first in (b"<!--1666748057666-->\n", b"<!--1-->\n"):
        assert file_hash(first + body) == hashlib.sha256(body).hexdigest()
    assert file_hash(b"no line break") == hashlib.sha256(b"").hexdigest()


def test_golden_through_a_whole_update(
    shared: Path, server: FakeServer, tmp_path: Path, run_update
) -> None:
    report = _golden_update(shared, server, tmp_path, run_update)
    assert report.new == 3 and not report.failed
    path = tmp_path / "site/articles/dw/2022-10-26/a-63558196.md"
    assert path.read_bytes() == (shared / "golden" / "dw-63558196.md").read_bytes()


def test_content_encoded_wins_over_description_and_title_is_trimmed(shared: Path) -> None:
    raw = (shared / "golden" / "fulltext-feed.xml").read_bytes()
    articles, _ = parse_feed(raw, source="dw", feed_url="https://www.dw.com/zh/", now_ms=0)
    a = {x.key: x for x in articles}["a-90000002"]
    text = render_article(a).decode()
    assert "[示例：柏林地铁延长夜间班次](" in text
    assert "示例作者" in text and "摘要" not in text


def test_tracking_parameters_removed_unless_kept(shared: Path) -> None:
    raw = (shared / "golden" / "fulltext-feed.xml").read_bytes()
    plain, _ = parse_feed(raw, source="dw", feed_url="https://www.dw.com/zh/", now_ms=0)
    kept, _ = parse_feed(
        raw, source="dw", feed_url="https://www.dw.com/zh/", now_ms=0, keep_tracking=True
    )
    a = {x.key: x for x in plain}["a-90000001"]
    b = {x.key: x for x in kept}["a-90000001"]
    assert "maca" not in a.url
    assert b.url.endswith("/a-90000001?maca=chi-rss-chi-all-1127-rdf")
    assert a.ident == b.ident == "id:a-90000001"


def test_lines_are_trimmed_like_javascript() -> None:
    assert join_lines("  <p>a</p>\r\n\u3000<p>b</p>\ufeff\n") == "<p>a</p><p>b</p>"


def _first_difference(a: bytes, b: bytes) -> str:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            got, want = a[i - 40 : i + 40], b[i - 40 : i + 40]
            return f"first difference at byte {i}: got {got!r}, want {want!r}"
    return f"lengths differ: got {len(a)}, want {len(b)}"


def test_readme_list_example_is_what_the_golden_feed_gives(
    shared: Path, server: FakeServer, tmp_path: Path, run_update
) -> None:
    _golden_update(shared, server, tmp_path, run_update, layout="duty-machine")
    got = (tmp_path / "site/lists/德国之声.md").read_text(encoding="utf-8")
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert "```\n" + got + "```" in readme, got
    golden = (shared / "golden" / "dw-63558196.md").read_bytes()
    assert (tmp_path / "site/articles/dw/1048573.md").read_bytes() == golden
