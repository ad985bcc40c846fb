"""A static feed server for benchmarks, run in its own process so it does not share our core.

Serves every file of a folder with a strong ETag and answers conditional requests with 304.
Files added after the start are served too (read once, on their first request).
"""

from __future__ import annotations

import hashlib
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default 5 drops concurrent connects into SYN retries
    daemon_threads = True


def serve(folder: Path, port_file: Path) -> None:
    cache: dict[str, tuple[bytes, str]] = {}
    for p in folder.iterdir():
        data = p.read_bytes()
        cache["/" + p.name] = (data, '"' + hashlib.sha1(data).hexdigest()[:16] + '"')

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *a: object) -> None:
            pass

        def do_GET(self) -> None:
            hit = cache.get(self.path)
            if hit is None and "/" not in self.path[1:] and (folder / self.path[1:]).is_file():
                data = (folder / self.path[1:]).read_bytes()
                hit = cache[self.path] = (data, '"' + hashlib.sha1(data).hexdigest()[:16] + '"')
            if hit is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data, etag = hit
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


if __name__ == "__main__":
    serve(Path(sys.argv[1]), Path(sys.argv[2]))
