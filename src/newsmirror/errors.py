"""The one exception hierarchy of newsmirror.

Every error we raise on purpose derives from :class:`NewsmirrorError`, so the command line
can report it as a clean one-line message; anything else is a bug and fails loudly::

    NewsmirrorError
    ├── ConfigError          bad or missing config file (names file, key, problem)
    ├── FetchError           network failure, refused address, size or time limit, HTTP error
    │   └── BlockedAddressError   target resolves to a private/loopback/... address
    ├── ParseError           a feed or document that cannot be read
    ├── CatalogError         the SQLite catalog is locked, corrupt or too new
    ├── ArchiveError         a file could not be written safely
    └── PublishError         git commit or push failed
"""

from __future__ import annotations

from typing import Any


class NewsmirrorError(Exception):
    """Base of every error newsmirror raises deliberately."""


class ConfigError(NewsmirrorError):
    """The config file is missing, unreadable or invalid."""


class FetchError(NewsmirrorError):
    """A request failed: network, status, limits or a refused address."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        too_large: bool = False,
        network: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after  # seconds the server asked us to wait (429/503)
        self.too_large = too_large  # over the size limit: asking again will not help
        self.network = network  # a connection failure or timeout: may work a moment later
        # A "gone" answer (404/410) as it came (a fetch.http.Response), kept as evidence.
        self.response: Any = None

    @property
    def transient(self) -> bool:
        """Worth asking again soon: network trouble, 408/425/429 or a 5xx answer."""
        return self.network or self.status in (408, 425, 429, 500, 502, 503, 504)


class BlockedAddressError(FetchError):
    """The URL resolves to an address the network policy refuses."""


class ParseError(NewsmirrorError):
    """A feed or document could not be parsed."""


class CatalogError(NewsmirrorError):
    """The catalog cannot be used (locked, corrupt, newer schema)."""


class ArchiveError(NewsmirrorError):
    """An archive file could not be written or would escape the archive."""


class PublishError(NewsmirrorError):
    """Publishing (git commit/push) failed."""


_CONTROL = dict.fromkeys([*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)], " ")


def reason(e: BaseException, limit: int = 400) -> str:
    """One printable line saying what went wrong, for *any* exception.

    Anything raised while one source, item, page or image is handled becomes that unit's
    recorded error, whatever its type: ours say what they mean; another (an ``InvalidURL``
    of an HTTP library, a ``RecursionError`` of a JSON parser, an ``OverflowError`` of a
    date) is named by its type, so the operator sees it and the pass goes on.
    """
    text = str(e) if isinstance(e, NewsmirrorError) else f"{type(e).__name__}: {e}"
    text = " ".join(text.translate(_CONTROL).split()).rstrip(": ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_fatal(e: BaseException) -> bool:
    """Errors that stop a pass: the catalog or the archive itself is unusable."""
    import sqlite3
    import sys

    if isinstance(e, CatalogError | sqlite3.DatabaseError | MemoryError):
        return True
    psycopg = sys.modules.get("psycopg")  # imported only by a PostgreSQL catalog
    return psycopg is not None and isinstance(e, psycopg.Error)
