"""Benchmark: an archive that grew for three years, before and after a rotation.

Simulates ``--months`` (36) of ``--sources`` (10) outlets, ``--articles`` (100,000) in all,
every ``--picture-every``-th article with a picture of ``--picture-kb`` KB (random bytes:
incompressible, like JPEG), archived in copy mode into a git repository by one pass per
month (a local server in another process plays the outlets).  Then prints the size of a
fresh clone of the archive (``git clone --no-local``: what a reader downloads), rotates
(``[rotate] keep_months = 6``, one repository per year), prints the rotation's time and
the fresh clone's size again (the issue's target: under 300 MB), the period repositories'
sizes, and the time of a pass after the rotation.  Prints figures; asserts nothing.

    python bench/growth.py [--articles 100000] [--sources 10] [--workdir /work]
                           [--keep DIR]   # generate once into DIR, reuse it next time
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _server import serving  # noqa: E402
from pipeline import article_html, write_config  # noqa: E402

from newsmirror.config import load  # noqa: E402
from newsmirror.pipeline import Updater  # noqa: E402

# article_html's picture is on a remote host (no network here): the bench serves its own.
REMOTE_PICTURE = (
    '<img src="https://images.weserv.nl/?url=static.dw.com/image/1_303.jpg" width="100%">'
)


def month_start(base: datetime, m: int) -> datetime:
    months = base.year * 12 + base.month - 1 + m
    return datetime(months // 12, months % 12 + 1, 1, tzinfo=UTC)


def feed(source: int, items: list[tuple[int, datetime, str]], port: int) -> bytes:
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0"><channel>',
        f"<title>源 {source}</title><link>https://s{source}.example/</link>"
        "<description>bench</description>",
    ]
    for n, date, body in items:
        out.append(
            f"<item><title>第 {source} 源的第 {n} 篇</title>"
            f"<link>https://s{source}.example/news/{n}</link>"
            f"<pubDate>{format_datetime(date)}</pubDate>"
            f"<description><![CDATA[{body}]]></description></item>"
        )
    out.append("</channel></rss>")
    return "\n".join(out).encode()


def tree_bytes(folder: Path) -> int:
    total = 0
    for dirpath, _dirs, names in os.walk(folder):
        total += sum(os.lstat(os.path.join(dirpath, n)).st_size for n in names)
    return total


def clone_size(repo: Path, into: Path) -> tuple[int, int, float]:
    """(bytes of .git, bytes of the work tree, seconds) of a fresh clone."""
    shutil.rmtree(into, ignore_errors=True)
    t = time.perf_counter()
    subprocess.run(["git", "clone", "-q", "--no-local", str(repo), str(into)], check=True)
    took = time.perf_counter() - t
    git_dir = tree_bytes(into / ".git")
    work = tree_bytes(into) - git_dir
    shutil.rmtree(into)
    return git_dir, work, took


def mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def generate(work: Path, served: Path, port: int, args: argparse.Namespace) -> Path:
    """Archive ``--months`` of generated feeds, one pass per month; returns the config."""
    rng = random.Random(42)
    cfg = write_config(work / "archive", port, args.sources, fsync=False)
    text = cfg.read_text(encoding="utf-8").replace(
        "[publish.git]\nenabled = false", "[publish.git]\nenabled = true"
    )
    text += (
        '\n[images]\nmode = "copy"\n'
        "\n[rotate]\nenabled = true\nkeep_months = 6\n"
        'url = "https://example.org/news-{period}/blob/main/"\n'
        'front_url = "https://example.org/news/blob/main/"\n'
    )
    cfg.write_text(text, encoding="utf-8")
    settings = load(cfg)
    first = month_start(datetime.now(UTC), -args.months)
    per_feed = args.articles // (args.months * args.sources)
    n = pictures = 0
    t_all = time.perf_counter()
    for m in range(args.months):
        start = month_start(first, m)
        span = (month_start(first, m + 1) - start).total_seconds()
        for s in range(args.sources):
            items = []
            for _ in range(per_feed):
                n += 1
                body = article_html(rng, 3000).replace(REMOTE_PICTURE, "")
                if n % args.picture_every == 0:
                    name = f"img-{n}.png"
                    data = b"\x89PNG\r\n\x1a\n" + rng.randbytes(args.picture_kb * 1024)
                    (served / name).write_bytes(data)
                    body += f'<img src="http://127.0.0.1:{port}/{name}">'
                    pictures += 1
                date = start + timedelta(seconds=rng.uniform(0, span))
                items.append((n, date, body))
            (served / f"feed{s}.xml").write_bytes(feed(s, items, port))
        end = month_start(first, m + 1) - timedelta(minutes=1)
        clock_ms = int(end.timestamp() * 1000)
        report = Updater(settings, clock=lambda c=clock_ms: c, force=True).run()
        assert not report.failed, [r.error for r in report.failed]
        for p in served.glob("img-*.png"):
            p.unlink()  # the server keeps what it read; the disk need not
    print(
        f"archived {n:,} articles ({pictures:,} pictures of {args.picture_kb} KB) "
        f"from {args.sources} sources over {args.months} months in "
        f"{time.perf_counter() - t_all:.0f} s"
    )
    return cfg


def measure(cfg: Path, work: Path) -> None:
    """Clone, rotate, clone again, print the figures."""
    settings = load(cfg)
    site = settings.archive.path
    before = clone_size(site, work / "clone")
    print(
        f"fresh clone before rotation: .git {mb(before[0])}, work tree "
        f"{mb(before[1])} ({before[2]:.0f} s)"
    )
    now_ms = int(time.time() * 1000)
    t = time.perf_counter()
    rotated = Updater(settings, clock=lambda: now_ms).rotate()
    took = time.perf_counter() - t
    moved = sum(rotated.settled.values())
    print(
        f"rotation: {moved:,} articles to {len(rotated.settled)} period repositories, "
        f"{rotated.removed:,} files removed from the archive, in {took:.0f} s"
        + (f"; errors: {rotated.errors}" if rotated.errors else "")
    )
    after = clone_size(site, work / "clone")
    print(
        f"fresh clone after rotation: .git {mb(after[0])}, work tree "
        f"{mb(after[1])} ({after[2]:.0f} s)"
    )
    for period in sorted(rotated.settled):
        folder = settings.repository(period)
        tree = tree_bytes(folder) - tree_bytes(folder / ".git")
        print(f"  period {period}: work tree {mb(tree)}")
    t = time.perf_counter()
    Updater(settings, clock=lambda: now_ms).rotate()
    print(f"rotation again (nothing due): {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    Updater(settings, clock=lambda: now_ms + 3_600_000, force=True).run()
    print(f"a pass after the rotation (feeds unchanged): {time.perf_counter() - t:.1f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=100_000)
    ap.add_argument("--sources", type=int, default=10)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--picture-kb", type=int, default=20)
    ap.add_argument("--picture-every", type=int, default=2)
    ap.add_argument("--workdir", help="where the archive goes (default: the temp dir)")
    ap.add_argument("--keep", type=Path, help="generate into this folder once; reuse it")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="nm-growth-", dir=args.workdir))
    pristine = args.keep or work / "pristine"
    try:
        served = pristine / "served"
        served.mkdir(parents=True, exist_ok=True)
        with serving(served, work) as port:
            cfg = pristine / "archive" / "newsmirror.toml"
            if not (pristine / "done").exists():
                generate(pristine, served, port, args)
                (pristine / "done").write_text("")
            else:
                print(f"reusing the archive generated in {pristine}")
            # Rotate a copy, so a kept archive can be measured again.
            subprocess.run(["cp", "-a", str(pristine / "archive"), str(work / "run")], check=True)
            cfg = work / "run" / "newsmirror.toml"
            text = re.sub(r"127\.0\.0\.1:\d+", f"127.0.0.1:{port}", cfg.read_text())
            cfg.write_text(text, encoding="utf-8")
            measure(cfg, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
