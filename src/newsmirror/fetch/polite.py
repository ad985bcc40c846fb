"""How politely a host is asked: at most so many requests at once, one start per delay,
nothing while the server asked for a pause (429/503 with Retry-After), and a count of
the pages each server refused, by which the page fetchers leave a refusing server alone.

:class:`LocalManners` keeps that in the process (one ``update``).  :class:`SharedManners`
keeps it in the PostgreSQL catalog, so every worker on every machine counts against the
same limits: ten workers are as polite to a host as one.  Its slots are PostgreSQL
session advisory locks, so a worker that dies (its connection with it) gives its slots
back at once; its clock is the database's, so machines' clocks need not agree.
"""

from __future__ import annotations

import asyncio
import random
import zlib
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

from ..config import NetworkSettings


class Manners(Protocol):
    """What a :class:`~newsmirror.fetch.http.Fetcher` asks before and after a request."""

    def slot(self, host: str) -> Any:
        """An async context manager: one of the host's concurrent requests."""

    async def pace(self, host: str) -> None:
        """Wait for this request's turn to start (one start per delay per host)."""

    async def held_for(self, server: str) -> float:
        """Seconds the server still asked us to wait (0: none)."""

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

    def slot(self, host: str) -> asyncio.Semaphore:
        return self._hosts[host]

    async def pace(self, host: str) -> None:
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


def _key(host: str) -> int:
    """A host's advisory-lock key (a signed 32-bit integer)."""
    h = zlib.crc32(host.encode("utf-8", "surrogatepass")) ^ _LOCK_CLASS
    return h - (1 << 32) if h >= 1 << 31 else h


class SharedManners:
    """Limits kept in the PostgreSQL catalog's ``hosts`` table and advisory locks, for
    every process sharing that catalog.  One connection per fetcher."""

    def __init__(self, network: NetworkSettings, url: str) -> None:
        self.network = network
        self.url = url
        self._conn: Any = None
        self._lock = asyncio.Lock()  # one statement at a time on the connection
        self._mine: set[tuple[int, int]] = set()  # advisory locks are re-entrant per session
        # server -> (count, loop time it was read): read again after REFUSALS_FRESH, so a
        # burst of one server's pages costs one query, not one each.
        self._refusals: dict[str, tuple[int, float]] = {}

    async def _query(self, sql: str, *params: Any) -> Any:
        async with self._lock:
            return await self._execute(sql, *params)

    async def _execute(self, sql: str, *params: Any) -> Any:
        """A statement on the connection (made at the first); the caller holds the lock."""
        if self._conn is None:
            import psycopg

            self._conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
        cur = await self._conn.execute(sql, params)
        return await cur.fetchone() if cur.description else None

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        key = _key(host)
        taken = await self._take(key)
        try:
            yield
        finally:
            self._mine.discard((key, taken))
            await self._query("SELECT pg_advisory_unlock(%s, %s)", key, taken)

    async def _take(self, key: int) -> int:
        """One of the host's ``per_host_concurrency`` slots, waiting until one is free.

        One query tries the free-to-us slots in order and stops at the first it gets (the
        lock is in the filter, which a ``LIMIT 1`` scan stops evaluating at the first row
        it passes), where a query per slot made a busy host cost a round trip for each
        slot other workers hold."""
        wait = 0.02
        while True:
            # Under the lock from choosing to noting: the session's locks are re-entrant,
            # so two of its requests must never try the same slot.
            async with self._lock:
                free = [
                    n
                    for n in range(self.network.per_host_concurrency)
                    if (key, n) not in self._mine
                ]
                row = await self._execute(
                    "SELECT n FROM unnest(%s::int[]) AS n "
                    "WHERE pg_try_advisory_lock(%s, n) LIMIT 1",
                    free,
                    key,
                )
                if row is not None:
                    self._mine.add((key, row[0]))
                    return int(row[0])
            await asyncio.sleep(wait * random.uniform(0.5, 1.5))
            wait = min(wait * 2, 0.5)

    async def pace(self, host: str) -> None:
        delay = round(self.network.per_host_delay * 1000)
        if delay <= 0:
            return
        row = await self._query(
            f"INSERT INTO hosts (name, next_ms, asked_ms) SELECT %s, t.ms + %s, t.ms "
            f"FROM {_NOW} t ON CONFLICT (name) DO UPDATE SET "
            "next_ms = greatest(hosts.next_ms + %s, EXCLUDED.next_ms), "
            "asked_ms = EXCLUDED.asked_ms RETURNING next_ms - asked_ms",
            "pace " + host,
            delay,
            delay,
        )
        wait = (row[0] - delay) / 1000
        if wait > 0:
            await asyncio.sleep(wait)

    async def held_for(self, server: str) -> float:
        row = await self._query(
            f"SELECT max(hold_until_ms - t.ms) FROM hosts, {_NOW} t WHERE name = %s",
            "hold " + server,
        )
        return max(0.0, (row[0] or 0) / 1000)

    async def hold(self, server: str, seconds: float) -> None:
        await self._query(
            f"INSERT INTO hosts (name, hold_until_ms) SELECT %s, t.ms + %s "
            f"FROM {_NOW} t ON CONFLICT (name) DO UPDATE SET "
            "hold_until_ms = greatest(hosts.hold_until_ms, EXCLUDED.hold_until_ms)",
            "hold " + server,
            round(seconds * 1000),
        )

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
