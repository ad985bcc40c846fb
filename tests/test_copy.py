"""Copy mode: images downloaded once into assets/, limits, retries, relative references."""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

import pytest

from newsmirror.assets import asset_path, sniff
from newsmirror.store.catalog import Catalog

from . import feeds
from .conftest import Clock, archive_catalog, write_config
from .fakeserver import Answer, FakeServer
from .test_cli import nm

# Every test here runs on both catalog engines (conftest.catalog_backend).
pytestmark = pytest.mark.usefixtures("catalog_backend")

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 2
GIF = b"GIF89a" + b"\x01" * 300
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>'


def image(data: bytes, kind: str) -> object:
    return lambda _req: Answer(200, data, {"Content-Type": kind})


def copy_config(tmp_path: Path, server: FakeServer, extra: str = "") -> Path:
    cfg = write_config(tmp_path / "newsmirror.toml", [{"id": "s", "url": server.url("/f.xml")}])
    cfg.write_text(cfg.read_text() + f'\n[images]\nmode = "copy"\nmax_bytes = 2048\n{extra}')
    return cfg


def img_srcs(path: Path) -> list[str]:
    return re.findall(r'<img src="([^"]*)"', path.read_text())


def resolve(article: Path, src: str) -> Path:
    return Path(posixpath.normpath(str(article.parent / src)))


def test_sniff_reads_the_bytes_not_the_claim() -> None:
    assert sniff(PNG) == "png"
    assert sniff(GIF) == "gif"
    assert sniff(b"\xff\xd8\xff\xe0rest") == "jpeg"
    assert sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "webp"
    assert sniff(b"\x00\x00\x00\x1cftypavif") == "avif"
    assert sniff(SVG) is None
    assert sniff(b"<html>") is None
    assert asset_path(PNG, "png").startswith("assets/")
    assert asset_path(PNG, "png") == asset_path(PNG, "png") != asset_path(GIF, "gif")


def test_copies_dedupe_refuse_and_retry(
    tmp_path: Path, server: FakeServer, run_update, clock: Clock
) -> None:
    base = server.url("/img")
    its = feeds.items(2)
    its[0].body = (
        f'<p>一</p><img src="{base}/a.png"><img src="{base}/same-bytes.png">'
        f'<img src="{base}/huge.png"><img src="{base}/later.png"><img src="{base}/x.svg">'
        f'<img src="https://images.weserv.nl/?url={base}/g.gif">'
    )
    its[1].body = f'<p>二</p><img src="{base}/a.png" srcset="{base}/a2.png 2x">'
    server.routes["/f.xml"] = feeds.rss(its)
    server.routes["/img/a.png"] = image(PNG, "image/png")
    server.routes["/img/same-bytes.png"] = image(PNG, "application/octet-stream")
    server.routes["/img/huge.png"] = image(PNG * 10, "image/png")
    server.routes["/img/x.svg"] = image(SVG, "image/svg+xml")
    server.routes["/img/g.gif"] = image(GIF, "image/gif")
    # /img/later.png: 404 for now
    cfg = copy_config(tmp_path, server)
    report = run_update(cfg)
    assert not report.failed

    root = tmp_path / "site"
    assets = sorted(p.relative_to(root).as_posix() for p in (root / "assets").rglob("*.*"))
    assert assets == sorted([asset_path(PNG, "png"), asset_path(GIF, "gif")])  # PNG once
    assert len(server.hits("/img/a.png")) == 1  # two articles, one download

    files = sorted((root / "articles/s").rglob("*.md"), key=lambda p: "<p>二" in p.read_text())
    first, second = files
    a, same, huge, later, svg, gif = img_srcs(first)
    assert a == same == posixpath.relpath(asset_path(PNG, "png"), first.parent.relative_to(root))
    assert resolve(first, a).read_bytes() == PNG
    assert resolve(first, gif).read_bytes() == GIF  # a proxied image is copied from its origin
    proxied = "https://images.weserv.nl/?url=" + base.removeprefix("http://")
    assert huge == f"{proxied}/huge.png"  # over max_bytes: stays on the proxy
    assert later == f"{proxied}/later.png"  # 404: proxy for now
    assert svg == f"{proxied}/x.svg"  # not an image type we keep
    # The copied image loses its remote srcset (a browser would prefer it and never fall back).
    assert "srcset" not in second.read_text()
    assert resolve(second, img_srcs(second)[0]).read_bytes() == PNG

    with _open(root) as c:
        failures = {u.rsplit("/", 1)[1]: (err, n) for u, err, n in c.asset_failures()}
    assert set(failures) == {"huge.png", "later.png", "x.svg"}
    assert "2048-byte limit" in failures["huge.png"][0]
    assert "HTTP 404" in failures["later.png"][0]
    assert "not an image" in failures["x.svg"][0]
    shown = nm(tmp_path, "--config", str(cfg), "status").stdout
    assert "3 image(s) without a copy" in shown and "huge.png (1×)" in shown

    # The 404 image appears; the feed is unchanged (304).  Too early: nothing is retried.
    server.routes["/img/later.png"] = image(GIF[:-1] + b"\x02", "image/gif")
    clock.ms += 60_000
    run_update(cfg)
    assert len(server.hits("/img/later.png")) == 1
    # After the back-off, the retry succeeds and the article is rendered again.
    clock.ms += 2 * 3600_000
    report = run_update(cfg)
    assert len(server.hits("/img/later.png")) == 2
    assert report.rerendered == 1
    srcs = img_srcs(first)
    assert resolve(first, srcs[3]).read_bytes() == GIF[:-1] + b"\x02"
    assert srcs[2] == f"{proxied}/huge.png"
    assert len(server.hits("/img/huge.png")) == 1  # refused for good, never asked again
    assert len(server.hits("/img/x.svg")) == 1


class _open:
    def __init__(self, root: Path) -> None:
        self.c = archive_catalog(root)

    def __enter__(self) -> Catalog:
        return self.c

    def __exit__(self, *exc: object) -> None:
        self.c.close()


def test_downloads_obey_limits_and_guard(tmp_path: Path, server: FakeServer, run_update) -> None:
    """Images are fetched like everything else: redirects are followed hop by hop, and a
    stream without Content-Length is cut at the image size cap and refused for good."""
    base = server.url("/img")
    its = feeds.items(1)
    its[0].body = f'<img src="{base}/moved.png"><img src="{base}/endless.png">'
    server.routes["/f.xml"] = feeds.rss(its)
    server.routes["/img/moved.png"] = lambda _r: Answer(302, b"", {"Location": f"{base}/real.png"})
    server.routes["/img/real.png"] = image(PNG, "image/png")
    server.routes["/img/endless.png"] = lambda _r: Answer(
        200, headers={"Content-Type": "image/png"}, stream=[PNG] * 50
    )
    run_update(copy_config(tmp_path, server))
    (article,) = (tmp_path / "site/articles/s").rglob("*.md")
    moved, endless = img_srcs(article)
    assert resolve(article, moved).read_bytes() == PNG
    assert endless.startswith("https://images.weserv.nl/")
    with _open(tmp_path / "site") as c:
        ((url, error, attempts),) = c.asset_failures()
    assert url.endswith("/endless.png") and "after decompression" in error and attempts == 1


def test_workers_copies_wait_in_the_catalog_for_the_publisher(
    tmp_path: Path, server: FakeServer
) -> None:
    """A worker's fetch copies its articles' images without an archive: the bytes wait in
    the catalog with the image's record, the publisher writes them, and a failed copy's
    later try is a job of its own.  Step for step, the archive is the one ``update``
    leaves."""
    import asyncio

    from newsmirror.config import load
    from newsmirror.pipeline import Updater

    from .test_queue import _files

    base = server.url("/img")
    its = feeds.items(2)
    its[0].body = f'<p>一</p><img src="{base}/a.png"><img src="{base}/later.png">'
    its[1].body = f'<p>二</p><img src="{base}/a.png">'
    server.routes["/f.xml"] = feeds.rss(its)
    server.routes["/img/a.png"] = image(PNG, "image/png")
    later = image(GIF, "image/gif")  # /img/later.png: 404 at first
    cfgs = {}
    for side in ("update", "jobs"):
        (tmp_path / side).mkdir()
        cfgs[side] = load(copy_config(tmp_path / side, server))
    clock = Clock()
    assert not Updater(cfgs["update"], clock=clock).run().failed

    jobs = cfgs["jobs"]
    Updater(jobs, clock=clock).publish()
    assert Updater(jobs, clock=clock).fetch_source("s").new == 2
    root = tmp_path / "jobs" / "site"
    assert not (root / "assets").exists() and not (root / "articles").exists()
    with _open(root) as c:
        assert [p for p, _d in c.asset_data(10)] == [asset_path(PNG, "png")]
    Updater(jobs, clock=clock).publish()
    with _open(root) as c:
        assert c.asset_data(10) == []  # written, so gone from the catalog
    assert _files(root) == _files(tmp_path / "update" / "site")

    server.routes["/img/later.png"] = later
    clock.ms += 2 * 3600_000 + 1
    assert Updater(cfgs["update"], clock=clock).run().rerendered == 1
    assert Updater(jobs, clock=clock).fetch_source("s").new == 0
    before = _files(root)
    assert asyncio.run(Updater(jobs, clock=clock).retry_images_with(None)) == 1
    assert _files(root) == before  # the copy waits for the publisher
    assert Updater(jobs, clock=clock).publish().rerendered == 1
    assert _files(root) == _files(tmp_path / "update" / "site")
    assert (root / asset_path(GIF, "gif")).read_bytes() == GIF
    assert len(server.hits("/img/a.png")) == 2  # once for each archive
