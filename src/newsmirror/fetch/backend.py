"""httpx's transport on a network backend that answers the pool's one hot question cheaply.

Whenever a request starts or ends, httpcore's pool asks every idle connection whether the
server has closed it ("is it readable?").  The anyio stream answers by building a table of
all its socket attributes, with a ``getpeername`` call, each time: in a pass over 200 feeds
that was ~17,000 questions and an eighth of the main process's CPU, more than the fetching
itself.  The streams here keep their socket and ask it directly (a zero-timeout poll); every
other call goes to the backend httpx would have used.

httpx takes no network backend, so the transport hands it to its pool after creating it.
Should a later httpx build its pool differently, the transport stays as httpx made it:
slower, never wrong.
"""

from __future__ import annotations

import functools
import select
import socket
import ssl
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


class Stream(httpcore.AsyncNetworkStream):
    """A network stream that answers ``is_readable`` from the socket it keeps."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self.inner = inner
        self.sock: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self.inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self.inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return Stream(await self.inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable" and self.sock is not None:
            return readable(self.sock)  # TLS too: the socket under it is the same
        return self.inner.get_extra_info(info)


class Backend(httpcore.AsyncNetworkBackend):
    """Wraps the streams of another backend in :class:`Stream`."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self.inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return Stream(
            await self.inner.connect_tcp(host, port, timeout, local_address, socket_options)
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        return Stream(await self.inner.connect_unix_socket(path, timeout, socket_options))

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
