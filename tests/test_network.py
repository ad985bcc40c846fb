"""The HTTP client against misbehaving servers: every limit, on the wire."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import socket
import threading
import time
from pathlib import Path

import pytest

from newsmirror.config import NetworkSettings
from newsmirror.errors import BlockedAddressError, FetchError
from newsmirror.fetch.guard import address_refused, check_host
from newsmirror.fetch.http import Fetcher, Response

from . import feeds
from .conftest import write_config
from .fakeserver import Answer, FakeServer


def fetch(url: str, *, guard: object = None, **network: object) -> Response:
    settings = NetworkSettings(**{"allow_private_networks": True, **network})  # type: ignore[arg-type]

    async def go() -> Response:
        async with Fetcher(settings, guard=guard) as f:  # type: ignore[arg-type]
            return await f.get(url)

    return asyncio.run(go())


async def public_localhost(host: str, port: int) -> str | None:
    """The real guard, except that the name "localhost" stands for a public host."""
    if host != "localhost":
        return await check_host(host, port)
    return None


def test_connection_goes_to_the_checked_address(server: FakeServer) -> None:
    """DNS rebinding: the guard's answer is used, the name is not resolved again."""
    server.routes["/feed"] = b"<rss/>"
    port = server.url("/").split(":")[2].split("/")[0]

    async def checked(host: str, port: int) -> str:
        assert host == "news.invalid"  # a name no resolver knows
        return "127.0.0.1"

    r = fetch(f"http://news.invalid:{port}/feed", guard=checked)
    assert (r.status, r.url) == (200, f"http://news.invalid:{port}/feed")
    assert server.requests[0].headers["host"] == f"news.invalid:{port}"


def test_pinned_tls_keeps_the_name_for_sni() -> None:
    headers: dict[str, str] = {}
    url, ext = Fetcher._pin("https://www.dw.com/zh/a-1?x=1", headers, "2001:db8::1")
    assert url == "https://[2001:db8::1]/zh/a-1?x=1"
    assert headers == {"Host": "www.dw.com"} and ext == {"sni_hostname": "www.dw.com"}


@pytest.mark.parametrize(
    ("ip", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("10.1.2.3", "private"),
        ("192.168.0.1", "private"),
        ("172.16.5.4", "private"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::ffff:127.0.0.1", "loopback"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
    ],
)
def test_refused_addresses(ip: str, reason: str) -> None:
    assert reason in (address_refused(ipaddress.ip_address(ip)) or "")


def test_public_addresses_pass() -> None:
    for ip in ("93.184.216.34", "2606:4700::1111", "1.1.1.1"):
        assert address_refused(ipaddress.ip_address(ip)) is None


def test_loopback_source_is_refused_and_named(
    tmp_path: Path, server: FakeServer, run_update
) -> None:
    server.routes["/feed.xml"] = feeds.rss(feeds.items(1))
    cfg = write_config(
        tmp_path / "newsmirror.toml", [{"id": "ex", "name": "Ex", "url": server.url("/feed.xml")}]
    )
    cfg.write_text(
        cfg.read_text().replace("allow_private_networks = true", "allow_private_networks = false")
    )
    report = run_update(cfg)
    error = report.sources[0].error or ""
    assert "refused 127.0.0.1 (127.0.0.1): loopback address" in error
    assert "allow_private_networks" in error
    assert server.requests == []  # nothing was sent


def test_redirect_to_a_private_address_is_refused(server: FakeServer) -> None:
    server.routes["/go"] = lambda req: Answer(302, b"", {"Location": server.url("/secret")})
    server.routes["/secret"] = b"internal"
    start = server.url("/go").replace("127.0.0.1", "localhost")
    with pytest.raises(BlockedAddressError, match="loopback"):
        fetch(start, guard=public_localhost)
    assert [r.path for r in server.requests] == ["/go"]


def test_only_http_and_https(server: FakeServer) -> None:
    server.routes["/go"] = lambda req: Answer(302, b"", {"Location": "file:///etc/passwd"})
    with pytest.raises(FetchError, match="only http and https"):
        fetch(server.url("/go"))
    with pytest.raises(FetchError, match="only http and https"):
        fetch("ftp://example.org/feed")


def test_gzip_bomb_is_stopped_by_the_decoded_cap(server: FakeServer) -> None:
    bomb = gzip.compress(b"\0" * 40_000_000, compresslevel=9)
    assert len(bomb) < 100_000
    server.routes["/bomb"] = lambda req: Answer(200, bomb, {"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match="exceeds the 1048576-byte limit"):
        fetch(server.url("/bomb"), max_response_bytes=1_048_576)


def test_declared_oversize_is_refused_before_reading(server: FakeServer) -> None:
    server.routes["/big"] = b"x" * 2_000_000
    with pytest.raises(FetchError, match="2000000 bytes exceeds"):
        fetch(server.url("/big"), max_response_bytes=1_048_576)


def test_dripping_server_is_cut_off_by_the_total_deadline(server: FakeServer) -> None:
    server.routes["/drip"] = lambda req: Answer(
        200, headers={"Content-Type": "text/xml"}, stream=[b"<"] * 100, pause=0.3
    )
    with pytest.raises(FetchError, match=r"no complete answer within 1\.5 s"):
        fetch(server.url("/drip"), timeout=1.5)


def test_redirects_are_limited(server: FakeServer) -> None:
    for i in range(10):
        server.routes[f"/r{i}"] = lambda req, i=i: Answer(302, b"", {"Location": f"/r{i + 1}"})
    with pytest.raises(FetchError, match="more than 3 redirects"):
        fetch(server.url("/r0"), max_redirects=3)
    # Three hops are within the limit of three.
    server.routes["/r10"] = b"<rss/>"
    assert fetch(server.url("/r7"), max_redirects=3).url.endswith("/r10")


def test_credentials_never_cross_origins(server: FakeServer) -> None:
    other = server.url("/b").replace("127.0.0.1", "localhost")
    server.routes["/a"] = lambda req: Answer(302, b"", {"Location": other})
    server.routes["/b"] = b"<rss/>"
    url = server.url("/a").replace("http://", "http://user:secret@")
    assert fetch(url).status == 200
    first, second = server.requests
    assert first.headers.get("authorization", "").startswith("Basic ")
    assert "authorization" not in second.headers


def test_conditional_headers_are_not_sent_after_a_redirect(server: FakeServer) -> None:
    server.routes["/a"] = lambda req: Answer(301, b"", {"Location": "/b"})
    server.routes["/b"] = b"<rss/>"

    async def go() -> Response:
        async with Fetcher(NetworkSettings(allow_private_networks=True)) as f:
            return await f.get(server.url("/a"), etag='"x"')

    assert asyncio.run(go()).url.endswith("/b")
    assert server.requests[0].headers.get("if-none-match") == '"x"'
    assert "if-none-match" not in server.requests[1].headers


def test_pinned_https_verifies_the_certificate_against_the_name(tmp_path: Path) -> None:
    import shutil
    import ssl
    import subprocess
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    import httpx

    if not shutil.which("openssl"):
        pytest.fail("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=news.invalid",
            "-addext",
            "subjectAltName=DNS:news.invalid",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "6")
            self.end_headers()
            self.wfile.write(b"<rss/>")

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    httpd.socket = server_ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    port = httpd.server_address[1]

    async def to_loopback(host: str, port: int) -> str:
        return "127.0.0.1"

    async def get(url: str) -> Response:
        trust = ssl.create_default_context(cafile=str(cert))
        transport = httpx.AsyncHTTPTransport(verify=trust)
        async with Fetcher(NetworkSettings(), transport=transport, guard=to_loopback) as f:
            return await f.get(url)

    try:
        assert asyncio.run(get(f"https://news.invalid:{port}/")).status == 200
        # The certificate is checked against the name in the URL, not the pinned address.
        with pytest.raises(FetchError, match=r"CERTIFICATE_VERIFY_FAILED|hostname"):
            asyncio.run(get(f"https://other.invalid:{port}/"))
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_connection_the_server_closed_is_not_used_again() -> None:
    """Keep-alive: a server may close an idle connection at any time (without saying so in
    its answer). The pool must notice before sending the next request on it."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    connections = []

    def serve() -> None:
        for _ in range(2):
            conn, _addr = listener.accept()
            connections.append(conn)
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            time.sleep(0.05)
            conn.close()  # idle, closed from the server's side

    server = threading.Thread(target=serve, daemon=True)
    server.start()

    async def go() -> list[int]:
        async with Fetcher(NetworkSettings(allow_private_networks=True)) as f:
            first = await f.get(f"http://127.0.0.1:{port}/a")
            await asyncio.sleep(0.3)  # the server has closed the connection by now
            second = await f.get(f"http://127.0.0.1:{port}/b")
            return [first.status, second.status]

    try:
        assert asyncio.run(go()) == [200, 200]
        assert len(connections) == 2  # the second request came on a new connection
    finally:
        listener.close()


class _Socket:
    """The part of an anyio stream the backend asks for: its socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def get_extra_info(self, info: str) -> object:
        return self.sock if info == "socket" else None


def test_idle_connections_are_asked_about_with_one_poll_per_step() -> None:
    """httpcore asks each idle connection whether the server closed it, every time a
    request starts or ends: one poll answers a whole step's questions, and the next step
    (the same task's or another's) asks the kernel again."""
    from newsmirror.fetch.backend import Readiness, Stream

    pairs = [socket.socketpair() for _ in range(4)]
    ours = [a for a, _ in pairs]
    readiness = Readiness()
    streams = [Stream(_Socket(a), readiness) for a in ours]  # type: ignore[arg-type]

    async def go() -> list[list[bool]]:
        seen = [[s.get_extra_info("is_readable") for s in streams]]
        assert readiness.polls == 1
        pairs[2][1].close()  # the server closes one connection...
        pairs[3][1].send(b"x")  # ...and another sends what nobody asked for
        seen.append([s.get_extra_info("is_readable") for s in streams])  # same step
        await asyncio.sleep(0)
        seen.append([s.get_extra_info("is_readable") for s in streams])
        assert readiness.polls == 2

        async def other() -> list[bool]:
            return [s.get_extra_info("is_readable") for s in streams]

        seen.append(await asyncio.create_task(other()))
        assert readiness.polls == 3
        return seen

    try:
        assert asyncio.run(go()) == [
            [False, False, False, False],
            [False, False, False, False],  # the step's answers hold until it ends
            [False, False, True, True],
            [False, False, True, True],
        ]
        ours[0].close()  # a closed socket cannot carry a request
        assert streams[0].get_extra_info("is_readable") is True
    finally:
        for a, b in pairs:
            a.close()
            b.close()
