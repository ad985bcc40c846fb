"""httpx's transport on a network backend that answers the pool's one hot question cheaply.

Whenever a request starts or ends, httpcore's pool asks every idle connection whether the
server has closed it ("is it readable?").  The anyio stream answers by building a table of
all its socket attributes, with a ``getpeername`` call, each time: in a pass over 200 feeds
that was ~17,000 questions and an eighth of the main process's CPU, more than the fetching
itself.  The streams here keep their socket, and the backend answers all the questions of
one task step with one zero-timeout poll of all its sockets: one system call where there
were one per idle connection, each releasing the GIL (and waiting to take it back from
the threads writing files: a tenth of the event loop's time).  Every other call goes to
the backend httpx would have used.

httpx takes no network backend, so the transport hands it to its pool after creating it.
Should a later httpx build its pool differently, the transport stays as httpx made it:
slower, never wrong.
"""

from __future__ import annotations

import asyncio
import functools
import select
import socket
import ssl
import weakref
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx


def readable(sock: socket.socket | None) -> bool:
    """True when an idle connection has something to read: the server closed it (EOF) or
    sent bytes nobody asked for; either way it must not carry another request."""
    if sock is None or sock.fileno() < 0:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


class Readiness:
    """Which of a backend's sockets are readable, asked of the kernel once per task step.

    httpcore asks about each idle connection in turn, in one synchronous stretch of the
    task that starts or ends a request: one poll of every socket answers them all.  The
    answers hold for that step only (another task's step, or the next, polls again): a
    server's close that lands during the step is seen by the next one, microseconds
    later, as a close landing just after a poll always was.
    """

    def __init__(self) -> None:
        self.streams: weakref.WeakSet[Stream] = weakref.WeakSet()
        self._answers: dict[int, bool] = {}
        self._step: object = None  # the task whose step the answers belong to
        self.polls = 0

    def readable(self, sock: socket.socket) -> bool:
        """Like :func:`readable`, from this step's poll."""
        fd = sock.fileno()
        if fd < 0:
            return True
        try:
            task = asyncio.current_task()
        except RuntimeError:  # no event loop: nothing to share the answer with
            task = None
        if task is None:
            self.polls += 1
            return readable(sock)
        if self._step is not task or fd not in self._answers:
            self._poll(task, fd)
        return self._answers[fd]

    def _poll(self, task: object, fd: int) -> None:
        poller = select.poll()
        fds = {fd}
        for stream in list(self.streams):
            other = stream.sock.fileno() if stream.sock is not None else -1
            if other >= 0:
                fds.add(other)
        for each in fds:
            poller.register(each, select.POLLIN)
        ready = {each for each, _events in poller.poll(0)}
        self.polls += 1
        self._answers = {each: each in ready for each in fds}
        if self._step is None:
            asyncio.get_running_loop().call_soon(self._forget)
        self._step = task

    def _forget(self) -> None:
        """End of the step: the next question polls again, even from the same task."""
        self._step = None
        self._answers = {}


class Stream(httpcore.AsyncNetworkStream):
    """A network stream that answers ``is_readable`` from the socket it keeps."""

    def __init__(self, inner: httpcore.AsyncNetworkStream, readiness: Readiness) -> None:
        self.inner = inner
        self.sock: socket.socket | None = inner.get_extra_info("socket")
        self.readiness = readiness
        readiness.streams.add(self)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self.inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self.inner.write(buffer, timeout)

    async def aclose(self) -> None:
        self.readiness.streams.discard(self)
        await self.inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        tls = await self.inner.start_tls(ssl_context, server_hostname, timeout)
        self.readiness.streams.discard(self)  # the TLS stream answers for the socket now
        return Stream(tls, self.readiness)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable" and self.sock is not None:
            return self.readiness.readable(self.sock)  # TLS too: the socket is the same
        return self.inner.get_extra_info(info)


class Backend(httpcore.AsyncNetworkBackend):
    """Wraps the streams of another backend in :class:`Stream`."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self.inner = inner
        self.readiness = Readiness()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return Stream(
            await self.inner.connect_tcp(host, port, timeout, local_address, socket_options),
            self.readiness,
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        return Stream(
            await self.inner.connect_unix_socket(path, timeout, socket_options), self.readiness
        )

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


@functools.cache
def _tls() -> ssl.SSLContext:
    """The verifying TLS context, made once per process: loading the CA store costs
    ~40 ms, and a worker makes a fetcher for every job."""
    return httpx.create_ssl_context(trust_env=False)


def transport(limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    """httpx's own transport, its pool on a :class:`Backend` when it can be reached."""
    t = httpx.AsyncHTTPTransport(verify=_tls(), limits=limits, trust_env=False)
    pool = getattr(t, "_pool", None)
    inner = getattr(pool, "_network_backend", None)
    if isinstance(pool, httpcore.AsyncConnectionPool) and isinstance(
        inner, httpcore.AsyncNetworkBackend
    ):
        pool._network_backend = Backend(inner)
    return t
