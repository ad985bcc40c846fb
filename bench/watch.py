"""Benchmark: a re-check pass over a large archive, and diffs of long articles.

Archives N feeds x M items (feed-only text, pages served by a local server in another
process), then runs two passes an hour apart in which every feed answers 304 and every
article is due for a re-check: the first look at each page (200, validators kept), then
the second (conditional: 304).  Prints each pass's time, requests and rate; then the
time of diff.diff on two 10,000-character Chinese revisions with scattered edits (the
issue's target: <= 50 ms) and on two unrelated ones (bounded by the diff's time limit).
Prints figures; asserts nothing.

    python bench/watch.py [--feeds 200] [--items 50]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _server import serving  # noqa: E402
from pipeline import WORDS, make_feed, write_config  # noqa: E402

from newsmirror.config import load  # noqa: E402
from newsmirror.diff import diff  # noqa: E402
from newsmirror.pipeline import Updater  # noqa: E402

HOUR = 3_600_000


def page(i: int, j: int) -> bytes:
    return (
        f"<html><head><title>第 {i} 源的第 {j} 篇</title></head><body><article>"
        f"<h1>第 {i} 源的第 {j} 篇示例文章</h1><p>正文。</p></article></body></html>"
    ).encode()


def chinese(rng: random.Random, n: int) -> str:
    out: list[str] = []
    while sum(map(len, out)) < n:
        out.append("".join(rng.choices(WORDS, k=8)) + "。")
    return "".join(out)[:n]


def diff_times() -> None:
    rng = random.Random(7)
    a = chinese(rng, 10_000)
    b = list(a)
    for _ in range(30):
        i = rng.randrange(len(b) - 20)
        b[i : i + rng.randrange(1, 15)] = list("修改后的文字")
    edited = "".join(b)
    unrelated = chinese(random.Random(8), 10_000)
    for label, x, y in (("30 scattered edits", a, edited), ("unrelated texts", a, unrelated)):
        best = min(_timed(diff, x, y) for _ in range(5))
        print(f"diff of two 10,000-character revisions, {label}: {best * 1000:.1f} ms (best of 5)")


def _timed(fn, *args) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--items", type=int, default=50)
    ap.add_argument("--workdir", help="where the archive goes (default: the temp dir)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="nm-watch-", dir=args.workdir))
    rng = random.Random(42)
    try:
        served = work / "served"
        served.mkdir()
        for i in range(args.feeds):
            for j in range(args.items):
                (served / f"p{i}-{j}.html").write_bytes(page(i, j))
        with serving(served, work) as port:
            for i in range(args.feeds):
                feed = make_feed(i, args.items, rng).decode()
                for j in range(args.items):
                    feed = feed.replace(
                        f"https://s{i}.example/news/{j}?utm_source=rss",
                        f"http://127.0.0.1:{port}/p{i}-{j}.html",
                    )
                (served / f"feed{i}.xml").write_text(feed, encoding="utf-8")
            cfg = write_config(work / "archive", port, args.feeds, fsync=False)
            total = args.feeds * args.items
            with cfg.open("a", encoding="utf-8") as f:
                f.write(f'\n[watch]\nenabled = true\nintervals = ["1h"]\nbudget = {total}\n')
            settings = load(cfg)
            now = [1_800_000_000_000]
            t = time.perf_counter()
            first = Updater(settings, clock=lambda: now[0]).run()
            print(f"archived {first.new:,} articles in {time.perf_counter() - t:.1f} s")
            for label in ("first re-check (200, validators kept)", "second re-check (304)"):
                now[0] += HOUR + 1
                t = time.perf_counter()
                cpu = time.process_time()
                report = Updater(settings, clock=lambda: now[0]).run()
                wall, cpu = time.perf_counter() - t, time.process_time() - cpu
                w = report.watch
                assert w is not None
                print(
                    f"{label}: {w.checked:,} articles looked at, {w.failed} failed, "
                    f"{w.edits} edits, {w.removals} removals; {wall:.1f} s "
                    f"({w.checked / wall:,.0f} requests/s), CPU {cpu:.1f} s"
                )
        diff_times()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
