"""Politeness and health: Retry-After, Cache-Control, backoff, per-host pacing, status exit
codes and the failure webhook."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from newsmirror.config import NetworkSettings
from newsmirror.decide import next_due
from newsmirror.fetch.http import Fetcher, max_age, retry_after

from . import feeds
from .conftest import Clock, write_config
from .fakeserver import Answer, FakeServer

# Every test here runs on both catalog engines (conftest.catalog_backend).
pytestmark = pytest.mark.usefixtures("catalog_backend")

HOUR = 3_600_000


def test_backoff_doubles_up_to_a_day_and_never_stops() -> None:
    waits = [next_due(0, failures=n, interval_s=3600) for n in range(1, 10)]
    assert waits[0] is None  # a first failure is retried on the next pass
    assert waits[1:6] == [1 * HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR, 16 * HOUR]
    assert waits[6:] == [24 * HOUR] * 3
    assert next_due(0, failures=3, interval_s=3600, jitter=1.1) == int(2.2 * HOUR)


def test_server_wishes_are_honoured_but_capped() -> None:
    assert next_due(0, failures=1, interval_s=3600, retry_after_s=120) == 120_000
    assert next_due(0, failures=1, interval_s=3600, retry_after_s=10**9) == 6 * HOUR
    assert next_due(0, failures=0, interval_s=3600, max_age_s=7200) == 2 * HOUR
    assert next_due(0, failures=0, interval_s=3600, max_age_s=10**9) == 6 * HOUR
    assert next_due(0, failures=0, interval_s=3600) is None


def test_header_parsing() -> None:
    assert retry_after("120") == 120
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412420) == 60
    assert retry_after("soon") is None
    assert max_age("public, max-age=600") == 600
    assert max_age("no-store, max-age=600") is None
    assert max_age(None) is None


def _source(tmp_path: Path, server: FakeServer, **extra: str) -> Path:
    return write_config(
        tmp_path / "newsmirror.toml",
        [{"id": "ex", "name": "Ex", "url": server.url("/feed.xml"), **extra}],
    )


def test_retry_after_skips_the_source_until_due(
    tmp_path: Path, server: FakeServer, run_update, clock: Clock
) -> None:
    server.routes["/feed.xml"] = lambda req: Answer(429, b"slow down", {"Retry-After": "7200"})
    cfg = _source(tmp_path, server)
    first = run_update(cfg)
    assert (
        "HTTP 429" in (first.sources[0].error or "")
        and "retry after 7200 s" in first.sources[0].error
    )
    clock.ms += HOUR
    second = run_update(cfg)
    assert second.sources[0].skipped_until == first_due(clock, HOUR)
    assert len(server.hits("/feed.xml")) == 1  # nothing sent while it is not due
    server.routes["/feed.xml"] = feeds.rss(feeds.items(1))
    clock.ms += HOUR + 1
    third = run_update(cfg)
    assert third.new == 1 and third.sources[0].skipped_until is None


def first_due(clock: Clock, elapsed: int) -> int:
    return clock.ms - elapsed + 2 * HOUR


def test_force_fetches_anyway(tmp_path: Path, server: FakeServer, clock: Clock) -> None:
    from newsmirror.config import load
    from newsmirror.pipeline import Updater

    server.routes["/feed.xml"] = lambda req: Answer(503, b"", {"Retry-After": "600"})
    cfg = _source(tmp_path, server)
    Updater(load(cfg), clock=clock).run()
    server.routes["/feed.xml"] = feeds.rss(feeds.items(2))
    assert Updater(load(cfg), clock=clock).run().sources[0].skipped_until
    assert Updater(load(cfg), clock=clock, force=True).run().new == 2


def test_cache_control_max_age_spaces_fetches(
    tmp_path: Path, server: FakeServer, run_update, clock: Clock
) -> None:
    body = feeds.rss(feeds.items(1))
    server.routes["/feed.xml"] = lambda req: Answer(200, body, {"Cache-Control": "max-age=5400"})
    cfg = _source(tmp_path, server)
    run_update(cfg)
    clock.ms += HOUR
    assert run_update(cfg).sources[0].skipped_until
    clock.ms += HOUR
    assert not run_update(cfg).sources[0].skipped_until
    assert len(server.hits("/feed.xml")) == 2


def test_failing_source_backs_off(
    tmp_path: Path, server: FakeServer, run_update, clock: Clock
) -> None:
    server.routes["/feed.xml"] = lambda req: Answer(500, b"")
    cfg = _source(tmp_path, server)
    for _ in range(2):  # two failures in a row: the second sets a wait of about an hour
        run_update(cfg)
    clock.ms += HOUR // 2
    assert run_update(cfg).sources[0].skipped_until
    clock.ms += HOUR
    assert run_update(cfg).sources[0].error  # due again, tried again: never disabled
    assert len(server.hits("/feed.xml")) == 3


def test_requests_to_one_host_are_paced(server: FakeServer) -> None:
    server.routes["/x"] = b"x"
    starts: list[float] = []

    def stamp(req: object) -> Answer:
        starts.append(time.monotonic())
        return Answer(200, b"x")

    server.routes["/x"] = stamp

    async def go() -> None:
        settings = NetworkSettings(
            allow_private_networks=True, per_host_delay=0.5, per_host_concurrency=4
        )
        async with Fetcher(settings) as f:
            await asyncio.gather(*(f.get(server.url("/x")) for _ in range(4)))

    asyncio.run(go())
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) == 4 and all(g >= 0.3 for g in gaps), gaps


def _nm(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "newsmirror", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_status_exits_non_zero_when_unhealthy(
    tmp_path: Path, server: FakeServer, run_update
) -> None:
    server.routes["/feed.xml"] = lambda req: Answer(500, b"")
    run_update(_source(tmp_path, server))  # the fake clock is in 2023: failing for years
    r = _nm(tmp_path, "status")
    assert r.returncode == 3
    assert "unhealthy: ex has been failing since 2023-11-14" in r.stderr
    assert "nothing new was archived ever" in r.stderr


def test_webhook_on_a_new_failure_only(
    tmp_path: Path, server: FakeServer, run_update, clock: Clock
) -> None:
    server.routes["/feed.xml"] = lambda req: Answer(500, b"")
    server.routes["/hook"] = lambda req: Answer(204, b"")
    cfg = _source(tmp_path, server)
    cfg.write_text(cfg.read_text() + f'\n[health]\nwebhook = "{server.url("/hook")}"\n')
    assert _nm(tmp_path, "update").returncode == 2
    (hook,) = [r for r in server.requests if r.path == "/hook"]
    payload = json.loads(hook.body)
    assert hook.method == "POST" and payload["failing"][0]["source"] == "ex"
    assert "HTTP 500" in payload["text"]
    assert _nm(tmp_path, "update", "--force").returncode == 2  # still failing: no new alert
    assert len([r for r in server.requests if r.path == "/hook"]) == 1


def test_webhook_text_cannot_mention_or_link(
    tmp_path: Path, server: FakeServer, run_update, clock: Clock
) -> None:
    server.routes["/feed.xml"] = lambda req: Answer(302, b"", {"Location": "http:x"})
    server.routes["/hook"] = lambda req: Answer(204, b"")
    cfg = _source(tmp_path, server)
    text = cfg.read_text().replace('/feed.xml"', '/feed.xml?<!channel>&<https://evil.example|x>"')
    cfg.write_text(text + f'\n[health]\nwebhook = "{server.url("/hook")}"\n')
    server.routes["/feed.xml?<!channel>&<https://evil.example|x>"] = server.routes["/feed.xml"]
    assert _nm(tmp_path, "update").returncode == 2
    (hook,) = [r for r in server.requests if r.path == "/hook"]
    said = json.loads(hook.body)["text"]
    assert "<!channel>" not in said and "<https://" not in said and "&lt;!channel&gt;" in said
