"""Rotation: old articles move to per-period repositories, nothing is lost, every link
(lists, README, bodies, pictures) still leads to a file, and a killed rotation run again
gives the same repositories."""

from __future__ import annotations

import posixpath
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from urllib.parse import unquote

import pytest

from newsmirror.config import load
from newsmirror.errors import ConfigError
from newsmirror.pipeline import Updater
from newsmirror.rotate import cutoff_ms, period_of
from newsmirror.store.catalog import Catalog

from . import feeds
from .conftest import Clock, copy_catalog, git, lose_catalog, snapshot, write_config
from .fakeserver import Answer, FakeServer
from .test_cli import nm

DAY = 86_400_000
NOW = 1_796_300_000_000  # 2026-12-03
FRONT_URL = "https://example.org/news/blob/main/"
PERIOD_URL = "https://example.org/news-{period}/blob/main/"


def png(n: int) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + n.to_bytes(4, "big") + bytes(range(256))


def three_years(server: FakeServer, sources: int, per_source: int, now: int = NOW) -> None:
    """Feeds whose items span the last three years; bodies link to each other and show
    pictures (one shared by every article of a source, one of their own)."""
    step = 3 * 365 * DAY // per_source
    for s in range(sources):
        its = []
        for i in range(per_source):
            link = f"https://s{s}.example/n/{i}"
            body = f"<p>源{s} 第 {i} 条。</p>"
            if i:
                body += f'<p><a href="https://s{s}.example/n/{i - 1}">前一条</a></p>'
            if i % 3 == 0:
                body += f'<img src="{server.url(f"/img/{s}-{i}.png")}">'
                server.routes[f"/img/{s}-{i}.png"] = _image(png(s * 10_000 + i))
            body += f'<img src="{server.url(f"/img/shared-{s}.png")}">'
            date = feeds.dt(now - DAY - (per_source - 1 - i) * step)
            its.append(feeds.Item(f"源{s} 新闻 {i}", link, body, date))
        server.routes[f"/img/shared-{s}.png"] = _image(png(9_000_000 + s))
        server.routes[f"/f{s}.xml"] = feeds.rss(list(reversed(its)))


def _image(data: bytes) -> object:
    return lambda _req: Answer(200, data, {"Content-Type": "image/png"})


def config(root: Path, server: FakeServer, n: int, *, layout: str = "dated") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    cfg = write_config(
        root / "newsmirror.toml",
        [{"id": f"s{i}", "name": f"源{i}", "url": server.url(f"/f{i}.xml")} for i in range(n)],
        layout=layout,
        git=True,
        remotes=("origin",),
        archive={"list_size": 1000},
    )
    remote = (root / "remotes" / "news-{period}.git").as_posix()
    cfg.write_text(
        cfg.read_text()
        + '\n[images]\nmode = "copy"\n'
        + f'\n[rotate]\nenabled = true\nkeep_months = 6\nurl = "{PERIOD_URL}"\n'
        + f'front_url = "{FRONT_URL}"\nremote = "{remote}"\n'
    )
    bare(root / "remotes" / "news.git")
    git(root, "init", "-q", "site")
    git(root / "site", "remote", "add", "origin", str(root / "remotes" / "news.git"))
    return cfg


def bare(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True)


def repos(root: Path) -> dict[str | None, Path]:
    """The archive (None) and each period repository beside it."""
    out: dict[str | None, Path] = {None: root / "site"}
    for p in sorted(root.glob("site-*")):
        out[p.name.removeprefix("site-")] = p
    return out


_LINK = re.compile(r'\]\(([^)\s]+)\)|(?:href|src)="([^"]+)"')


def check_links(root: Path) -> int:
    """Every link of every Markdown file leads to an existing file; returns how many."""
    homes = repos(root)
    bases = {FRONT_URL: homes[None]}
    bases |= {PERIOD_URL.replace("{period}", p): f for p, f in homes.items() if p}
    count = 0
    for folder in homes.values():
        for f in folder.rglob("*.md"):
            if {".git", ".newsmirror"} & set(f.relative_to(folder).parts):
                continue
            for m in _LINK.finditer(f.read_text(encoding="utf-8")):
                link = unquote(m.group(1) or m.group(2))
                if link.startswith("http"):
                    base = next((b for b in bases if link.startswith(b)), None)
                    if base is None:
                        assert link.startswith("https://s"), (f, link)  # the outlet's own
                        continue
                    target = bases[base] / link[len(base) :]
                elif link.startswith("/"):
                    target = folder / link[1:]
                else:
                    target = Path(posixpath.normpath(str(f.parent / link)))
                assert target.is_file(), f"{f}: {link} leads nowhere"
                count += 1
    return count


def articles_in(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in (folder / "articles").rglob("*.md")}


def test_periods_and_cutoff_are_whole_months() -> None:
    assert cutoff_ms(NOW, 6) == 1_780_272_000_000  # 2026-06-01T00:00Z
    assert cutoff_ms(1_767_225_600_000, 1) == 1_764_547_200_000  # 2026-01-01 -> 2025-12-01
    assert period_of(1_780_271_999_999, "year") == "2026"
    assert period_of(1_780_271_999_999, "month") == "2026-05"


def test_rotation_moves_old_articles_and_every_link_still_leads_somewhere(
    tmp_path: Path, server: FakeServer
) -> None:
    three_years(server, sources=2, per_source=40)
    cfg = config(tmp_path, server, 2)
    clock = Clock(NOW)
    settings = load(cfg)
    assert not Updater(settings, clock=clock).run().failed
    site = tmp_path / "site"
    before = articles_in(site)
    assert len(before) == 80
    pictures_before = {p.name for p in (site / "assets").rglob("*.png")}
    # An old article edited before the rotation: its diff page must follow it.
    feed1 = server.routes["/f1.xml"]
    assert isinstance(feed1, bytes)
    server.routes["/f1.xml"] = feed1.replace(
        "源1 第 3 条。".encode(), "源1 第 3 条（改）。".encode()
    )
    clock.ms += 60_000
    assert Updater(settings, clock=clock, force=True).run().updated == 1
    diff_pages = list((site / "changes" / "diffs").glob("*.md"))
    assert len(diff_pages) == 1 and "](../../articles/" in diff_pages[0].read_text()
    for p in ("2023", "2024", "2025", "2026"):
        bare(tmp_path / "remotes" / f"news-{p}.git")

    report = Updater(settings, clock=clock).rotate()
    assert not report.errors, report.errors
    homes = repos(tmp_path)
    assert set(homes) == {None, "2023", "2024", "2025", "2026"}

    # Every article is in exactly one repository: recent ones here, old ones by period.
    cut = cutoff_ms(NOW, 6)
    catalog = Catalog(settings.catalog)
    rows = catalog.db.execute("SELECT path, date_ms, home FROM articles").fetchall()
    catalog.close()
    placed: dict[str | None, set[str]] = {h: set() for h in homes}
    for path, date_ms, home in rows:
        assert home == (None if date_ms >= cut else period_of(date_ms, "year")), path
        placed[home].add(path)
    for home, folder in homes.items():
        assert articles_in(folder) == placed[home], home
    assert sum(len(v) for v in placed.values()) == 80
    assert 0 < len(placed[None]) < 20

    # Links: lists, READMEs and bodies, across repositories, all lead to files.
    assert check_links(tmp_path) > 300
    assert "](https://example.org/news-2024/blob/main/articles/" in diff_pages[0].read_text()
    readme = (site / "README.md").read_text()
    assert "## 更早的文章 · Older articles" in readme
    assert "https://example.org/news-2024/blob/main/README.md" in readme
    old = sorted(placed["2025"])[0]
    listed = re.findall(r"^\d+-\d+ \[", (homes["2025"] / "lists/源0.md").read_text(), re.M)
    assert len(listed) == len([p for p in placed["2025"] if "/s0/" in p])
    assert f"(https://example.org/news-2025/blob/main/{old})" in (
        (site / "lists/源0.md").read_text() + (site / "lists/源1.md").read_text()
    )
    # A recent article linking to the one before it, which moved: an absolute link now.
    newest = max(placed[None], key=lambda p: (site / p).read_text().split("\n")[0])
    assert "https://example.org/news-" in (site / newest).read_text() or any(
        "https://example.org/news-" in (site / p).read_text() for p in placed[None]
    )

    # Pictures travel with their articles; the archive keeps only the ones it shows.
    pictures = {h: {p.name for p in (f / "assets").rglob("*.png")} for h, f in homes.items()}
    assert set().union(*pictures.values()) == pictures_before
    assert len(pictures[None]) < len(pictures_before)
    for h in ("2024", "2025"):
        assert pictures[h] & pictures[None]  # the shared picture is in both

    # Git: the period repositories are pushed; the archive's branch starts again, so a
    # fresh clone holds none of the moved files, even in its history.
    for p in ("2024", "2025"):
        assert git(tmp_path / "remotes" / f"news-{p}.git", "for-each-ref", "refs/heads").strip()
    assert git(site, "rev-list", "--count", "HEAD").strip() == "1"
    assert git(site, "for-each-ref", "refs/rotated/").strip()
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--no-local", str(tmp_path / "remotes" / "news.git"), "clone")
    history = git(clone, "log", "--all", "--name-only", "--format=")
    assert not any(p in history for p in placed["2024"])
    assert articles_in(clone) == placed[None]
    for folder in homes.values():
        assert git(folder, "status", "--porcelain") == ""

    # The site and the bundles find the moved files where they are now, and the site
    # links to its own pages and pictures, never to the git host.
    from newsmirror.publish.site import SiteBuilder

    catalog = Catalog(settings.catalog)
    try:
        SiteBuilder(settings, catalog, pagefind=False).build()
    finally:
        catalog.close()
    pages = tmp_path / "public"
    old_page = pages / old.replace(".md", ".html")
    assert "example.org/news" not in old_page.read_text(encoding="utf-8")
    for page in pages.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        for ref in re.findall(r'(?:src|href)="([^":#?]+)"', html):
            assert (page.parent / ref).resolve().is_file(), (page, ref)
    month = old.split("/")[2][:7]
    r = nm(tmp_path, "bundle", "--period", "month", "--date", month + "-01", "--format", "html")
    assert r.returncode == 0, r.stderr
    bundled = next((tmp_path).glob(f"newsmirror-{month}*.html")).read_text(encoding="utf-8")
    in_month = [p for p in placed["2025"] if p.split("/")[2].startswith(month)]
    assert bundled.count("<article") == len(in_month) > 0
    assert "127.0.0.1" not in bundled and "data:image/png;base64," in bundled
    # The month's site as a zip for a USB stick: every page and picture it links to is in.
    r = nm(tmp_path, "bundle", "-p", "month", "-d", month + "-01", "-f", "zip", "-o", "usb")
    assert r.returncode == 0, r.stderr
    with zipfile.ZipFile(next((tmp_path / "usb").glob("*.zip"))) as z:
        z.extractall(tmp_path / "usb")
    top = next(p for p in (tmp_path / "usb").iterdir() if p.is_dir())
    shown = list((top / "articles").rglob("*.html"))
    assert len(shown) == len(in_month)
    for page in [top / "index.html", *shown]:
        for ref in re.findall(r'(?:src|href)="([^":#]+)"', page.read_text(encoding="utf-8")):
            if not ref.endswith(("changes.html", "search.html")):
                assert (page.parent / ref).resolve().is_file(), (page, ref)
    assert len(list((top / "assets").rglob("*.png"))) >= len(in_month) // 3

    status = nm(tmp_path, "status").stdout
    assert f"moved to period repositories: 2023 {len(placed['2023'])}" in status
    assert f"size: {len(placed[None])} article files" in status

    # Again: nothing to do, nothing committed.
    heads = {h: git(f, "rev-parse", "HEAD") for h, f in homes.items()}
    again = Updater(settings, clock=clock).rotate()
    assert not again.placed and not again.settled and not again.errors
    assert {h: git(f, "rev-parse", "HEAD") for h, f in homes.items()} == heads
    # A run killed after moving articles but before their pictures left a picture here:
    # the next rotation takes it away (it is safe in its period repository).
    moved = next(
        p for p in (homes["2024"] / "assets").rglob("*.png") if p.name not in pictures[None]
    )
    left = site / moved.relative_to(homes["2024"])
    left.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(moved, left)
    assert Updater(settings, clock=clock).rotate().removed == 1
    assert not left.exists()

    # An ordinary pass that brings an edit of a moved article writes it in its period.
    three_years(server, sources=2, per_source=40)
    text = server.routes["/f0.xml"]
    assert isinstance(text, bytes)
    edit = ("源0 第 5 条。".encode(), "源0 第 5 条（更正）。".encode())
    server.routes["/f0.xml"] = text.replace(*edit)
    clock.ms += 3_600_000
    assert not Updater(settings, clock=clock, force=True).run().failed
    edited = [p for p in articles_in(homes["2024"]) if "更正" in (homes["2024"] / p).read_text()]
    edited += [p for p in articles_in(homes["2023"]) if "更正" in (homes["2023"] / p).read_text()]
    assert len(edited) == 1
    assert edited[0] not in articles_in(site)
    assert check_links(tmp_path) > 300

    # A new article showing a picture whose copy left with the old articles: fetched again.
    gone = png(1 * 10_000 + 0)
    assert not any(p.read_bytes() == gone for p in (site / "assets").rglob("*.png"))
    fresh = feeds.Item("源1 新的", "https://s1.example/n/new", "", feeds.dt(NOW))
    fresh.body = f'<p>新</p><img src="{server.url("/img/1-0.png")}">'
    server.routes["/f1.xml"] = feeds.rss([fresh])
    clock.ms += 3_600_000
    assert not Updater(settings, clock=clock, force=True).run().failed
    assert any(p.read_bytes() == gone for p in (site / "assets").rglob("*.png"))
    assert check_links(tmp_path) > 300

    # Rendering everything again (other link settings) rewrites moved articles where
    # they are now, never back into the archive.
    cfg.write_text(cfg.read_text() + '\n[links]\nmode = "as-published"\n')
    report = Updater(load(cfg), clock=clock).rewrite()
    assert report.rerendered > 40
    assert not articles_in(site) & (placed["2024"] | placed["2025"])
    assert "前一条" in (homes["2024"] / sorted(placed["2024"])[-1]).read_text()
    assert 'href="https://s' in (homes["2024"] / sorted(placed["2024"])[-1]).read_text()
    for folder in homes.values():
        assert git(folder, "status", "--porcelain") == ""
    for folder in homes.values():
        assert git(folder, "status", "--porcelain") == ""


def test_rotation_config_names_what_is_missing(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "newsmirror.toml", [{"id": "s", "url": "https://a.example/"}])
    cfg.write_text(
        cfg.read_text() + '\n[rotate]\nenabled = true\nfront_url = "https://x.example/"\n'
    )
    with pytest.raises(ConfigError, match=r"rotate\.url: is required"):
        load(cfg)
    cfg.write_text(
        cfg.read_text().replace("enabled = true", 'enabled = true\nurl = "https://x.example/a"')
    )
    with pytest.raises(ConfigError, match=r"rotate\.url: must contain \{period\}"):
        load(cfg)


def _tree(root: Path) -> dict[str, dict[str, bytes]]:
    """Each repository's files (the README's update times blanked) and HEAD tree."""
    out = {}
    for home, folder in repos(root).items():
        files = {k: v[0] for k, v in snapshot(folder).items()}
        if "README.md" in files:
            files["README.md"] = re.sub(rb"\d{4}-\d\d-\d\d \d\d:\d\d UTC", b"T", files["README.md"])
        files["<tree>"] = git(folder, "rev-parse", "HEAD^{tree}").encode()
        files["<commits>"] = git(folder, "rev-list", "--count", "HEAD").encode()
        out[str(home)] = files
    return out


def _rotate(root: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "newsmirror", "rotate"],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_killed_rotations_converge_to_the_uninterrupted_repositories(
    tmp_path: Path, server: FakeServer
) -> None:
    """On an archive in the existing mirrors' layout, adopted from its files."""
    three_years(server, sources=3, per_source=150, now=int(time.time() * 1000))
    reference = tmp_path / "reference"
    cfg = config(reference, server, 3, layout="duty-machine")
    assert nm(reference, "update", timeout=300).returncode == 0
    # The catalog is lost (a fresh clone): the next pass adopts the files.
    lose_catalog(reference / "site")
    assert nm(reference, "update", timeout=300).returncode == 0
    year = time.gmtime().tm_year
    for y in range(year - 3, year + 1):
        bare(reference / "remotes" / f"news-{y}.git")
    killed = tmp_path / "killed"
    shutil.copytree(reference, killed, symlinks=True)
    # The copy pushes to its own remotes.
    text = (killed / "newsmirror.toml").read_text()
    (killed / "newsmirror.toml").write_text(text.replace(str(reference), str(killed)))
    copy_catalog(reference / "site", killed / "site", killed / "newsmirror.toml")
    git(killed / "site", "remote", "set-url", "origin", str(killed / "remotes" / "news.git"))
    assert cfg.exists()

    started = time.monotonic()
    assert _rotate(reference).wait(timeout=300) == 0
    length = time.monotonic() - started
    expected = _tree(reference)
    assert len(expected) >= 4
    assert check_links(reference) > 1000

    # The first kill lands as soon as a file has moved, whatever the machine's load; the
    # others at fractions of the uninterrupted run's length.
    moving = _rotate(killed)
    while moving.poll() is None and not any(
        next((f / "articles").rglob("*.md"), None) for f in killed.glob("site-*")
    ):
        time.sleep(0.005)
    moving.send_signal(signal.SIGKILL)
    moving.wait()
    seen = [{str(h): len(articles_in(f)) for h, f in repos(killed).items()}]
    mid = 0
    for fraction in (0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 1.0, 1.2):
        p = _rotate(killed)
        time.sleep(length * fraction)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            mid += 1
        p.wait()
        seen.append({str(h): len(articles_in(f)) for h, f in repos(killed).items()})
    assert mid >= 1, "no kill landed while rotating; make the archive larger"
    final = {str(h): len(articles_in(f)) for h, f in repos(reference).items()}
    assert any(s != final and len(s) > 1 for s in seen), f"no kill landed mid-move: {seen}"
    assert _rotate(killed).wait(timeout=300) == 0
    got = _tree(killed)
    assert sorted(got) == sorted(expected)
    for home, files in expected.items():
        assert sorted(got[home]) == sorted(files), home
        for name, data in files.items():
            if name != "<commits>":
                assert got[home][name] == data, (home, name)
    assert check_links(killed) > 1000
    for folder in repos(killed).values():
        assert git(folder, "status", "--porcelain") == ""


def test_image_copies_in_their_own_repository(tmp_path: Path, server: FakeServer) -> None:
    """The largest part of an archive kept apart: articles link to the image repository,
    the archive holds no picture, the site still serves its own copies."""
    three_years(server, sources=1, per_source=6)
    cfg = config(tmp_path, server, 1)
    text = cfg.read_text().replace("enabled = true\nkeep_months", "enabled = false\nkeep_months")
    images_url = "https://raw.example.org/news-images/main/"
    text = text.replace(
        '[images]\nmode = "copy"\n',
        f'[images]\nmode = "copy"\nrepository = "images"\nrepository_url = "{images_url}"\n',
    )
    cfg.write_text(text)
    settings = load(cfg)
    assert not Updater(settings, clock=Clock(NOW)).run().failed
    site, images = tmp_path / "site", tmp_path / "images"
    assert not (site / "assets").exists()
    copies = {p.relative_to(images).as_posix() for p in (images / "assets").rglob("*.png")}
    assert len(copies) == 3  # two of their own, one shared
    shown = set()
    for f in (site / "articles").rglob("*.md"):
        srcs = re.findall(r'<img src="([^"]+)"', f.read_text(encoding="utf-8"))
        assert srcs and all(s.startswith(images_url) for s in srcs), srcs
        shown |= {s.removeprefix(images_url) for s in srcs}
    assert shown == copies
    assert git(images, "ls-files").split() == sorted(copies)  # committed there
    assert not git(site, "ls-files", "assets")

    from newsmirror.publish.site import SiteBuilder

    catalog = Catalog(settings.catalog)
    try:
        SiteBuilder(settings, catalog, pagefind=False).build()
    finally:
        catalog.close()
    for page in (tmp_path / "public" / "articles").rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert "raw.example.org" not in html
        for src in re.findall(r'<img src="([^"]+)"', html):
            assert (page.parent / src).resolve().is_file(), src
