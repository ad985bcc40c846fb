"""Evidence of what an outlet served: WARC records (ISO 28500) of the fetches that found an
edit, a removal or a restoration, so anyone can check what was answered and when with
the tools archivists use (warcio, pywb, the Internet Archive's).

Each fetch becomes a ``request`` and a ``response`` record (``WARC-Concurrent-To`` links
them; warcio adds the block and payload digests).  The body is kept as newsmirror read
it, after undoing any ``Content-Encoding``: the record says so (``Content-Encoding`` is
renamed ``X-Original-Content-Encoding`` and the length is the stored one), so the payload
digest is the digest of the bytes the archive's copy was made from.

Records are stored gzip-compressed in the catalog (one row per fetch, written in the same
transaction as the event they prove); ``newsmirror export-warc`` writes them out as one
``.warc.gz`` file with a ``warcinfo`` record first.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from . import __version__
from .fetch.http import Response

_DROPPED = {"content-length", "transfer-encoding", "content-encoding"}


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def records(response: Response, at_ms: int) -> bytes:
    """The request and response records of one fetch, gzip-compressed."""
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    date = _iso(at_ms)
    headers = [(k, v) for k, v in response.headers if k.lower() not in _DROPPED]
    headers += [
        (f"X-Original-{k}", v) for k, v in response.headers if k.lower() == "content-encoding"
    ]
    headers.append(("Content-Length", str(len(response.content))))
    status = f"{response.status} {response.reason}".strip()
    resp = writer.create_warc_record(
        response.url,
        "response",
        payload=io.BytesIO(response.content),
        length=len(response.content),
        warc_headers_dict={"WARC-Date": date},
        http_headers=StatusAndHeaders(status, headers, protocol=response.http_version),
    )
    parts = urlsplit(response.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    req = writer.create_warc_record(
        response.url,
        "request",
        payload=io.BytesIO(b""),
        length=0,
        warc_headers_dict={
            "WARC-Date": date,
            "WARC-Concurrent-To": resp.rec_headers.get_header("WARC-Record-ID"),
        },
        http_headers=StatusAndHeaders(
            f"GET {target} {response.http_version}", list(response.sent), is_http_request=True
        ),
    )
    writer.write_record(req)
    writer.write_record(resp)
    return buf.getvalue()


def write_file(path: Path, blobs: Iterable[bytes]) -> int:
    """Write a ``.warc.gz`` file: a warcinfo record, then the stored records; returns how
    many fetches it holds.  Written beside and renamed, so a reader never sees half."""
    tmp = path.with_name(path.name + ".part")
    count = 0
    with tmp.open("wb") as f:
        writer = WARCWriter(f, gzip=True)
        writer.write_record(
            writer.create_warcinfo_record(
                path.name,
                {
                    "software": f"newsmirror {__version__}",
                    "format": "WARC File Format 1.1",
                    "description": "Fetches that found an edit, a removal or a restoration",
                },
            )
        )
        for blob in blobs:
            f.write(blob)
            count += 1
    tmp.replace(path)
    return count
