"""Workers on the queue in a PostgreSQL catalog: real worker processes, a real server, a
fake outlet of 200 feeds with article pages; one worker killed mid-pass, the database
restarted under the others, a publisher killed.  The archive they leave is the one a
single process leaves with SQLite."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from newsmirror.config import NetworkSettings, load
from newsmirror.pipeline import Updater

from . import conftest
from . import outlets as o
from .conftest import write_config
from .fakeserver import Answer, FakeServer, Request
from .feeds import Item, dt, rss

FEEDS = 200
ITEMS = 3
BASE_MS = 1_669_280_000_000  # 2022-11-24


class Pages:
    """The outlet's article pages: each answers after a pause, and the most answered at
    once is recorded (all feeds are on one host, so its limit holds for all workers).
    A page whose client hung up (a killed worker's) stops counting then, as the killed
    worker's slots come back then."""

    def __init__(self, pause: float) -> None:
        self.pause = pause
        self.page = o.rfa_page()
        self.now = self.most = 0
        self.lock = threading.Lock()

    def __call__(self, req: Request) -> Answer:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        end = time.monotonic() + self.pause
        while time.monotonic() < end and not req.gone():
            time.sleep(0.002)
        with self.lock:
            self.now -= 1
        return Answer(200, self.page, {"Content-Type": "text/html; charset=utf-8"})


def _outlet(server: FakeServer, slow: Pages) -> list[dict[str, object]]:
    """FEEDS feeds of ITEMS teasers each, with their article pages."""

    sources = []
    for f in range(FEEDS):
        items = []
        for i in range(ITEMS):
            path = f"/f{f}/a{i}.html"
            server.routes[path] = slow
            when = dt(BASE_MS + (f * ITEMS + i) * 60_000)
            items.append(Item(f"第{f}号源的第{i}篇报道", server.url(path), "摘要。", when))
        server.routes[f"/f{f}.xml"] = rss(items)
        sources.append(
            {
                "id": f"f{f:03d}",
                "url": server.url(f"/f{f}.xml"),
                "fulltext": "page",
                "extractor": "rfa",
                "images": "original",
            }
        )
    return sources


def _cli(config: Path, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "newsmirror", "-c", str(config), *args],
        capture_output=True,
        text=True,
        timeout=300,
        **kw,
    )


def _worker(config: Path, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:  # the child has its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "newsmirror", "-c", str(config), "worker",
             "--heartbeat", "0.5", "--stalled-after", "3", *extra],
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip


def _sql(url: str, statement: str) -> Any:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(statement).fetchall()


def _files(root: Path) -> dict[str, bytes]:
    """The archive's files; README's times of last change are what may differ."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if p.is_file() and rel.parts[0] not in (".git", ".newsmirror"):
            data = p.read_bytes()
            if str(rel) == "README.md":
                data = re.sub(rb"\d{4}-\d\d-\d\d \d\d:\d\d", b"<time>", data)
            out[str(rel)] = data
    return out


def _wait(what: str, until: Any, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not until():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_killed_worker_leaves_the_archive_a_single_process_leaves(
    tmp_path: Path, server: FakeServer, pg_cluster: Any
) -> None:
    pages = Pages(pause=0.02)
    sources = _outlet(server, pages)
    for side in "ab":
        (tmp_path / side).mkdir()
    single = write_config(tmp_path / "a" / "newsmirror.toml", sources)
    Updater(load(single)).run()
    expected = _files(tmp_path / "a" / "site")
    assert len([p for p in expected if p.startswith("articles/")]) == FEEDS * ITEMS

    conftest.PG_CLUSTER = pg_cluster
    try:
        config = write_config(tmp_path / "b" / "newsmirror.toml", sources)
        url = conftest.catalog_url(tmp_path / "b" / "site")
        assert url is not None
        assert _cli(config, "publish").returncode == 0  # a new archive: nothing to take in
        pages.most = 0
        done = _cli(config, "enqueue")
        assert done.returncode == 0, done.stderr
        assert f"{FEEDS} jobs queued" in done.stdout
        logs = [tmp_path / f"w{n}.log" for n in range(3)]
        first = _worker(config, logs[0])
        second = _worker(config, logs[1], "--concurrency", "2")
        try:

            def articles() -> int:
                return int(_sql(url, "SELECT count(*) FROM articles")[0][0])

            _wait("the first articles", lambda: articles() >= 60)
            first.send_signal(signal.SIGKILL)  # mid-pass: it holds jobs in hand
            first.wait()
            pg_cluster.pg_ctl("restart")  # and the database goes away under the other
            publisher = _worker(config, logs[2], "--publisher")
            try:
                _wait(
                    "the queue to empty",
                    lambda: (
                        _sql(
                            url,
                            "SELECT count(*) FROM procrastinate_jobs "
                            "WHERE status IN ('todo', 'doing')",
                        )[0][0]
                        == 0
                        and articles() == FEEDS * ITEMS
                    ),
                )
            finally:
                publisher.send_signal(signal.SIGTERM)
                assert publisher.wait(timeout=60) == 0
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=60)
        assert _cli(config, "publish").returncode == 0
        got = _files(tmp_path / "b" / "site")
        revisions = _sql(url, "SELECT count(*), count(DISTINCT article_id) FROM revisions")
        unpublished = _sql(url, "SELECT count(*) FROM unpublished")
        stalled = "of a stalled worker: queued again" in logs[1].read_text() + logs[2].read_text()
    finally:
        conftest._forget_databases()
    assert pages.most <= NetworkSettings().per_host_concurrency  # one host, all workers
    assert revisions == [(FEEDS * ITEMS, FEEDS * ITEMS)]  # nothing archived twice
    assert unpublished == [(0,)]
    assert stalled  # the killed worker had jobs in hand, and they were done by others
    assert "starting again" in logs[1].read_text()  # the restart did not end the worker
    assert sorted(got) == sorted(expected)
    assert got == expected


ONE = [{"id": "s", "url": "http://127.0.0.1:9/feed.xml"}]


def test_workers_need_a_postgresql_catalog(tmp_path: Path) -> None:
    config = write_config(tmp_path / "newsmirror.toml", ONE)
    for args in (("worker",), ("enqueue",)):
        r = _cli(config, *args)
        assert r.returncode == 1
        assert "PostgreSQL catalog" in r.stderr


@pytest.mark.parametrize(
    "args", [("--concurrency", "0"), ("--heartbeat", "5", "--stalled-after", "2")]
)
def test_worker_options_are_checked(tmp_path: Path, args: tuple[str, ...]) -> None:
    config = write_config(tmp_path / "newsmirror.toml", ONE)
    r = _cli(config, "worker", *args)
    assert r.returncode != 0
    assert "concurrency" in r.stderr or "heartbeat" in r.stderr


def test_a_killed_publisher_is_finished_by_the_next_to_the_same_archive(
    tmp_path: Path, server: FakeServer, pg_cluster: Any
) -> None:
    from . import feeds
    from .test_kill import FEEDS as N
    from .test_kill import ITEMS as M
    from .test_kill import _archive, _config, _run_to_end, _written, kill_repeatedly

    for i in range(N):
        server.routes[f"/f{i}.xml"] = feeds.rss(
            feeds.items(M, prefix=f"https://s{i}.example/n/", start_ms=1_666_000_000_000 + i)
        )
    started = time.monotonic()
    assert _run_to_end(_config(tmp_path / "reference", server)) == 0
    length = time.monotonic() - started  # kill moments scale with this machine's speed
    expected = _archive(tmp_path / "reference")

    conftest.PG_CLUSTER = pg_cluster
    try:
        config = _config(tmp_path / "killed", server)
        settings = load(config)
        assert _cli(config, "publish").returncode == 0
        for s in settings.sources:  # what workers do, in this process
            assert Updater(settings).fetch_source(s.id).new == M
        assert _written(tmp_path / "killed") == 0  # workers write no file
        url = conftest.catalog_url(tmp_path / "killed" / "site")
        assert url is not None
        command = [sys.executable, "-m", "newsmirror", "-c", str(config), "publish"]
        mid_work = kill_repeatedly(
            lambda: subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
            tmp_path / "killed",
            length,
            (0.1, 0.2, 0.3, 0.4, 0.6, 0.8),
        )
        assert mid_work >= 1, "no kill landed while publishing; make the work larger"
        assert _cli(config, "publish").returncode == 0
        left = _sql(url, "SELECT count(*) FROM unpublished")
    finally:
        conftest._forget_databases()
    got = _archive(tmp_path / "killed")
    assert left == [(0,)]
    assert sorted(got) == sorted(expected)
    for name in expected:
        assert got[name] == expected[name], name
    site = tmp_path / "killed" / "site"
    assert conftest.git(site, "status", "--porcelain") == ""
    assert not list(site.rglob(".nm-*.tmp"))


def test_the_schedule_is_a_periodic_job_that_queues_each_due_source_once(
    tmp_path: Path, pg_url: str
) -> None:
    import asyncio

    from newsmirror import queue

    sources = [{"id": f"s{i}", "url": f"http://127.0.0.1:9/{i}.xml"} for i in range(3)]
    sources[2]["enabled"] = False
    config = write_config(tmp_path / "newsmirror.toml", sources)
    config.write_text(config.read_text() + f'\n[catalog]\nurl = "{pg_url}"\n')
    app = queue.make_app(config)
    (periodic,) = app.periodic_registry.periodic_tasks.values()
    assert periodic.task.name == "newsmirror.tick" and periodic.cron == "* * * * *"
    queue.install(pg_url)
    queue.install(pg_url)  # a second worker starting finds the queue's tables there

    async def ticks() -> tuple[int, int]:
        async with app.open_async():
            return await periodic.task(timestamp=0), await periodic.task(timestamp=60)

    assert asyncio.run(ticks()) == (2, 0)  # the second finds both still waiting
    rows = _sql(pg_url, "SELECT args->>'source_id', lock FROM procrastinate_jobs "
                        "WHERE task_name = 'newsmirror.fetch' ORDER BY 1")  # fmt: skip
    assert rows == [("s0", "source:s0"), ("s1", "source:s1")]
    assert "queue: 0 unpublished, 2 jobs todo, 0 workers" in _cli(config, "status").stdout


def test_a_worker_reads_the_configuration_again_when_it_changes(tmp_path: Path) -> None:
    from newsmirror import queue

    config = write_config(tmp_path / "newsmirror.toml", ONE)
    first = queue._settings(config)
    assert queue._settings(config) is first  # unchanged: not read again
    config.write_text(config.read_text().replace('id = "s"', 'id = "renamed"'))
    assert [s.id for s in queue._settings(config).sources] == ["renamed"]


def test_enqueue_names_an_unreachable_database_without_its_password(tmp_path: Path) -> None:
    config = write_config(tmp_path / "newsmirror.toml", ONE)
    config.write_text(
        config.read_text() + '\n[catalog]\nurl = "postgresql://u:s3cret@127.0.0.1:1/x"\n'
    )
    r = _cli(config, "enqueue")
    assert r.returncode == 1
    assert "127.0.0.1" in r.stderr and "s3cret" not in r.stderr + r.stdout


def test_a_workers_jobs_parse_in_its_pool_of_processes(
    tmp_path: Path, server: FakeServer, pg_cluster: Any
) -> None:
    """A worker runs its jobs on one loop of its process; their parsing goes to the
    process's pool (``[archive] processes``), so a worker uses the machine's cores."""
    import os

    from newsmirror.cores import Cores

    from . import feeds

    server.routes["/f.xml"] = feeds.rss(feeds.items(5))
    conftest.PG_CLUSTER = pg_cluster
    try:
        cfg = write_config(tmp_path / "c.toml", [{"id": "f", "url": server.url("/f.xml")}])
        cfg.write_text(cfg.read_text().replace("[archive]", "[archive]\nprocesses = 3"))
        settings = load(cfg)
        old = Cores._pools.pop(3, None)
        if old is not None:
            old.shutdown()
        Updater(settings).publish()
        assert Updater(settings).fetch_source("f").new == 5
        pool = Cores._pools[3]  # made by the job's first parse
        pids = [p.pid for p in pool._processes.values()]
        assert pids and os.getpid() not in pids
        pool.shutdown()
        del Cores._pools[3]
    finally:
        conftest._forget_databases()
        conftest.PG_CLUSTER = None


def test_rechecks_are_jobs_the_schedule_queues_and_workers_publish(
    tmp_path: Path, server: FakeServer, pg_cluster: Any
) -> None:
    """With ``[watch]`` on, ``enqueue`` (what the tick does) queues a re-check of each
    source with checks due, under the source's lock; a worker makes it and the publisher
    it asks for writes the edited file and the change page."""
    from newsmirror.pipeline import wall_clock_ms

    from .conftest import Clock
    from .test_watch import HOUR, Outlet, _config

    outlet = Outlet(server)
    outlet.add("/news/a.html", "新闻 a")
    outlet.feed()
    conftest.PG_CLUSTER = pg_cluster
    try:
        config = _config(tmp_path, server)
        url = conftest.catalog_url(tmp_path / "site")
        assert url is not None
        settings = load(config)
        clock = Clock(wall_clock_ms() - 2 * HOUR)  # archived two hours ago
        Updater(settings, clock=clock).publish()
        assert Updater(settings, clock=clock).fetch_source("hk").new == 1
        Updater(settings, clock=clock).publish()
        outlet.state["/news/a.html"] = "edited"
        assert _cli(config, "enqueue").returncode == 0
        again = _cli(config, "enqueue")
        jobs = _sql(url, "SELECT task_name, lock, queueing_lock FROM procrastinate_jobs")
        assert ("newsmirror.recheck", "source:hk", "recheck:hk") in jobs
        assert "0 jobs queued" in again.stdout  # each is waiting already
        worker = _worker(config, tmp_path / "w.log", "--publisher")
        try:

            def edited() -> bool:
                files = (tmp_path / "site" / "articles").rglob("*.md")
                return any("经过删节的帖文" in p.read_text(encoding="utf-8") for p in files)

            _wait("the edit in the archive", edited, timeout=120)
            busy = "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
            _wait("the queue to empty", lambda: _sql(url, busy)[0][0] == 0)
        finally:
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=60) == 0
        events = _sql(url, "SELECT kind, detail FROM events")
    finally:
        conftest._forget_databases()
    assert events == [("edit", "text")]
    assert list((tmp_path / "site" / "changes").glob("*.md"))


def test_failed_image_copies_due_again_are_one_job(tmp_path: Path, pg_url: str) -> None:
    """In copy mode the schedule queues one ``images`` job when failed copies are due for
    another try (never two at once); none when nothing is due."""
    import asyncio

    from newsmirror import queue
    from newsmirror.store.catalog import Catalog

    config = write_config(tmp_path / "newsmirror.toml", ONE)
    config.write_text(
        config.read_text() + f'\n[catalog]\nurl = "{pg_url}"\n\n[images]\nmode = "copy"\n'
    )
    settings = load(config)
    queue.install(pg_url)
    app = queue.make_app(config)

    async def enqueue() -> int:
        async with app.open_async():
            return await queue.enqueue(app, settings)

    catalog = Catalog(pg_url)
    try:
        with catalog.transaction():
            catalog.ensure_source("s", "s", "http://127.0.0.1:9/feed.xml")
            catalog.record_success("s", 0, None, None, next_due_ms=2**62)  # not due
            catalog.record_asset("http://x/a.png", 0, error="HTTP 503", next_try_ms=2**62)
        assert asyncio.run(enqueue()) == 0  # the failed copy is not due yet
        with catalog.transaction():
            catalog.record_asset("http://x/a.png", 0, error="HTTP 503", next_try_ms=0)
    finally:
        catalog.close()
    assert asyncio.run(enqueue()) == 1
    assert asyncio.run(enqueue()) == 0  # still waiting
    rows = _sql(pg_url, "SELECT task_name, lock, queueing_lock FROM procrastinate_jobs")
    assert rows == [("newsmirror.images", "images", "images")]
