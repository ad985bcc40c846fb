"""A static feed server for benchmarks, run in its own process so it does not share our core.

Serves every file of a folder with a strong ETag and answers conditional requests with 304.
Files added after the start are served too, and a file rewritten since it was read is
read again (a stat per request): benches that replay months of a feed rewrite it.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default 5 drops concurrent connects into SYN retries
    daemon_threads = True


def serve(folder: Path, port_file: Path) -> None:
    cache: dict[str, tuple[bytes, str, int]] = {}

    def load(path: str) -> tuple[bytes, str, int] | None:
        if "/" in path[1:]:
            return None
        try:
            mtime = (folder / path[1:]).stat().st_mtime_ns
        except OSError:
            return None
        hit = cache.get(path)
        if hit is None or hit[2] != mtime:
            data = (folder / path[1:]).read_bytes()
            hit = cache[path] = (data, '"' + hashlib.sha1(data).hexdigest()[:16] + '"', mtime)
        return hit

    for p in folder.iterdir():
        load("/" + p.name)

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *a: object) -> None:
            pass

        def do_GET(self) -> None:
            hit = load(self.path)
            if hit is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data, etag, _ = hit
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = _Server(("127.0.0.1", 0), H)
    httpd.daemon_threads = True
    port_file.write_text(str(httpd.server_address[1]))
    httpd.serve_forever()


@contextmanager
def serving(folder: Path, work: Path) -> Iterator[int]:
    """This server over ``folder`` in its own process (so it does not share the measured
    process's core), for the ``with`` block; yields its port."""
    port_file = work / "port"
    port_file.unlink(missing_ok=True)
    server = subprocess.Popen([sys.executable, __file__, str(folder), str(port_file)])
    try:
        while not port_file.exists() or not port_file.read_text():
            time.sleep(0.05)
        yield int(port_file.read_text())
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    serve(Path(sys.argv[1]), Path(sys.argv[2]))
