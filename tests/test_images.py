"""Image proxy templates applied when articles are stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsmirror.config import load
from newsmirror.errors import ConfigError
from newsmirror.store.db import unpack
from newsmirror.transform.images import proxy_url, rewrite_images, unproxy
from newsmirror.transform.sanitize import sanitize

from . import feeds
from .conftest import catalog_db, git, write_config
from .fakeserver import FakeServer
from .test_cli import nm

# Every test here runs on both catalog engines (conftest.catalog_backend).
pytestmark = pytest.mark.usefixtures("catalog_backend")

WESERV = "https://images.weserv.nl/?url={url_noscheme}"
MINE = "https://img.example.net/p?src={url}&w=800"


def test_plain_urls_look_like_the_existing_mirrors() -> None:
    assert proxy_url("https://static.dw.com/image/62527817_303.jpg", WESERV) == (
        "https://images.weserv.nl/?url=static.dw.com/image/62527817_303.jpg"
    )


def test_query_strings_are_escaped_for_the_proxy() -> None:
    url = "https://cdn.example.org/img.php?id=7&size=l#x"
    assert proxy_url(url, WESERV) == (
        "https://images.weserv.nl/?url=cdn.example.org/img.php?id=7%26size=l%23x"
    )
    assert proxy_url("http://a.example/中 文.jpg", MINE) == (
        "https://img.example.net/p?src=http://a.example/%E4%B8%AD%20%E6%96%87.jpg&w=800"
    )


def test_rewrite_src_and_srcset_and_leave_proxied_alone() -> None:
    body = sanitize(
        '<p><img src="https://a.example/1.jpg?x=1&amp;y=2" width="100%">'
        '<img src="https://images.weserv.nl/?url=a.example/2.jpg">'
        '<picture><source srcset="https://a.example/3.webp 1x, https://a.example/4.webp 2x">'
        '</picture><a href="https://a.example/5.jpg">link stays</a></p>',
        "https://a.example/article",
    )
    out = rewrite_images(body, [WESERV, MINE])
    assert '<img src="https://images.weserv.nl/?url=a.example/1.jpg?x=1%26y=2" width="100%">' in out
    assert out.count("images.weserv.nl") == 4  # images 1, 2 (untouched), 3, 4; not the link
    assert '<img src="https://images.weserv.nl/?url=a.example/2.jpg">' in out
    assert (
        'srcset="https://images.weserv.nl/?url=a.example/3.webp 1x, '
        'https://images.weserv.nl/?url=a.example/4.webp 2x"'
    ) in out
    assert '<a href="https://a.example/5.jpg">' in out
    assert rewrite_images(out, [WESERV]) == out  # idempotent
    assert rewrite_images(body, []) == body


def test_modes_globally_and_per_source(tmp_path: Path, server: FakeServer, run_update) -> None:
    its = feeds.items(1)
    its[0].body = '<p>x</p><img src="https://pics.example/a.jpg">'
    server.routes["/a.xml"] = feeds.rss(its)
    server.routes["/b.xml"] = feeds.rss(its)
    cfg = write_config(
        tmp_path / "newsmirror.toml",
        [
            {"id": "a", "name": "A", "url": server.url("/a.xml")},
            {"id": "b", "name": "B", "url": server.url("/b.xml"), "images": "original"},
        ],
    )
    cfg.write_text(cfg.read_text() + f'\n[images]\nmode = "proxy"\nproxies = ["{MINE}"]\n')
    run_update(cfg)
    (a,) = (tmp_path / "site/articles/a").rglob("*.md")
    (b,) = (tmp_path / "site/articles/b").rglob("*.md")
    assert (
        '<img src="https://img.example.net/p?src=https://pics.example/a.jpg&amp;w=800">'
        in a.read_text()
    )
    assert '<img src="https://pics.example/a.jpg">' in b.read_text()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[images]\nproxies = ["https://p.example/"]', "images.proxies[0]: 'https://p.example/'"),
        ('[images]\nmode = "copy-ish"', "images.mode: must be one of"),
        ("[images]\nproxies = []", "images.proxies: is empty"),
    ],
)
def test_image_config_errors(tmp_path: Path, table: str, message: str) -> None:
    cfg = write_config(
        tmp_path / "newsmirror.toml", [{"id": "x", "name": "X", "url": "https://x.example/f"}]
    )
    cfg.write_text(cfg.read_text() + "\n" + table + "\n")
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load(cfg)


def test_revisions_keep_the_image_urls_as_given(
    tmp_path: Path, server: FakeServer, run_update
) -> None:

    its = feeds.items(1)
    its[0].body = '<img src="https://pics.example/a.jpg">'
    server.routes["/a.xml"] = feeds.rss(its)
    run_update(
        write_config(
            tmp_path / "newsmirror.toml", [{"id": "a", "name": "A", "url": server.url("/a.xml")}]
        )
    )
    (f,) = (tmp_path / "site/articles/a").rglob("*.md")
    assert "images.weserv.nl/?url=pics.example/a.jpg" in f.read_text()  # the file: proxied
    db = catalog_db(tmp_path / "site")
    (body,) = db.execute("SELECT body FROM revisions").fetchone()
    assert unpack(body) == '<img src="https://pics.example/a.jpg">'  # the catalog: as given


def test_fallback_proxied_images_move_to_the_first_proxy() -> None:
    body = (
        '<img src="https://img.example.net/p?src=https://a.example/1.jpg%3Fx%3D1&amp;w=800">'
        '<img src="https://wsrv.nl/?url=a.example/2.jpg">'
        '<img src="https://images.weserv.nl/?url=a.example/3.jpg">'
    )
    out = rewrite_images(body, [WESERV, MINE])
    assert out.count('src="https://images.weserv.nl/?url=a.example/') == 3
    assert "a.example/1.jpg?x=1" in out
    assert unproxy("https://wsrv.nl/?url=a.example/2.jpg") == "https://a.example/2.jpg"
    assert unproxy("https://a.example/2.jpg") is None


def test_rewrite_images_without_refetching(tmp_path: Path, server: FakeServer, run_update) -> None:
    its = feeds.items(3)
    for it in its:
        it.body = f'<p>{it.title}</p><img src="https://static.example/{it.title[-1]}.jpg">'
    server.routes["/a.xml"] = feeds.rss(its)
    cfg = write_config(
        tmp_path / "newsmirror.toml", [{"id": "a", "url": server.url("/a.xml")}], git=True
    )
    run_update(cfg)
    root = tmp_path / "site"
    files = sorted((root / "articles").rglob("*.md"))
    assert all("images.weserv.nl" in f.read_text() for f in files)

    # The proxy got blocked: put another first, and rewrite with the feed gone.
    del server.routes["/a.xml"]
    hits = len(server.requests)
    cfg.write_text(cfg.read_text() + f'\n[images]\nproxies = ["{MINE}", "{WESERV}"]\n')
    r = nm(tmp_path, "--config", str(cfg), "rewrite-images")
    assert r.returncode == 0, r.stderr
    assert "3 articles rewritten" in r.stdout
    assert len(server.requests) == hits  # nothing fetched
    for f in files:
        text = f.read_text()
        assert "images.weserv.nl" not in text
        assert 'src="https://img.example.net/p?src=https://static.example/' in text
    assert "Rewrite images and links: 3 articles" in git(root, "log", "-1", "--format=%s")
    again = nm(tmp_path, "--config", str(cfg), "rewrite-images")
    assert "0 articles rewritten" in again.stdout


def test_rewrite_images_needs_an_archive(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path / "newsmirror.toml", [{"id": "x", "name": "X", "url": "https://x.example/f"}]
    )
    r = nm(tmp_path, "--config", str(cfg), "rewrite-images")
    assert r.returncode == 1 and "no catalog yet" in r.stderr
