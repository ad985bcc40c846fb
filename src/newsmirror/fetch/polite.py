"""How politely a host is asked: at most so many requests at once, one start per delay,
nothing while the server asked for a pause (429/503 with Retry-After), and a count of
the pages each server refused, by which the page fetchers leave a refusing server alone.

:class:`LocalManners` keeps that in the process (one ``update``).  :class:`SharedManners`
keeps it in the PostgreSQL catalog, so every worker on every machine counts against the
same limits: ten workers are as polite to a host as one.  Its slots are PostgreSQL
session advisory locks, so a worker that dies (its connection with it) gives its slots
back at once; a worker whose connection is cut while its requests go on takes their
slots again on the next; its clock is the database's, so machines' clocks need not agree.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import zlib
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any, Protocol

from ..config import NetworkSettings


class Manners(Protocol):
    """What a :class:`~newsmirror.fetch.http.Fetcher` asks before and after a request."""

    def turn(self, host: str, server: str) -> Any:
        """An async context manager: one of the host's concurrent requests, whose start
        is paced (one start per delay per host).  It gives the seconds the server still
        asked us to wait; when that is not 0 the turn was not paced and the caller gives
        it back and waits."""

    async def held_for(self, server: str) -> float:
        """Seconds the server still asked us to wait (0: none): a look before queueing
        for a turn, which may be a moment old where :meth:`turn`'s is not."""

    async def hold(self, server: str, seconds: float) -> None:
        """The server asked for a pause of ``seconds``."""

    async def refused(self, server: str) -> None:
        """The server refused a page (403, 429): one more in its count."""

    async def refusals(self, server: str) -> int:
        """How many pages the server refused lately (this pass, or :data:`REFUSALS_WINDOW`)."""

    async def aclose(self) -> None:
        """Give back what is held."""


# Workers have no common pass: refusals counted in the catalog are forgotten this long
# after the first of them, as a pass's are when it ends.
REFUSALS_WINDOW = 15 * 60.0  # seconds
REFUSALS_FRESH = 1.0  # seconds a worker goes by the count it read last (its own are added)
HOLDS_FRESH = 1.0  # seconds the pause a worker read is looked at before queueing (a turn reads)


class LocalManners:
    """Limits kept in this process (loop time), for the fetcher's life: one pass."""

    def __init__(self, network: NetworkSettings) -> None:
        self.network = network
        self._next_start: dict[str, float] = {}
        self._hold: dict[str, float] = {}  # loop time until which a server wants nothing
        self._refused: dict[str, int] = defaultdict(int)
        self._hosts: dict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(network.per_host_concurrency)
        )

    @asynccontextmanager
    async def turn(self, host: str, server: str) -> AsyncIterator[float]:
        async with self._hosts[host]:
            held = await self.held_for(server)
            if held <= 0:
                await self._pace(host)
            yield held

    async def _pace(self, host: str) -> None:
        delay = self.network.per_host_delay
        if delay <= 0:
            return
        loop = asyncio.get_running_loop()
        start = max(loop.time(), self._next_start.get(host, 0.0))
        self._next_start[host] = start + delay
        if start > loop.time():
            await asyncio.sleep(start - loop.time())

    async def held_for(self, server: str) -> float:
        return max(0.0, self._hold.get(server, 0.0) - asyncio.get_running_loop().time())

    async def hold(self, server: str, seconds: float) -> None:
        until = asyncio.get_running_loop().time() + seconds
        self._hold[server] = max(self._hold.get(server, 0.0), until)

    async def refused(self, server: str) -> None:
        self._refused[server] += 1

    async def refusals(self, server: str) -> int:
        return self._refused.get(server, 0)

    async def aclose(self) -> None:
        pass


# The database's clock in ms, read once per statement.
_NOW = "(SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms)"
_WINDOW_MS = round(REFUSALS_WINDOW * 1000)
_LOCK_CLASS = 0x6E6D  # the advisory locks' first key is this xor the host's hash


# A turn in one statement: ``s`` the slot (tried, or one already ours), ``h`` the
# server's pause, ``p`` the host's next start, taken only with a slot and no pause.
# The pause a server asked for, in ms from the database's now (``t``; none: NULL).
_HELD = "SELECT max(hold_until_ms - t.ms) AS ms FROM hosts, t WHERE name = %s"
_TURN = (
    f"WITH t AS MATERIALIZED {_NOW}, s AS MATERIALIZED ({{slots}}), "
    f"h AS MATERIALIZED ({_HELD}), "
    "p AS (INSERT INTO hosts (name, next_ms, asked_ms) SELECT %s, t.ms + %s, t.ms "
    "FROM s, t, h WHERE %s > 0 AND coalesce(h.ms, 0) <= 0 ON CONFLICT (name) DO UPDATE SET "
    "next_ms = greatest(hosts.next_ms + %s, EXCLUDED.next_ms), asked_ms = EXCLUDED.asked_ms "
    "RETURNING next_ms - asked_ms AS ms) "
    "SELECT s.n, h.ms, (SELECT ms FROM p) FROM s, h"
)
_TURN_TRYING = _TURN.format(
    slots="SELECT n FROM unnest(%s::int[]) AS n WHERE pg_try_advisory_lock(%s, n) LIMIT 1"
)
_TURN_HANDED = _TURN.format(slots="SELECT %s::int AS n")
_UNLOCK = "SELECT pg_advisory_unlock(k, n) FROM unnest(%s::int[], %s::int[]) AS u(k, n)"
_RETAKE = (
    "SELECT k, n FROM unnest(%s::int[], %s::int[]) AS u(k, n) WHERE pg_try_advisory_lock(k, n)"
)


def _columns(slots: Iterable[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """Slots (key, number) as the two arrays the statements unnest."""
    return [k for k, _ in slots], [n for _, n in slots]


def _key(host: str) -> int:
    """A host's advisory-lock key (a signed 32-bit integer)."""
    h = zlib.crc32(host.encode("utf-8", "surrogatepass")) ^ _LOCK_CLASS
    return h - (1 << 32) if h >= 1 << 31 else h


class SharedManners:
    """Limits kept in the PostgreSQL catalog's ``hosts`` table and advisory locks, for
    every process sharing that catalog.  One connection per fetcher.

    A worker's requests queue for that connection, so a turn costs it one statement:
    the slot, the server's pause and the pace are asked together; a slot given back
    while another of the worker's requests waits for that host goes to it without
    asking PostgreSQL; slots given back while a statement runs are unlocked together;
    and the pause looked at before queueing is one this worker read a moment ago."""

    def __init__(self, network: NetworkSettings, url: str) -> None:
        self.network = network
        self.url = url
        self._conn: Any = None
        self._lock = asyncio.Lock()  # one statement at a time on the connection
        self._mine: set[tuple[int, int]] = set()  # advisory locks are re-entrant per session
        # Slots our requests still use whose locks went with a cut connection: taken
        # again with the next, and never tried or handed on meanwhile.
        self._astray: set[tuple[int, int]] = set()
        self._waiting: dict[int, list[asyncio.Future[int]]] = defaultdict(list)
        self._unheld: list[tuple[int, int]] = []  # given back, not yet unlocked
        # server -> (loop time its pause ends, loop time that was read), and
        # server -> (refusals, loop time read): read again after HOLDS_FRESH and
        # REFUSALS_FRESH, so a burst of one server's pages costs one query, not one each.
        self._holds: dict[str, tuple[float, float]] = {}
        self._refusals: dict[str, tuple[int, float]] = {}

    async def _query(self, sql: str, *params: Any) -> Any:
        async with self._lock:
            return await self._execute(sql, *params)

    async def _execute(self, sql: str, *params: Any) -> Any:
        """A statement on the connection (made at the first); the caller holds the lock."""
        if self._conn is None:
            import psycopg

            self._conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
        try:
            if self._astray:
                await self._retake()
            cur = await self._conn.execute(sql, params)
            return await cur.fetchone() if cur.description else None
        except BaseException:
            if self._conn.closed or self._conn.broken:
                # The database restarted or the connection was cut: its slots went with
                # it, and the next statement connects again (a worker lives on).  The
                # requests that had them go on, so their slots are taken again then.
                self._conn = None
                self._astray |= self._mine - set(self._unheld)
                self._mine.clear()
                self._unheld.clear()
            raise

    async def _retake(self) -> None:
        """The slots of our requests that outlived a connection, locked again on this one.
        One another worker took meanwhile stays astray until its request gives it back:
        the host has one request more for that while, which no worker can undo."""
        astray = sorted(self._astray)
        cur = await self._conn.execute(_RETAKE, _columns(astray))
        taken = {(int(k), int(n)) for k, n in await cur.fetchall()}
        # A request may end while a statement runs (its slot no longer astray): that slot
        # is given back at once, or no request would ever give it back.
        while ended := sorted(taken - self._astray):
            await self._conn.execute(_UNLOCK, _columns(ended))
            taken -= set(ended)
        self._mine |= taken  # no await from the last look to here
        self._astray -= taken

    @asynccontextmanager
    async def turn(self, host: str, server: str) -> AsyncIterator[float]:
        key = _key(host)
        taken, held, ahead = await self._take(key, host, server)
        try:
            if ahead > 0:
                await asyncio.sleep(ahead)
            yield held
        finally:
            await self._give_back(key, taken)

    async def _take(self, key: int, host: str, server: str) -> tuple[int, float, float]:
        """One of the host's ``per_host_concurrency`` slots, waiting until one is free;
        with the seconds the server still asked us to wait and, when that is none, the
        seconds until this request's paced start.

        One statement tries the slots free to us in order and stops at the first it
        gets (the lock is in the filter, which a ``LIMIT 1`` scan stops evaluating at the
        first row it passes), reads the server's pause and, with a slot and no pause,
        takes the next start."""
        wait = 0.02
        handed: int | None = None
        while True:
            # Under the lock from choosing to noting: the session's locks are re-entrant,
            # so two of its requests must never try the same slot.
            chosen: list[Any]
            async with self._lock:
                if handed is not None and self._astray_back(key, handed):
                    handed = None  # its lock went with a connection
                if handed is not None:
                    turn, chosen = _TURN_HANDED, [handed]
                else:
                    free = [
                        n
                        for n in range(self.network.per_host_concurrency)
                        if (key, n) not in self._mine and (key, n) not in self._astray
                    ]
                    turn, chosen = _TURN_TRYING, [free, key]
                delay = self._delay_ms()
                try:
                    row = await self._execute(
                        turn,
                        *chosen, "hold " + server, "pace " + host, delay, delay, delay,
                    )  # fmt: skip
                except BaseException:
                    # A session's advisory lock outlives the statement that failed after
                    # taking it: give back the slot handed to us, or any it may have taken.
                    if handed is not None:
                        if not self._astray_back(key, handed):
                            self._unheld.append((key, handed))
                    elif self._conn is not None:  # now, before another try may take one
                        with contextlib.suppress(Exception):
                            await self._execute(_UNLOCK, [key] * len(free), free)
                    raise
                if row is not None:
                    n, held_ms, ahead_ms = int(row[0]), row[1] or 0, row[2]
                    self._mine.add((key, n))
                    self._note_hold(server, held_ms / 1000)
                    ahead = 0.0 if ahead_ms is None else (ahead_ms - delay) / 1000
                    return n, max(0.0, held_ms / 1000), ahead
            handed = await self._wait_for_slot(key, wait * random.uniform(0.5, 1.5))
            wait = min(wait * 2, 0.5)

    def _astray_back(self, key: int, n: int) -> bool:
        """Whether the slot given back was astray (not locked: nothing to unlock or hand on)."""
        if (key, n) in self._astray:
            self._astray.discard((key, n))
            return True
        return False

    def _delay_ms(self) -> int:
        return round(self.network.per_host_delay * 1000)

    async def _wait_for_slot(self, key: int, seconds: float) -> int | None:
        """A slot another of our requests gives back within ``seconds`` (None: none)."""
        handed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting[key].append(handed)
        try:
            await asyncio.wait_for(asyncio.shield(handed), seconds)
        except TimeoutError:
            pass
        except BaseException:
            if handed.done() and not self._astray_back(key, handed.result()):
                self._unheld.append((key, handed.result()))  # cancelled while handed one
            raise
        finally:
            self._waiting[key].remove(handed)
            if not self._waiting[key]:
                del self._waiting[key]
        return handed.result() if handed.done() else None

    async def _give_back(self, key: int, n: int) -> None:
        """To a request of ours waiting for this host, or unlocked with any others given
        back meanwhile (the first to get the connection unlocks them all)."""
        if self._astray_back(key, n):
            return
        for handed in self._waiting.get(key, ()):
            if not handed.done():
                handed.set_result(n)
                return
        self._unheld.append((key, n))
        async with self._lock:
            if not self._unheld:
                return
            batch, self._unheld = self._unheld, []
            self._mine.difference_update(batch)  # no request uses them: never astray
            try:
                await self._execute(_UNLOCK, *_columns(batch))
            except Exception:
                if self._conn is not None:
                    self._mine.update(batch)  # still ours: the next give-back tries again
                    self._unheld.extend(batch)
                    raise
                # the connection is gone and its locks with it: nothing to give

    def _note_hold(self, server: str, seconds: float) -> None:
        now = asyncio.get_running_loop().time()
        self._holds[server] = (now + seconds, now)

    async def held_for(self, server: str) -> float:
        now = asyncio.get_running_loop().time()
        known = self._holds.get(server)
        if known is None or now - known[1] >= HOLDS_FRESH:
            row = await self._query(
                f"WITH t AS {_NOW} {_HELD}",
                "hold " + server,
            )
            self._note_hold(server, (row[0] or 0) / 1000)
            known = self._holds[server]
        return max(0.0, known[0] - now)

    async def hold(self, server: str, seconds: float) -> None:
        await self._query(
            f"INSERT INTO hosts (name, hold_until_ms) SELECT %s, t.ms + %s "
            f"FROM {_NOW} t ON CONFLICT (name) DO UPDATE SET "
            "hold_until_ms = greatest(hosts.hold_until_ms, EXCLUDED.hold_until_ms)",
            "hold " + server,
            round(seconds * 1000),
        )
        now = asyncio.get_running_loop().time()
        until = max(self._holds.get(server, (0.0, 0.0))[0], now + seconds)
        self._holds[server] = (until, now)

    async def refused(self, server: str) -> None:
        # The row's hold_until_ms is where its count's window ends: a refusal after that
        # starts a new count and window.
        row = await self._query(
            f"INSERT INTO hosts (name, refusals, hold_until_ms) SELECT %s, 1, t.ms + %s "
            f"FROM {_NOW} t ON CONFLICT (name) DO UPDATE SET "
            "refusals = CASE WHEN hosts.hold_until_ms > EXCLUDED.hold_until_ms - %s "
            "THEN hosts.refusals + 1 ELSE 1 END, "
            "hold_until_ms = CASE WHEN hosts.hold_until_ms > EXCLUDED.hold_until_ms - %s "
            "THEN hosts.hold_until_ms ELSE EXCLUDED.hold_until_ms END RETURNING refusals",
            "refused " + server,
            _WINDOW_MS,
            _WINDOW_MS,
            _WINDOW_MS,
        )
        self._refusals[server] = (int(row[0]), asyncio.get_running_loop().time())

    async def refusals(self, server: str) -> int:
        now = asyncio.get_running_loop().time()
        known = self._refusals.get(server)
        if known is not None and now - known[1] < REFUSALS_FRESH:
            return known[0]
        row = await self._query(
            f"SELECT max(refusals) FROM hosts, {_NOW} t WHERE name = %s AND hold_until_ms > t.ms",
            "refused " + server,
        )
        self._refusals[server] = (int(row[0] or 0), now)
        return self._refusals[server][0]

    async def aclose(self) -> None:
        if self._conn is not None:
            await self._conn.close()  # its advisory locks go with it
            self._conn = None
