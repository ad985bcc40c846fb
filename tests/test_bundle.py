"""Offline bundles: an EPUB that passes epubcheck and a single HTML page that opens with no
request to anywhere, both holding every article and picture of the period."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest

from .conftest import write_config
from .fakeserver import FakeServer
from .feeds import Item, dt, rss
from .test_browser import browser  # noqa: F401 (the fixture)
from .test_cli import nm

# Every test here runs on both catalog engines (conftest.catalog_backend).
pytestmark = pytest.mark.usefixtures("catalog_backend")


def tiny_png(rgb: tuple[int, int, int]) -> bytes:
    """A real 2x2 PNG (readers decode it)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + bytes(rgb) * 2 for _ in range(2))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _archive(tmp_path: Path, server: FakeServer) -> Path:
    for name, rgb in (("a", (200, 0, 0)), ("b", (0, 200, 0))):
        server.routes[f"/img/{name}.png"] = tiny_png(rgb)
    items = [
        Item(
            "第一篇：法院开审",
            "https://n.example.org/1",
            f'<p>第一段。</p><img src="{server.url("/img/a.png")}" alt="法院外"><p>第二段。</p>'
            '<iframe src="https://www.youtube.com/embed/x"></iframe>',
            dt("2026-11-30T02:00:00Z"),
        ),
        Item(
            "第二篇：气候谈判",
            "https://n.example.org/2",
            f'<p>谈判继续。</p><img src="{server.url("/img/b.png")}" width="100%">'
            f'<p>图片不在了：</p><img src="{server.url("/img/gone.png")}" alt="已删除的图片">',
            dt("2026-11-30T05:00:00Z"),
        ),
        Item("前一天的", "https://n.example.org/0", "<p>不在这一天。</p>", dt("2026-11-28T05:00Z")),
    ]
    server.routes["/f.xml"] = rss(items)
    cfg = write_config(
        tmp_path / "newsmirror.toml",
        [{"id": "n", "name": "新闻", "url": server.url("/f.xml"), "images": "original"}],
    )
    assert nm(tmp_path, "update").returncode == 0
    return cfg


def test_a_day_as_epub_and_single_html(tmp_path: Path, server: FakeServer, browser: Any) -> None:  # noqa: F811
    _archive(tmp_path, server)
    r = nm(tmp_path, "bundle", "--period", "day", "--date", "2026-11-30", "-o", "out")
    assert r.returncode == 0, r.stderr
    assert "2 articles" in r.stdout and "1 picture(s) could not be had" in r.stdout
    book = tmp_path / "out" / "newsmirror-2026-11-30.epub"
    with zipfile.ZipFile(book) as z:
        names = z.namelist()
        assert names[0] == "mimetype" and z.read("mimetype") == b"application/epub+zip"
        text = "".join(z.read(n).decode() for n in names if n.endswith(".xhtml"))
        assert len([n for n in names if n.startswith("OEBPS/images/")]) == 2
    assert "第一篇：法院开审" in text and "第二篇：气候谈判" in text and "前一天的" not in text
    assert "127.0.0.1" not in text  # no remote picture left
    assert "已删除的图片" in text  # a picture that could not be had is its text
    checker = shutil.which("epubcheck")
    if checker is None:
        if os.environ.get("CI"):
            pytest.fail("epubcheck is required under CI")
        pytest.skip("epubcheck is not installed")
    command = [checker]
    if os.path.realpath(checker).endswith(".jar"):  # Debian's is the jar itself
        command = [shutil.which("java") or "java", "-jar", os.path.realpath(checker)]
    check = subprocess.run([*command, str(book)], capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "ERROR" not in check.stdout + check.stderr

    page = tmp_path / "out" / "newsmirror-2026-11-30.html"
    html = page.read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 2 and "127.0.0.1" not in html
    browser.get(page.as_uri())
    titles = [e.text for e in browser.find_elements("css selector", "article h1")]
    assert titles == ["第一篇：法院开审", "第二篇：气候谈判"]
    loaded = browser.execute_script(
        "return [...document.images].map(i => i.complete && i.naturalWidth > 0)"
    )
    assert loaded == [True, True]
    fetched = browser.execute_script("return performance.getEntriesByType('resource').length")
    assert fetched == 0


def test_a_bundle_over_its_size_is_cut_by_source_then_day() -> None:
    from newsmirror.bundle import Item as BundleItem
    from newsmirror.bundle import Picture, split

    def item(source: str, day: int, pic: str) -> BundleItem:
        ms = 1_795_000_000_000 + day * 86_400_000
        body = f'<img src="{pic}">'
        return BundleItem(source, source, "标题", ms, "https://x.example/", body, "p.md")

    # Three different pictures of 3,000 bytes each.
    pictures: dict[str, Picture | None] = {
        f"/{n}.png": Picture(bytes([i]) * 3000, "image/png") for i, n in enumerate("abc")
    }
    items = [item("s1", 0, "/a.png"), item("s1", 1, "/b.png"), item("s2", 0, "/c.png")]
    assert [(s, len(p)) for s, p in split(items, pictures, "epub", 100_000)] == [("", 3)]
    parts = split(items, pictures, "epub", 5_000)
    names = [s for s, _p in parts]
    assert len(parts) == 3 and all(len(p) == 1 for _s, p in parts)
    assert names[2] == "-s2" and names[0].startswith("-s1-2026-") and names[0] != names[1]
    # A day of one source is not cut, whatever its size.
    assert len(split(items[:1], pictures, "epub", 10)) == 1


def test_sizes_are_read_as_people_write_them() -> None:
    from newsmirror.bundle import BundleError, parse_size

    assert parse_size("50MB") == 50_000_000 and parse_size("800kb") == 800_000
    assert parse_size("1G") == 10**9 and parse_size("1234") == 1234
    for bad in ("lots", "-5MB", "0", "MB"):
        with pytest.raises(BundleError):
            parse_size(bad)


def test_the_site_keeps_the_latest_bundles(tmp_path: Path, server: FakeServer) -> None:
    from datetime import datetime

    from newsmirror.config import load
    from newsmirror.publish.site import SiteBuilder
    from newsmirror.render.html import READER_TZ
    from newsmirror.store.catalog import Catalog

    cfg = _archive(tmp_path, server)
    with cfg.open("a", encoding="utf-8") as f:
        f.write('\n[site]\npath = "public"\npagefind = false\n')
        f.write('\n[bundles]\nperiods = ["day", "week"]\nformats = ["epub", "html"]\n')
    settings = load(cfg)

    def build(day: str) -> tuple[int, set[str]]:
        now = datetime.strptime(day, "%Y-%m-%d").replace(hour=9, tzinfo=READER_TZ)
        catalog = Catalog(settings.catalog)
        try:
            builder = SiteBuilder(settings, catalog, now_ms=int(now.timestamp() * 1000))
            report = builder.build()
        finally:
            catalog.close()
        assert not report.errors
        bundles = {p.name for p in (tmp_path / "public" / "bundles").glob("*")}
        return report.written, bundles

    _written, bundles = build("2026-12-01")  # yesterday: 11-30; last week: 11-23 to 11-29
    assert bundles == {
        "newsmirror-day-2026-11-30.epub",
        "newsmirror-day-2026-11-30.html",
        "newsmirror-week-2026-11-23_2026-11-29.epub",
        "newsmirror-week-2026-11-23_2026-11-29.html",
    }
    home = (tmp_path / "public" / "index.html").read_text(encoding="utf-8")
    assert 'href="bundles/newsmirror-day-2026-11-30.epub"' in home and "昨日（2026-11-30）" in home
    feeds_page = (tmp_path / "public" / "feeds" / "index.html").read_text(encoding="utf-8")
    assert "bundles/newsmirror-week-2026-11-23_2026-11-29.html" in feeds_page
    assert build("2026-12-01")[0] == 0  # nothing changed: nothing is made again
    # A day later, yesterday is another day (with no articles): the old day's bundles go.
    _written, bundles = build("2026-12-02")
    assert not any(b.startswith("newsmirror-day-2026-11-30") for b in bundles)


def test_the_archive_keeps_the_latest_bundles_when_asked(
    tmp_path: Path, server: FakeServer
) -> None:
    from datetime import datetime

    from newsmirror.config import load
    from newsmirror.pipeline import Updater
    from newsmirror.render.html import READER_TZ

    from .conftest import git

    cfg = _archive(tmp_path, server)
    text = cfg.read_text(encoding="utf-8").replace("enabled = false", "enabled = true", 1)
    cfg.write_text(text + '\n[bundles]\nperiods = ["day"]\nformats = ["epub"]\narchive = true\n')
    settings = load(cfg)
    site = tmp_path / "site"

    def update(day: str) -> set[str]:
        now = datetime.strptime(day, "%Y-%m-%d").replace(hour=9, tzinfo=READER_TZ)
        assert not Updater(settings, clock=lambda: int(now.timestamp() * 1000)).run().failed
        return (
            {p.name for p in (site / "bundles").glob("*")} if (site / "bundles").exists() else set()
        )

    assert update("2026-12-01") == {"newsmirror-day-2026-11-30.epub"}
    book = site / "bundles" / "newsmirror-day-2026-11-30.epub"
    with zipfile.ZipFile(book) as z:
        text = "".join(z.read(n).decode() for n in z.namelist() if n.endswith(".xhtml"))
    assert "第一篇：法院开审" in text and "第二篇：气候谈判" in text
    readme = (site / "README.md").read_text(encoding="utf-8")
    assert "(bundles/newsmirror-day-2026-11-30.epub)" in readme
    assert "bundles/newsmirror-day-2026-11-30.epub" in git(site, "ls-files")
    made = book.stat().st_mtime_ns
    assert update("2026-12-01") == {"newsmirror-day-2026-11-30.epub"}
    assert book.stat().st_mtime_ns == made  # nothing changed: not made again
    assert update("2026-12-02") == set()  # yesterday has no articles: the old day's goes
    assert "bundles/" not in git(site, "ls-files")
    assert "Offline bundles" not in (site / "README.md").read_text(encoding="utf-8")
