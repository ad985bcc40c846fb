"""The HTTP client: httpx with the limits a long-running mirror needs.

- a total deadline per request (not only per read: a server dripping one byte every few
  seconds is cut off), and a cap on the *decoded* size, so a gzip bomb stops too;
- redirects followed by hand, each hop's scheme and address checked (see ``guard``);
- conditional GET: ``If-None-Match`` / ``If-Modified-Since``, a 304 costs one round trip;
- concurrency limited overall and per host;
- a User-Agent that names the project.

Tests use a real HTTP server on 127.0.0.1; ``transport`` exists for embedding.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TypedDict

import ada_url
import httpx

from .. import urls
from ..config import NetworkSettings
from ..errors import FetchError, reason
from . import backend
from .guard import check_host
from .polite import LocalManners, Manners, SharedManners

log = logging.getLogger(__name__)

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)")


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def max_age(cache_control: str | None) -> float | None:
    """``max-age`` of a Cache-Control header, unless the answer may not be reused at all."""
    if not cache_control or "no-store" in cache_control or "no-cache" in cache_control:
        return None
    m = _MAX_AGE.search(cache_control)
    return float(m.group(1)) if m else None


# Checks a host before connecting; returns the address to connect to (None: by name).
Guard = Callable[[str, int], Awaitable[str | None]]


@dataclass(frozen=True, slots=True)
class Response:
    """A complete response: final URL, status, decoded body and the validators."""

    url: str
    status: int
    content: bytes
    content_type: str
    etag: str | None
    last_modified: str | None
    max_age: float | None = None
    # The exchange as it went, for evidence (WARC records): the request's headers, the
    # status line's version and reason, the response's headers (the body above is decoded).
    sent: tuple[tuple[str, str], ...] = ()
    http_version: str = "HTTP/1.1"
    reason: str = ""
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def not_modified(self) -> bool:
        """True for a 304 answer to a conditional request."""
        return self.status == 304


class Decoder:
    """Undoes a response's ``Content-Encoding`` layers chunk by chunk, never producing more
    than ``cap`` bytes from any layer.

    httpx decompresses each chunk whole, and stacked layers (``gzip, gzip``) multiply: a
    7 KB answer became 8 GB before any limit was checked.  Here each layer inflates at most
    what the cap still allows, so memory and time stay bounded by the cap.
    """

    def __init__(self, url: str, header: str, cap: int) -> None:
        self.url = url
        self.cap = cap
        self.size = 0
        names = [n.strip().lower() for n in header.split(",") if n.strip()]
        names = [n for n in names if n != "identity"]
        if len(names) > 3:
            raise FetchError(f"{url}: {len(names)} stacked content encodings refused")
        self.layers: list[Any] = []
        for name in reversed(names):  # the last applied is the first undone
            if name in ("gzip", "x-gzip"):
                self.layers.append(zlib.decompressobj(16 + zlib.MAX_WBITS))
            elif name == "deflate":
                self.layers.append(_Deflate())
            else:
                raise FetchError(f"{url}: unsupported Content-Encoding {name!r}")

    def _too_large(self) -> FetchError:
        return FetchError(
            f"{self.url}: response exceeds the {self.cap}-byte limit (after decompression)",
            too_large=True,
        )

    def feed(self, data: bytes) -> bytes:
        """The decoded bytes of one more raw chunk."""
        for layer in self.layers:
            data = self._inflate(layer, data)
        self.size += len(data)
        if self.size > self.cap:
            raise self._too_large()
        return data

    def _inflate(self, layer: Any, data: bytes) -> bytes:
        out: list[bytes] = []
        produced = 0
        try:
            while data:
                piece = layer.decompress(data, self.cap + 1 - produced)
                produced += len(piece)
                if produced > self.cap:
                    raise self._too_large()
                out.append(piece)
                data = layer.unconsumed_tail
                if not piece and data:
                    break  # no progress: the stream is over (trailing bytes are ignored)
        except zlib.error as e:
            raise FetchError(f"{self.url}: bad compressed body: {e}") from e
        return b"".join(out)

    def flush(self) -> bytes:
        """What the layers still hold at the end of the body."""
        data = b""
        for layer in self.layers:
            data = self._inflate(layer, data) + layer.flush(self.cap + 1)
        self.size += len(data)
        if self.size > self.cap:
            raise self._too_large()
        return data


class _Deflate:
    """HTTP "deflate": zlib-wrapped as the RFC says, or raw as some servers send it."""

    def __init__(self) -> None:
        self._d: Any = None
        self.unconsumed_tail = b""

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if self._d is None:
            self._d = zlib.decompressobj(zlib.MAX_WBITS)
            try:
                return self._step(data, max_length)
            except zlib.error:
                self._d = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._step(data, max_length)

    def _step(self, data: bytes, max_length: int) -> bytes:
        out: bytes = self._d.decompress(data, max_length)
        self.unconsumed_tail = self._d.unconsumed_tail
        return out

    def flush(self, length: int) -> bytes:
        return self._d.flush(length) if self._d is not None else b""


def _ms(started: float) -> float:
    return (time.monotonic() - started) * 1000


def sendable(value: str) -> bool:
    """A header value that can be sent back as it came: printable ASCII, bounded."""
    return len(value) <= 1024 and value.isascii() and value.isprintable()


def validator(value: str | None) -> str | None:
    """An ``ETag``/``Last-Modified`` worth keeping: one we can send back (a non-ASCII one,
    stored, made every later request of the source fail before it left)."""
    return value if value is not None and sendable(value) else None


class _Exchange(TypedDict):
    sent: tuple[tuple[str, str], ...]
    http_version: str
    reason: str
    headers: tuple[tuple[str, str], ...]


def _exchange_of(r: httpx.Response) -> _Exchange:
    """The parts of an exchange a :class:`Response` keeps for evidence."""
    return {
        "sent": tuple(r.request.headers.multi_items()),
        "http_version": r.http_version,
        "reason": r.reason_phrase,
        "headers": tuple(r.headers.multi_items()),
    }


GONE_BODY_CAP = 256 * 1024  # of a 404/410 answer's body, kept as evidence of a take-down


class Fetcher:
    """Fetches URLs under one :class:`NetworkSettings`.  Use as an async context manager."""

    def __init__(
        self,
        network: NetworkSettings,
        transport: httpx.AsyncBaseTransport | None = None,
        guard: Guard | None = None,
        manners: Manners | None = None,
    ) -> None:
        self.network = network
        # Checks each hop's host before connecting; None when private networks are allowed.
        self.guard = guard or (None if network.allow_private_networks else check_host)
        timeout = httpx.Timeout(network.timeout, connect=network.connect_timeout)
        limits = httpx.Limits(
            max_connections=network.concurrency, max_keepalive_connections=network.concurrency
        )
        self.client = httpx.AsyncClient(
            timeout=timeout,
            transport=transport or backend.transport(limits),  # limits belong to a transport
            follow_redirects=False,
            headers={"User-Agent": network.user_agent, "Accept-Encoding": "gzip, deflate"},
            trust_env=False,
        )
        self._all = asyncio.Semaphore(network.concurrency)
        # Per-host limits and pauses: in this process, or shared through the catalog.
        self.manners: Manners = manners or LocalManners(network)

    @classmethod
    def sharing(cls, network: NetworkSettings, url: str) -> Fetcher:
        """A fetcher whose per-host limits and pauses are kept in the PostgreSQL catalog
        at ``url``, shared with every worker of that catalog."""
        return cls(network, manners=SharedManners(network, url))

    async def _honour_hold(self, server: str, url: str) -> None:
        """Wait while ``server`` asked for a pause; fail at once if it asked for too long."""
        wait = await self.manners.held_for(server)
        if wait <= 0:
            return
        if wait > self.network.max_retry_wait:
            raise FetchError(
                f"{url}: not asked, {server} wants no requests for {wait:.0f} s more",
                status=429,
                retry_after=wait,
            )
        await asyncio.sleep(wait)

    async def get_retrying(
        self,
        url: str,
        *,
        accept: str | None = None,
        max_bytes: int | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> Response:
        """:meth:`get`, asked again after a transient failure (429, 5xx, network).

        Up to ``retries`` more attempts, waiting ``retry_delay`` doubled each time (with a
        little jitter so parallel fetches do not return in step), or what Retry-After
        says; an answer asking for more than ``max_retry_wait`` is final for this pass.
        """
        attempt = 0
        while True:
            try:
                return await self.get(
                    url,
                    accept=accept,
                    max_bytes=max_bytes,
                    etag=etag,
                    last_modified=last_modified,
                )
            except FetchError as e:
                if attempt >= self.network.retries or not e.transient:
                    raise
                wait = e.retry_after
                if wait is None:
                    wait = self.network.retry_delay * 2**attempt * random.uniform(1.0, 1.25)
                if wait > self.network.max_retry_wait:
                    raise
                attempt += 1
                log.debug("retry %d of %s in %.1f s after: %s", attempt, url, wait, e)
                await asyncio.sleep(wait)

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close pooled connections and give back what the manners hold."""
        try:
            await self.client.aclose()
        finally:
            await self.manners.aclose()

    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str | None = None,
        max_bytes: int | None = None,
    ) -> Response:
        """GET ``url`` within every limit; raises :class:`FetchError` naming the URL.

        ``max_bytes`` lowers the decoded-size cap for this request (images in copy mode).
        """
        headers: dict[str, str] = {}
        if etag and sendable(etag):
            headers["If-None-Match"] = etag
        if last_modified and sendable(last_modified):
            headers["If-Modified-Since"] = last_modified
        if accept:
            headers["Accept"] = accept
        try:
            async with asyncio.timeout(self.network.timeout):
                return await self._follow(url, headers, max_bytes)
        except TimeoutError:
            raise FetchError(
                f"{url}: no complete answer within {self.network.timeout:g} s", network=True
            ) from None

    async def _follow(
        self, url: str, headers: dict[str, str], max_bytes: int | None = None
    ) -> Response:
        current = url
        for _hop in range(self.network.max_redirects + 1):
            u = self._check_url(current)
            host = str(u.hostname)
            pinned = None
            if self.guard is not None:
                pinned = await self.guard(
                    host.strip("[]"), int(u.port or (443 if u.protocol == "https:" else 80))
                )
            response = await self._request(str(u.host), host, current, headers, pinned, max_bytes)
            if isinstance(response, Response):
                return response
            # A redirect: validators belong to the original URL only.
            current = response
            headers = {k: v for k, v in headers.items() if k == "Accept"}
        raise FetchError(f"{url}: more than {self.network.max_redirects} redirects")

    async def _request(
        self,
        server: str,
        host: str,
        url: str,
        headers: dict[str, str],
        pinned: str | None,
        max_bytes: int | None,
    ) -> Response | str:
        """One hop, after any pause the server asked for, within the concurrency limits."""
        while True:
            await self._honour_hold(server, url)
            async with self._all, self.manners.turn(host, server) as held:
                if held > 0:
                    continue  # a pause began while we queued: give the turn back, wait
                return await self._one(url, headers, server, pinned, max_bytes)

    @staticmethod
    def _check_url(url: str) -> ada_url.URL:
        try:
            u = urls.parse(url)
        except urls.BadURLError as e:
            raise FetchError(str(e)) from e
        if u.protocol not in ("http:", "https:"):
            raise FetchError(f"{url}: only http and https are fetched")
        return u

    @staticmethod
    def _pin(url: str, headers: dict[str, str], address: str) -> tuple[str, dict[str, Any]]:
        """The request URL naming ``address`` instead of the host, keeping the name for
        the Host header and for TLS (SNI and certificate verification)."""
        u = urls.parse(url)
        host, hostname = str(u.host), str(u.hostname)
        u.hostname = f"[{address}]" if ":" in address else address
        headers["Host"] = host
        extensions = {"sni_hostname": hostname.strip("[]")} if u.protocol == "https:" else {}
        return str(u.href), extensions

    async def _one(
        self,
        url: str,
        headers: dict[str, str],
        server: str,
        pinned: str | None = None,
        max_bytes: int | None = None,
    ) -> Response | str:
        """One request; a redirect returns the next URL instead of a response.

        ``url`` stays the logical URL (for redirects, errors and the response) even when the
        connection goes to a pinned address.
        """
        cap = min(self.network.max_response_bytes, max_bytes or self.network.max_response_bytes)
        started = time.monotonic()
        try:
            result = await self._exchange(url, headers, server, pinned, cap)
        except FetchError as e:
            log.debug("GET %s failed after %.0f ms: %s", url, _ms(started), e)
            raise
        if isinstance(result, str):
            log.debug("GET %s -> redirect to %s (%.0f ms)", url, result, _ms(started))
        else:
            validated = "If-None-Match" in headers or "If-Modified-Since" in headers
            log.debug(
                "GET %s -> %d, %d bytes, %.0f ms%s",
                url,
                result.status,
                len(result.content),
                _ms(started),
                " (conditional)" if validated else "",
            )
        return result

    @staticmethod
    async def _body(r: httpx.Response, url: str, cap: int) -> bytes:
        """The response's body, decoded layer by layer within ``cap``."""
        decoder = Decoder(url, r.headers.get("Content-Encoding", ""), cap)
        chunks = []
        async for raw in r.aiter_raw():
            chunks.append(decoder.feed(raw))
        chunks.append(decoder.flush())
        return b"".join(chunks)

    async def _exchange(
        self, url: str, headers: dict[str, str], server: str, pinned: str | None, cap: int
    ) -> Response | str:
        target: str = url
        extensions: dict[str, Any] = {}
        if pinned:
            headers = dict(headers)
            target, extensions = self._pin(url, headers, pinned)
        try:
            async with self.client.stream(
                "GET", target, headers=headers, extensions=extensions
            ) as r:
                if r.status_code in _REDIRECTS:
                    location = r.headers.get("Location")
                    if not location:
                        raise FetchError(
                            f"{url}: HTTP {r.status_code} without Location", status=r.status_code
                        )
                    try:
                        return urls.serialize(location, url, keep_tracking=True)
                    except urls.BadURLError as e:
                        raise FetchError(f"{url}: bad redirect target: {e}") from e
                if r.status_code == 304:
                    return Response(
                        url,
                        304,
                        b"",
                        "",
                        validator(r.headers.get("ETag")),
                        validator(r.headers.get("Last-Modified")),
                        **_exchange_of(r),
                    )
                if r.status_code >= 400:
                    wait = None
                    if r.status_code in (429, 503):
                        wait = retry_after(r.headers.get("Retry-After"))
                        await self.manners.hold(
                            server, wait if wait is not None else self.network.retry_delay
                        )
                    error = FetchError(
                        f"{url}: HTTP {r.status_code} {r.reason_phrase}"
                        + (f" (retry after {wait:.0f} s)" if wait is not None else ""),
                        status=r.status_code,
                        retry_after=wait,
                    )
                    if r.status_code in (404, 410):
                        body = await self._body(r, url, min(cap, GONE_BODY_CAP))
                        error.response = Response(
                            url, r.status_code, body, r.headers.get("Content-Type", ""),
                            None, None, **_exchange_of(r),
                        )  # fmt: skip
                    raise error
                declared = r.headers.get("Content-Length")
                if (
                    declared
                    and declared.isdigit()
                    and int(declared) > cap
                    and not r.headers.get("Content-Encoding")
                ):
                    raise FetchError(
                        f"{url}: response of {declared} bytes exceeds the {cap}-byte limit",
                        too_large=True,
                    )
                return Response(
                    url,
                    r.status_code,
                    await self._body(r, url, cap),
                    r.headers.get("Content-Type", ""),
                    validator(r.headers.get("ETag")),
                    validator(r.headers.get("Last-Modified")),
                    max_age(r.headers.get("Cache-Control")),
                    **_exchange_of(r),
                )
        except httpx.TimeoutException as e:
            raise FetchError(f"{url}: timed out ({type(e).__name__})", network=True) from e
        except httpx.HTTPError as e:
            raise FetchError(f"{url}: {type(e).__name__}: {e}", network=True) from e
        except FetchError:
            raise
        except Exception as e:  # e.g. httpx.InvalidURL from a hostile Location header
            raise FetchError(f"{url}: {reason(e)}") from e
