"""Politeness shared through the PostgreSQL catalog: two fetchers with their own
connections (two machines, as far as PostgreSQL can tell) keep one host's limits
together; fetchers that keep them alone do not."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from newsmirror.config import NetworkSettings
from newsmirror.errors import FetchError
from newsmirror.fetch.http import Fetcher
from newsmirror.fetch.polite import SharedManners
from newsmirror.store.catalog import Catalog

from .fakeserver import Answer, FakeServer, Request


class Counting:
    """A slow page that records how many requests it answers at once, and when each began."""

    def __init__(self, pause: float) -> None:
        self.pause = pause
        self.now = self.most = 0
        self.starts: list[float] = []
        self.lock = threading.Lock()

    def __call__(self, _req: Request) -> Answer:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
            self.starts.append(time.monotonic())
        time.sleep(self.pause)
        with self.lock:
            self.now -= 1
        return Answer(200, b"ok", {"Content-Type": "text/plain"})


def _fetchers(network: NetworkSettings, url: str | None) -> list[Fetcher]:
    if url is None:
        return [Fetcher(network), Fetcher(network)]
    return [Fetcher(network, manners=SharedManners(network, url)) for _ in range(2)]


def _counting(manners: SharedManners) -> list[str]:
    """The statements ``manners`` sends from now on."""
    sent: list[str] = []
    execute = manners._execute

    async def counting(sql: str, *params: Any) -> Any:
        sent.append(sql)
        return await execute(sql, *params)

    manners._execute = counting  # type: ignore[method-assign]
    return sent


async def _terminate(manners: SharedManners, url: str) -> int:
    """Cut ``manners``'s connection from the server's side (it learns at its next
    statement, as after a restart); its backend's pid."""
    import psycopg

    pid = int((await manners._query("SELECT pg_backend_pid()"))[0])
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as c:
        await c.execute("SELECT pg_terminate_backend(%s)", (pid,))
    return pid


async def _get_all(fetchers: list[Fetcher], urls: list[str]) -> list[Any]:
    try:
        jobs = [fetchers[i % 2].get(u) for i, u in enumerate(urls)]
        return await asyncio.gather(*jobs, return_exceptions=True)
    finally:
        for f in fetchers:
            await f.aclose()


@pytest.mark.parametrize("shared", [True, False])
def test_one_host_gets_its_concurrency_across_fetchers(
    server: FakeServer, pg_url: str, shared: bool
) -> None:
    Catalog(pg_url).close()
    page = server.routes["/slow"] = Counting(0.15)
    network = NetworkSettings(allow_private_networks=True, per_host_concurrency=1, per_host_delay=0)
    got = asyncio.run(_get_all(_fetchers(network, pg_url if shared else None),
                               [server.url("/slow")] * 6))  # fmt: skip
    assert all(r.status == 200 for r in got)
    assert page.most == (1 if shared else 2)


def test_request_starts_are_spaced_across_fetchers(server: FakeServer, pg_url: str) -> None:
    Catalog(pg_url).close()
    page = server.routes["/p"] = Counting(0)
    network = NetworkSettings(
        allow_private_networks=True, per_host_concurrency=4, per_host_delay=0.6
    )
    got = asyncio.run(_get_all(_fetchers(network, pg_url), [server.url("/p")] * 4))
    assert all(r.status == 200 for r in got)
    gaps = [b - a for a, b in zip(page.starts, page.starts[1:], strict=False)]
    # Half the delay: the arrival of a request on a busy machine may lag its start.
    assert len(gaps) == 3 and min(gaps) >= 0.3


def test_a_pause_one_fetcher_was_asked_for_holds_the_others(
    server: FakeServer, pg_url: str
) -> None:
    Catalog(pg_url).close()
    server.routes["/busy"] = lambda _r: Answer(429, b"", {"Retry-After": "30"})
    page = server.routes["/p"] = Counting(0)
    network = NetworkSettings(allow_private_networks=True, per_host_delay=0, max_retry_wait=5)
    first, second = _fetchers(network, pg_url)

    async def run() -> Any:
        try:
            with pytest.raises(FetchError, match="429"):
                await first.get(server.url("/busy"))
            with pytest.raises(FetchError, match="wants no requests for"):
                await second.get(server.url("/p"))  # not sent: the server is held
        finally:
            await first.aclose()
            await second.aclose()

    asyncio.run(run())
    assert page.starts == []
    db = Catalog(pg_url)
    try:
        rows = list(db.db.execute("SELECT hold_until_ms FROM hosts WHERE name LIKE 'hold %'"))
    finally:
        db.close()
    assert len(rows) == 1 and rows[0][0] is not None


def test_refusals_counted_by_one_worker_hold_back_the_others(
    server: FakeServer, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages of one server across workers: after three refusals in all, no worker asks
    it again until the count's window is over."""
    from newsmirror.fetch import polite
    from newsmirror.fetch.polite import REFUSALS_WINDOW
    from newsmirror.sources.fulltext import MAX_REFUSALS, Refusals

    monkeypatch.setattr(polite, "REFUSALS_FRESH", 0.0)  # each look reads the catalog
    Catalog(pg_url).close()
    network = NetworkSettings(allow_private_networks=True, per_host_delay=0)
    one, two = _fetchers(network, pg_url)
    host = "127.0.0.1"

    async def run() -> list[str]:
        try:
            a, b = Refusals(one), Refusals(two)
            said = [await b.why_not(host)]
            for status in (403, 200, 429, 404):  # two refusals; a 200 or a 404 is none
                await a.note(host, status)
            said.append(await b.why_not(host))
            await b.note(host, 403)
            said += [await a.why_not(host), await b.why_not(host), await b.why_not("other")]
            return said
        finally:
            await one.aclose()
            await two.aclose()

    said = asyncio.run(run())
    assert said[:2] == ["", ""] and said[4] == ""
    assert said[2] == said[3] == f"not asked: {host} refused {MAX_REFUSALS} pages this pass"
    # The window over, the count starts again.
    db = Catalog(pg_url)
    try:
        db.db.execute(
            "UPDATE hosts SET hold_until_ms = hold_until_ms - ? WHERE name = ?",
            (round(REFUSALS_WINDOW * 1000 + 1000), "refused " + host),
        )
    finally:
        db.close()
    three = _fetchers(network, pg_url)

    async def again() -> tuple[str, str]:
        try:
            r = Refusals(three[0])
            before = await r.why_not(host)
            await r.note(host, 403)
            return before, await Refusals(three[1]).why_not(host)
        finally:
            for f in three:
                await f.aclose()

    assert asyncio.run(again()) == ("", "")


def test_a_dead_fetchers_slots_come_back(server: FakeServer, pg_url: str) -> None:
    Catalog(pg_url).close()
    network = NetworkSettings(allow_private_networks=True, per_host_concurrency=1)

    async def run() -> None:
        dead, alive = SharedManners(network, pg_url), SharedManners(network, pg_url)
        turn = dead.turn("example.org", "example.org")
        await turn.__aenter__()  # held, then the process dies without giving it back
        await dead._conn.close()
        async with asyncio.timeout(10), alive.turn("example.org", "example.org"):
            pass
        await alive.aclose()

    asyncio.run(run())


def test_manners_are_shared_by_workers_of_a_postgresql_catalog(tmp_path: Path, pg_url: str) -> None:
    from newsmirror.config import load
    from newsmirror.pipeline import Updater

    from .conftest import write_config

    one = [{"id": "s", "url": "http://127.0.0.1:9/f"}]
    sqlite = Updater(load(write_config(tmp_path / "a.toml", one)))
    (tmp_path / "b.toml").write_text(
        (tmp_path / "a.toml").read_text() + f'\n[catalog]\nurl = "{pg_url}"\n'
    )
    postgres = Updater(load(tmp_path / "b.toml"))
    for updater, shared in ((sqlite, False), (postgres, False), (sqlite, True), (postgres, True)):
        updater.shared = shared  # as in a worker's job
        fetcher = updater._fetcher()
        assert isinstance(fetcher.manners, SharedManners) is (shared and updater is postgres)
        asyncio.run(fetcher.aclose())


def test_a_burst_of_pages_reads_the_refusal_count_once(pg_url: str) -> None:
    Catalog(pg_url).close()
    network = NetworkSettings(allow_private_networks=True)
    manners = SharedManners(network, pg_url)
    asked = _counting(manners)

    async def run() -> list[int]:
        try:
            counts = [await manners.refusals("a.example") for _ in range(20)]
            await manners.refused("a.example")  # its own refusal counts at once
            return [*counts, await manners.refusals("a.example")]
        finally:
            await manners.aclose()

    assert asyncio.run(run()) == [0] * 20 + [1]
    assert len(asked) == 2  # one read, one count


def test_slots_are_taken_one_lock_each_and_never_twice_by_one_session(pg_url: str) -> None:
    """Each slot is one advisory lock (the query that tries them stops at the first it
    gets), and one fetcher's concurrent requests never share a slot."""
    Catalog(pg_url).close()
    network = NetworkSettings(allow_private_networks=True, per_host_concurrency=3, per_host_delay=0)
    manners = SharedManners(network, pg_url)
    inside = 0
    most = 0
    held: list[int] = []

    async def request() -> None:
        nonlocal inside, most
        async with manners.turn("a.example", "a.example"):
            inside += 1
            most = max(most, inside)
            row = await manners._query(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                "AND pid = pg_backend_pid()"
            )
            held.append(row[0])
            await asyncio.sleep(0.05)
            inside -= 1

    async def run() -> int:
        try:
            await asyncio.gather(*(request() for _ in range(7)))
            row = await manners._query(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                "AND pid = pg_backend_pid()"
            )
            return int(row[0])
        finally:
            await manners.aclose()

    assert asyncio.run(run()) == 0
    assert most == 3 and max(held) == 3


def test_a_turn_is_one_statement_and_a_busy_hosts_slots_pass_from_hand_to_hand(
    pg_url: str,
) -> None:
    """Slot, pause and pace are asked in one statement; a slot given back while another
    request of the same fetcher waits for the host goes to it without asking PostgreSQL,
    and the fetcher still never has more than the host's slots."""
    Catalog(pg_url).close()
    network = NetworkSettings(allow_private_networks=True, per_host_concurrency=1, per_host_delay=0)
    manners = SharedManners(network, pg_url)
    sent = _counting(manners)
    inside = most = 0

    async def request() -> None:
        nonlocal inside, most
        async with manners.turn("a.example", "a.example") as held:
            assert held == 0
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.1)
            inside -= 1

    async def run() -> tuple[int, int]:
        try:
            await request()
            alone = len(sent)
            await asyncio.gather(*(request() for _ in range(6)))
            row = await manners._query(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                "AND pid = pg_backend_pid()"
            )
            return alone, int(row[0])
        finally:
            await manners.aclose()

    alone, left = asyncio.run(run())
    assert alone == 2  # the turn, and the slot unlocked after it
    assert most == 1 and left == 0
    unlocks = [s for s in sent if "pg_advisory_unlock" in s]
    assert len(unlocks) == 2  # the first request's, and the last of the six
    handed = [s for s in sent if s.startswith("WITH") and "pg_try_advisory_lock" not in s]
    assert len(handed) == 5  # five of the six had the slot handed to them


def test_a_pause_asked_for_after_a_fetchers_last_look_still_stops_its_request(
    server: FakeServer, pg_url: str
) -> None:
    """A fetcher goes by the pause it read a moment ago only before queueing: its turn
    reads the catalog, so a pause another worker was asked for meanwhile holds it."""
    Catalog(pg_url).close()
    page = server.routes["/p"] = Counting(0)
    network = NetworkSettings(allow_private_networks=True, per_host_delay=0, max_retry_wait=5)
    first, second = _fetchers(network, pg_url)
    where = server.url("/p").split("/")[2]  # host and port: what a pause is asked for

    async def run() -> None:
        try:
            assert (await first.get(server.url("/p"))).status == 200  # looked: no pause
            await second.manners.hold(where, 30)
            assert await first.manners.held_for(where) == 0  # its look is fresh
            with pytest.raises(FetchError, match="wants no requests for"):
                await first.get(server.url("/p"))
        finally:
            await first.aclose()
            await second.aclose()

    asyncio.run(run())
    assert len(page.starts) == 1


def test_a_cut_connection_loses_no_answer_and_the_next_statement_connects_again(
    pg_url: str,
) -> None:
    """A worker outlives a database restart: the slots went with the old connection (so
    a request that had one keeps its answer), and its fetcher, shared by the process's
    jobs, asks on a new connection."""

    Catalog(pg_url).close()
    network = NetworkSettings(allow_private_networks=True, per_host_delay=0)
    manners = SharedManners(network, pg_url)

    async def run() -> tuple[int, int]:
        try:
            async with manners.turn("a.example", "a.example"):
                pid = await _terminate(manners, pg_url)
            async with manners.turn("a.example", "a.example") as held:
                assert held == 0
                again = (await manners._query("SELECT pg_backend_pid()"))[0]
            return pid, again
        finally:
            await manners.aclose()

    pid, again = asyncio.run(run())
    assert again != pid


def test_a_request_that_outlives_its_connection_keeps_its_slot(pg_url: str) -> None:
    """Slots are locks of a connection; a request is not.  When the connection is cut
    while requests of the worker go on, the next statement takes their slots again, so
    another worker does not get them before they end; one taken by another meanwhile is
    neither unlocked nor handed on by the first when its request ends."""
    import psycopg

    Catalog(pg_url).close()
    network = NetworkSettings(allow_private_networks=True, per_host_concurrency=1, per_host_delay=0)
    host = "a.example"

    async def cut(manners: SharedManners) -> None:
        await _terminate(manners, pg_url)
        with pytest.raises(psycopg.OperationalError):
            await manners._query("SELECT 1")

    async def got_turn(manners: SharedManners, within: float) -> bool:
        try:
            async with asyncio.timeout(within), manners.turn(host, host):
                return True
        except TimeoutError:
            return False

    async def run() -> list[bool]:
        first, other = SharedManners(network, pg_url), SharedManners(network, pg_url)
        seen = []
        try:
            async with first.turn(host, host):
                await cut(first)
                await first._query("SELECT 1")  # a new connection: the slot is taken again
                seen.append(await got_turn(other, 0.5))  # not while the request goes on
            seen.append(await got_turn(other, 5))  # given back when it ended

            async with first.turn(host, host):
                await cut(first)
                # Before the first asks again, the other takes the slot and keeps it.
                keeper = other.turn(host, host)
                await keeper.__aenter__()
                waiting = asyncio.create_task(got_turn(first, 1.0))
                await asyncio.sleep(0.2)  # the first's own next request waits for a slot
            seen.append(await waiting)  # not handed the slot the other holds
            await keeper.__aexit__(None, None, None)
            seen.append(await got_turn(first, 5))
            return seen
        finally:
            await first.aclose()
            await other.aclose()

    assert asyncio.run(run()) == [False, True, False, True]


def test_a_slot_handed_on_over_a_cut_connection_is_neither_kept_nor_lost(pg_url: str) -> None:
    """A request waiting for the host is handed the slot of one that ended; its statement
    finds the connection cut (the slot went with it), so it fails and nothing is held or
    counted astray: the next turns of either worker get the host's slot."""
    import psycopg

    Catalog(pg_url).close()
    network = NetworkSettings(allow_private_networks=True, per_host_concurrency=1, per_host_delay=0)
    host = "a.example"

    async def run() -> tuple[bool, bool]:
        first, other = SharedManners(network, pg_url), SharedManners(network, pg_url)

        async def waiting() -> None:
            async with first.turn(host, host):
                pass

        try:
            async with first.turn(host, host):
                task = asyncio.create_task(waiting())
                await asyncio.sleep(0.3)  # it asked, found the slot taken, and waits
                await _terminate(first, pg_url)
            with pytest.raises(psycopg.OperationalError):
                await task
            clean = not first._astray and not first._mine and not first._unheld
            async with asyncio.timeout(5), other.turn(host, host):
                pass
            async with asyncio.timeout(5), first.turn(host, host):
                pass
            return clean, not first._astray
        finally:
            await first.aclose()
            await other.aclose()

    assert asyncio.run(run()) == (True, True)


def test_a_request_ending_while_its_slot_is_taken_again_leaves_it_free(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The slot of a request that outlived its connection is taken again by the next
    statement; when the request ends while that statement runs, the slot is given back
    then, not kept by a worker with no request to give it back."""
    import psycopg

    from newsmirror.fetch import polite

    Catalog(pg_url).close()
    network = NetworkSettings(allow_private_networks=True, per_host_concurrency=1, per_host_delay=0)
    host = "a.example"
    rest = polite._RETAKE.split(" FROM ", 1)[1]  # a slow statement taking slots again
    monkeypatch.setattr(polite, "_RETAKE", "SELECT k, n FROM (SELECT pg_sleep(0.5)) s, " + rest)

    async def run() -> tuple[int, int]:
        first = SharedManners(network, pg_url)
        try:
            async with first.turn(host, host):
                await _terminate(first, pg_url)
                with pytest.raises(psycopg.OperationalError):
                    await first._query("SELECT 1")
                asking = asyncio.create_task(first._query("SELECT pg_backend_pid()"))
                await asyncio.sleep(0.2)  # the slot is being taken again: the request ends
            pid = (await asking)[0]
            async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as c:
                cur = await c.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = %s",
                    (pid,),
                )
                held = (await cur.fetchone())[0]
            return held, len(first._mine) + len(first._astray)
        finally:
            await first.aclose()

    assert asyncio.run(run()) == (0, 0)


def test_turns_over_connections_cut_at_random_leave_nothing_held_and_never_hang(
    pg_url: str,
) -> None:
    """Two workers' requests to one host while their connections are cut at random
    moments: every turn ends (given or failed with the connection), and afterwards
    neither holds a slot, in PostgreSQL or in its own books, so the host has all its
    slots for the next."""
    import random

    import psycopg

    Catalog(pg_url).close()
    network = NetworkSettings(allow_private_networks=True, per_host_concurrency=2, per_host_delay=0)
    host = "a.example"
    rng = random.Random(5)

    async def run() -> tuple[int, int, list[int]]:
        workers = [SharedManners(network, pg_url) for _ in range(2)]
        done = failed = 0

        async def request(m: SharedManners) -> None:
            nonlocal done, failed
            try:
                async with m.turn(host, host):
                    await asyncio.sleep(rng.uniform(0, 0.03))
                done += 1
            except psycopg.OperationalError:
                failed += 1  # its statement met the cut connection: that page's error

        async def cutting() -> None:
            async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as c:
                for _ in range(12):
                    await asyncio.sleep(rng.uniform(0.02, 0.12))
                    await c.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE pid <> pg_backend_pid() AND datname = current_database() "
                        "AND application_name = '' ORDER BY random() LIMIT 1"
                    )

        try:
            async with asyncio.timeout(60):
                cutter = asyncio.create_task(cutting())
                for _ in range(6):
                    await asyncio.gather(*(request(workers[i % 2]) for i in range(30)))
                await cutter
            left = []
            for m in workers:
                row = await m._query(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND pid = pg_backend_pid()"
                )
                left.append(int(row[0]) + len(m._mine) + len(m._astray) + len(m._unheld))
            if left == [0, 0]:  # and the host's slots are all there for the next
                for m in workers:
                    async with asyncio.timeout(5), m.turn(host, host), m.turn(host, host):
                        pass
            return done, failed, left
        finally:
            for m in workers:
                await m.aclose()

    done, failed, left = asyncio.run(run())
    assert done + failed == 180 and done > 90
    assert left == [0, 0]


def test_a_turn_whose_statement_fails_after_taking_a_slot_keeps_none(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session's advisory lock outlives the failed statement that took it; the turn
    gives it back, or the host would have one slot less for as long as the worker lives."""
    from newsmirror.fetch import polite

    Catalog(pg_url).close()
    network = NetworkSettings(allow_private_networks=True, per_host_delay=0)
    manners = SharedManners(network, pg_url)
    # The slot is taken, then the row fails: a division by zero where the pause would be.
    failing = (
        "SELECT s.n, 1 / (s.n - s.n) FROM "
        "(SELECT n FROM unnest(%s::int[]) AS n WHERE pg_try_advisory_lock(%s, n) LIMIT 1) s, "
        "(SELECT %s::text, %s::text, %s::int, %s::int, %s::int) AS unused"
    )

    async def run() -> tuple[int, int]:
        try:
            monkeypatch.setattr(polite, "_TURN_TRYING", failing)
            with pytest.raises(Exception, match="division by zero"):
                async with manners.turn("a.example", "a.example"):
                    pass
            row = await manners._query(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                "AND pid = pg_backend_pid()"
            )
            monkeypatch.undo()
            async with manners.turn("a.example", "a.example"):
                inside = len(manners._mine)
            return int(row[0]), inside
        finally:
            await manners.aclose()

    assert asyncio.run(run()) == (0, 1)
