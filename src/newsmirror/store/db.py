"""The catalog's connection to its database: SQLite (embedded, the default) or PostgreSQL.

The catalog's statements are written once, in the SQL both engines speak (``?`` for
parameters, ``ON CONFLICT … DO …``, ``RETURNING``); what differs lives here and in the
schemas.  SQLite gets its own ``sqlite3`` connection untouched — the default pays nothing
for the second engine — and PostgreSQL gets :class:`PgConnection`, which takes the same
calls and rewrites the parameter marks once per statement.

PostgreSQL is reached through psycopg, an optional dependency (``newsmirror[postgresql]``):
only a catalog URL that names PostgreSQL imports it.
"""

from __future__ import annotations

import re
import sqlite3
import zlib
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Any, Protocol, cast
from urllib.parse import urlsplit, urlunsplit

from ..errors import CatalogError

try:
    from isal.isal_zlib import compress as _deflate
except ImportError:  # a platform without its wheels: zlib's own, slower, same format
    from zlib import compress as _deflate

POSTGRES_SCHEMES = ("postgresql", "postgres")


class Cursor(Protocol):
    """What the catalog reads from a statement: rows as tuples."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """The calls the catalog makes; ``sqlite3.Connection`` has them as they are."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor: ...

    def close(self) -> None: ...


def is_postgres(url: str) -> bool:
    """Whether a catalog URL names a PostgreSQL database."""
    return urlsplit(url).scheme.lower() in POSTGRES_SCHEMES


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


# A revision keeps its body as it was fetched, and every article has one: in SQLite the
# revisions were a third of the catalog.  Both engines keep them deflated (about half the
# size for Chinese HTML).  PostgreSQL's own compression of long values (TOAST) left them as
# they were: pglz gives up when it saves less than a quarter, and Chinese text in UTF-8 does
# not give it that (4.4 KB a bench article either way, 2.4 deflated).  Readers take every
# form, so catalogs written before read as they are.  Level 1: on the bench's Chinese HTML
# it keeps 93 % of level 6's gain (2.9x vs 3.1x) in 57 % of the time, and an update deflates
# every body it stores, in the process that also writes the files.  ISA-L (``isal``) makes
# the same zlib stream as zlib's level 1, as small, in a third of the time (bench bodies
# 14 µs against 41-90; about a tenth of a pass's CPU); any zlib reads it.
PACK_FROM = 200  # characters: shorter bodies gain too little to be worth it
# PostgreSQL keeps a body in bytes (``BYTEA``) even when it is not deflated: then as this
# byte and the UTF-8 of the body as its text columns hold text (escape_text), which is what
# the bodies it kept as text before schema 13 became.  No zlib stream starts with this byte
# (its first names the method, 8), so the two forms never meet.
RAW = b"\0"


def insert_id(db: Connection, dialect: str, sql: str, parameters: Sequence[Any]) -> int:
    """Run one ``INSERT`` and return the ``id`` it made.  SQLite names its row id for free;
    there ``RETURNING`` made an articles insert cost 3.5 times as much (35 µs against 10)."""
    if dialect == "sqlite":
        row_id = cast(sqlite3.Cursor, db.execute(sql, parameters)).lastrowid
        assert row_id is not None  # an INSERT sets it
        return row_id
    return int(db.execute(sql + " RETURNING id", parameters).fetchone()[0])


# SQLite steps a statement with the GIL released, and an update's event loop shares the GIL
# with the threads writing files: each release can hand the GIL to one of them and wait to
# get it back.  Many rows in one ``INSERT`` make one step where one statement per row made
# one each.  999 variables at most per statement: the limit of SQLite builds before 3.32.
MAX_VARIABLES = 999


def insert_rows(db: Connection, head: str, rows: Sequence[Sequence[Any]], tail: str = "") -> None:
    """Run ``head VALUES (…), (…) tail`` for all ``rows`` (all of one width), in as few
    statements as the variable limit allows."""
    if not rows:
        return
    width = len(rows[0])
    group = "(" + ",".join("?" * width) + ")"
    step = max(1, MAX_VARIABLES // width)
    for i in range(0, len(rows), step):
        chunk = rows[i : i + step]
        values = ",".join([group] * len(chunk))
        db.execute(f"{head} VALUES {values} {tail}", [v for row in chunk for v in row])


def deflated(body: str) -> bytes | None:
    """``body`` as SQLite keeps it when deflating gains (None: it is kept as text)."""
    if len(body) < PACK_FROM:
        return None
    raw = body.encode()
    packed = _deflate(raw, 1)
    return packed if len(packed) < len(raw) else None


def pack(dialect: str, body: str) -> str | bytes:
    """A revision's body as the catalog keeps it in ``dialect``."""
    made = deflated(body)
    if made is not None:
        return made
    return RAW + escape_text(body).encode() if dialect == "postgresql" else body


def unpack(value: str | bytes) -> str:
    """A revision's body as :func:`pack` kept it (or as a catalog of before kept it)."""
    if isinstance(value, str):
        return value
    if value[:1] == RAW:
        return unescape_text(value[1:].decode())
    return zlib.decompress(value).decode()


_MARK = re.compile(r"'[^']*'|\?|%")


@lru_cache(maxsize=4096)
def to_pyformat(sql: str) -> str:
    """A statement with ``?`` marks as psycopg wants it (``%s``; a literal ``%`` doubled).

    Marks inside string literals stay as they are: ``LIKE '%.md'`` is text, not a mark.
    """

    def swap(m: re.Match[str]) -> str:
        token = m.group(0)
        if token == "?":
            return "%s"
        if token == "%":
            return "%%"
        return token.replace("%", "%%")

    return _MARK.sub(swap, sql)


class PgConnection:
    """A psycopg connection that takes the catalog's calls as ``sqlite3`` does.

    Autocommit: statements outside :meth:`~newsmirror.store.catalog.Catalog.transaction`
    commit alone, as they do in SQLite with ``isolation_level=None``.
    """

    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError:
            raise CatalogError(
                f"{redact(url)}: a PostgreSQL catalog needs psycopg: "
                "pip install 'newsmirror[postgresql]'"
            ) from None
        self.url = url
        self.errors = psycopg.Error
        try:
            self.conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as e:
            raise CatalogError(f"{redact(url)}: cannot connect: {first_line(e)}") from e
        _keep_nul(self.conn)

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor:
        return self.conn.execute(to_pyformat(sql), tuple(parameters))

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor:
        rows = [tuple(p) for p in parameters]
        cur = self.conn.cursor()
        if rows:
            cur.executemany(to_pyformat(sql), rows)
        return cur

    def close(self) -> None:
        self.conn.close()


# PostgreSQL's text holds no NUL, and the catalog keeps some: the archive references the
# transforms put in bodies start with one (model.ARCHIVE_REF), and a revision keeps its
# body as it was.  Text crosses to PostgreSQL with NUL and U+0001 escaped, each as U+0001
# and one more character, and back unescaped: every string reads back as it was written.
# Equal strings stay equal, so lookups by value are unaffected.
_ESCAPES = str.maketrans({"\x01": "\x01\x02", "\x00": "\x01\x01"})
_UNESCAPE = re.compile("\x01([\x01\x02])")


def escape_text(text: str) -> str:
    """``text`` as stored in PostgreSQL (see above)."""
    return text.translate(_ESCAPES) if "\x00" in text or "\x01" in text else text


def unescape_text(text: str) -> str:
    """What :func:`escape_text` was given."""
    if "\x01" not in text:
        return text
    return _UNESCAPE.sub(lambda m: "\x00" if m.group(1) == "\x01" else "\x01", text)


def _keep_nul(conn: Any) -> None:
    """Register the escaping dumpers and loaders of strings on a psycopg connection."""
    from psycopg.types.string import (
        StrBinaryDumper,
        StrDumperUnknown,
        TextBinaryLoader,
        TextLoader,
    )

    class Dumper(StrDumperUnknown):
        def dump(self, obj: str) -> Any:
            return super().dump(escape_text(obj))

    class BinaryDumper(StrBinaryDumper):
        def dump(self, obj: str) -> Any:
            return super().dump(escape_text(obj))

    class Loader(TextLoader):
        def load(self, data: Any) -> Any:
            return unescape_text(cast(str, super().load(data)))

    class BinaryLoader(TextBinaryLoader):
        def load(self, data: Any) -> Any:
            return unescape_text(cast(str, super().load(data)))

    adapters = conn.adapters
    adapters.register_dumper(str, Dumper)
    adapters.register_dumper(str, BinaryDumper)
    for name in ("text", "varchar"):
        adapters.register_loader(name, Loader)
        adapters.register_loader(name, BinaryLoader)


def first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]
