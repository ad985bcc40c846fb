"""Benchmark: one process with SQLite against workers on the PostgreSQL queue.

Serves N feeds of M teaser items whose full text is on article pages (``fulltext =
"page"``), from a server in another process that answers each page after ``--latency``
seconds (0.2: the I/O-bound regime of real outlets) or at once (0: CPU-bound).  Then:

- ``update`` in one process with the SQLite catalog (as a user runs it);
- for each count in ``--workers``: a fresh database on a throw-away durable PostgreSQL
  server (``tests/pgcluster.py``), ``enqueue``, that many ``newsmirror worker`` processes
  until the queue is empty (the fetch phase), then ``newsmirror publish`` (files, lists,
  git off) — articles per second of each phase and of both, and the ratio to one process.

The feeds are served from one address; ``per_host_concurrency`` is raised to 64 so the
bench measures newsmirror rather than its politeness to a single host (which, shared by
all workers, would otherwise be the limit).  Prints figures; asserts nothing.

    python bench/scale.py [--feeds 2000] [--items 50] [--latency 0.2 0] [--workers 1 2 4]
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg

from newsmirror.config import load
from newsmirror.pipeline import Updater

WORDS = (
    "德国之声 柏林 政府 周三 宣布 经济 增长 议会 辩论 法案 气候 峰会 谈判 合作 记者 报道 "
    "中国 美国 欧洲 外交 部长 表示 认为 问题 发展 国家 地区 人民 社会 安全 新闻 自由"
).split()


def _page(f: int, i: int) -> bytes:
    """An RFA-shaped article page of ~4 KB, different for every article."""
    paras = []
    for p in range(12):
        words = [WORDS[(f * 7 + i * 13 + p * 5 + k * 3) % len(WORDS)] for k in range(24)]
        paras.append(
            "<p>" + "，".join("".join(words[j : j + 4]) for j in range(0, 24, 4)) + "。</p>"
        )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>自由亚洲电台</title></head>"
        "<body><nav><a href='/'>首页</a></nav>"
        "<div id='story_byline'><span>记者：陈静</span></div><span id='story_date'>2022-11-24</span>"
        f"<div id='storytext'><p>第{f}号源第{i}篇。</p>{''.join(paras)}</div>"
        "<footer><p>版权所有</p></footer></body></html>"
    ).encode()


def _feed(f: int, items: int, base: str) -> bytes:
    out = [
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>源 {f}</title><link>{base}/</link><description>bench</description>"
    ]
    for i in range(items):
        day = 1 + (f + i) % 28
        out.append(
            f"<item><title>第{f}号源的第{i}篇报道</title><link>{base}/f{f}/a{i}.html</link>"
            f"<guid>{base}/f{f}/a{i}.html</guid><description>摘要。</description>"
            f"<pubDate>Tue, {day:02d} Nov 2022 {i % 24:02d}:00:00 +0000</pubDate></item>"
        )
    out.append("</channel></rss>")
    return "".join(out).encode()


def _serve(items: int, latency: float, port: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *a: object) -> None:
            pass

        def do_GET(self) -> None:
            host = f"http://{self.headers['Host']}"
            parts = self.path.strip("/").split("/")
            if len(parts) == 1 and parts[0].endswith(".xml"):
                body, ctype = _feed(int(parts[0][1:-4]), items, host), "application/rss+xml"
            else:
                time.sleep(latency)
                f, i = int(parts[0][1:]), int(parts[1][1:].split(".")[0])
                body, ctype = _page(f, i), "text/html; charset=utf-8"
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class S(ThreadingHTTPServer):
        request_queue_size = 1024
        daemon_threads = True

        def handle_error(self, request: object, client_address: object) -> None:
            pass  # a client that closed its connection early: not the bench's business

    httpd = S(("127.0.0.1", 0), H)
    port.put(httpd.server_address[1])
    httpd.serve_forever()


@contextlib.contextmanager
def serving(items: int, latency: float) -> Iterator[str]:
    q: multiprocessing.Queue[int] = multiprocessing.Queue()
    p = multiprocessing.Process(target=_serve, args=(items, latency, q), daemon=True)
    p.start()
    try:
        yield f"http://127.0.0.1:{q.get(timeout=30)}"
    finally:
        p.terminate()
        p.join()


def write_config(work: Path, base: str, feeds: int, catalog: str | None) -> Path:
    lines = [
        '[archive]\npath = "archive"\n',
        "[network]\nallow_private_networks = true\nper_host_concurrency = 64\n"
        "per_host_delay = 0\nconcurrency = 64\n",
        "[publish.git]\nenabled = false\n",
    ]
    if catalog:
        lines.append(f'[catalog]\nurl = "{catalog}"\n')
    for f in range(feeds):
        lines.append(
            f'[[sources]]\nid = "f{f:04d}"\nurl = "{base}/f{f}.xml"\n'
            'fulltext = "page"\nextractor = "rfa"\nimages = "original"\n'
        )
    work.mkdir(parents=True, exist_ok=True)
    path = work / "newsmirror.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _cli(config: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "newsmirror", "-c", str(config), *args],
        check=True,
        capture_output=True,
    )


def one_process(work: Path, base: str, feeds: int) -> tuple[float, int]:
    config = write_config(work / "single", base, feeds, None)
    started = time.perf_counter()
    report = Updater(load(config)).run()
    return time.perf_counter() - started, report.new


def workers(
    work: Path, base: str, feeds: int, n: int, cluster: object, concurrency: int
) -> tuple[float, float, int]:
    url = cluster.database()  # type: ignore[attr-defined]
    config = write_config(work / f"workers{n}", base, feeds, url)
    _cli(config, "publish")  # the catalog, the queue's tables
    _cli(config, "enqueue")
    started = time.perf_counter()
    command = [sys.executable, "-m", "newsmirror", "-c", str(config), "worker"]
    command += ["--concurrency", str(concurrency)]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [subprocess.Popen(command, **quiet) for _ in range(n)]  # type: ignore[call-overload]
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            while conn.execute(
                "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing') "
                "AND task_name = 'newsmirror.fetch'"
            ).fetchone() != (0,):
                time.sleep(0.2)
            fetched = time.perf_counter() - started
            articles = conn.execute("SELECT count(*) FROM articles").fetchone()
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()
    started = time.perf_counter()
    _cli(config, "publish")
    return fetched, time.perf_counter() - started, int(articles[0]) if articles else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--feeds", type=int, default=2000)
    ap.add_argument("--items", type=int, default=50)
    ap.add_argument("--latency", type=float, nargs="+", default=[0.2, 0.0])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--concurrency", type=int, default=8, help="jobs per worker")
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.pgcluster import running

    print(f"{args.feeds} feeds x {args.items} items, full text from pages")
    for latency in args.latency:
        work = Path(tempfile.mkdtemp(prefix="nm-scale-", dir=args.workdir))
        try:
            with serving(args.items, latency) as base, running(durable=True) as cluster:
                t, n = one_process(work, base, args.feeds)
                base_rate = n / t
                print(f"latency {latency:g} s: 1 process, SQLite: {n} articles in {t:.1f} s "
                      f"= {base_rate:.0f} articles/s")  # fmt: skip
                for w in args.workers:
                    fetch_s, publish_s, m = workers(
                        work, base, args.feeds, w, cluster, args.concurrency
                    )
                    rate = m / (fetch_s + publish_s)
                    print(
                        f"latency {latency:g} s: {w} worker(s) x {args.concurrency}, PostgreSQL: "
                        f"{m} articles; fetch {fetch_s:.1f} s ({m / fetch_s:.0f}/s), publish "
                        f"{publish_s:.1f} s; together {rate:.0f} articles/s = "
                        f"{rate / base_rate:.2f}x one process"
                    )
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
