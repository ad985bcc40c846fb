"""Image copies (``[images] mode = "copy"``): each image downloaded once into ``assets/``.

A copy is named by a hash of its bytes (``assets/3f/3f2a….jpg``), so the same picture used
by many articles, or reached by several URLs, is stored once, and a rerun after a crash
writes the same file again.  Only real images of the allowed types are kept: the type is
read from the bytes, not from what the server claims, and SVG is never among them (it can
carry script).  Each download obeys the same limits and politeness as every other request,
under the image size cap.

A failed download leaves the article on the proxied URL and is tried again later (back off
from one interval to a day, up to ``max_attempts``); an image too large or not an image is
refused for good.  When a later try succeeds, the articles that show the image are rendered
again (see ``pipeline``).

A worker (``queue``) has no copy of the archive: the bytes it downloads wait in the catalog,
recorded with the image in one transaction, until the publisher writes them
(:func:`place_waiting`) before it renders the articles that show them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .config import ImageSettings
from .errors import FetchError, NewsmirrorError, reason
from .fetch.http import Fetcher
from .store.catalog import Catalog
from .store.files import ArchiveWriter

log = logging.getLogger(__name__)

ACCEPT = "image/avif,image/webp,image/png,image/jpeg,image/gif;q=0.9"
EXTENSIONS = {"jpeg": "jpg", "png": "png", "gif": "gif", "webp": "webp", "avif": "avif"}
BACKOFF_CAP_MS = 86_400_000


def sniff(data: bytes) -> str | None:
    """The image type of ``data`` by its magic bytes, or None when it is none we keep."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[4:8] == b"ftyp" and data[8:12] in (b"avif", b"avis"):
        return "avif"
    return None


def asset_path(data: bytes, kind: str) -> str:
    """The content-addressed archive path of an image."""
    digest = hashlib.sha256(data).hexdigest()[:40]
    return f"assets/{digest[:2]}/{digest}.{EXTENSIONS[kind]}"


@dataclass(frozen=True, slots=True)
class _Outcome:
    url: str
    path: str | None = None
    kind: str | None = None
    size: int | None = None
    error: str | None = None
    refused: bool = False
    data: bytes | None = None  # for the publisher to write (a worker's download)


class AssetFetcher:
    """Downloads images for one pass; a URL asked for twice is fetched once.  Without a
    ``writer`` (a worker) the copies are kept in the catalog for the publisher."""

    def __init__(
        self,
        fetcher: Fetcher,
        writer: ArchiveWriter | None,
        catalog: Catalog,
        settings: ImageSettings,
        *,
        clock: Callable[[], int],
        interval_s: float,
    ) -> None:
        self.fetcher = fetcher
        self.writer = writer
        self.catalog = catalog
        self.settings = settings
        self.clock = clock
        self.interval_ms = int(interval_s * 1000)
        self._tasks: dict[str, asyncio.Task[_Outcome]] = {}
        self.copied: set[str] = set()  # URLs that got a copy during this pass

    async def fetch(self, urls: Iterable[str]) -> None:
        """Download those of ``urls`` that are due, and record every outcome."""
        urls = list(urls)
        wanted = self.catalog.assets_to_fetch(urls, self.clock(), self.settings.max_attempts)
        # A copy that left the archive with the articles showing it (a rotation) is
        # fetched again when an article of the archive shows it.
        for url, path in self.catalog.asset_paths(urls).items():
            if url not in wanted and self.writer and not (self.writer.root / path).exists():
                wanted.append(url)
        for url in wanted:
            if url not in self._tasks:
                self._tasks[url] = asyncio.create_task(self._download(url))
        outcomes = await asyncio.gather(*(self._tasks[u] for u in wanted))
        with self.catalog.transaction():
            for o in outcomes:
                self._record(o)

    async def retry_due(self) -> None:
        """Another try for earlier failures whose wait is over."""
        await self.fetch(
            u
            for u in self.catalog.assets_due(self.clock(), self.settings.max_attempts)
            if u not in self._tasks
        )

    def _record(self, o: _Outcome) -> None:
        if o.url in self.copied:
            return  # recorded by an earlier fetch() of this pass
        now = self.clock()
        if o.path:
            self.copied.add(o.url)
            if self.catalog.asset_attempts(o.url):
                # Articles stored while it failed show the proxy: render them again.
                self.catalog.add_pending([f"img:{o.url}"])
            self.catalog.record_asset(
                o.url, now, path=o.path, content_type=f"image/{o.kind}", size=o.size
            )
            if o.data is not None:
                self.catalog.keep_asset_data(o.path, o.data)
            return
        next_try = None
        if not o.refused:
            tried = self.catalog.asset_attempts(o.url)
            next_try = now + min(self.interval_ms * 2**tried, BACKOFF_CAP_MS)
            log.warning("image %s (will try again)", o.error)
        else:
            log.warning("image %s (kept on the proxy)", o.error)
        self.catalog.record_asset(
            o.url, now, error=o.error, refused=o.refused, next_try_ms=next_try
        )

    async def _download(self, url: str) -> _Outcome:
        """One image's outcome; whatever goes wrong costs only this image."""
        try:
            return await self._download_one(url)
        except Exception as e:
            return _Outcome(url, error=f"{url}: {reason(e)}")

    async def _download_one(self, url: str) -> _Outcome:
        try:
            response = await self.fetcher.get(url, accept=ACCEPT, max_bytes=self.settings.max_bytes)
        except FetchError as e:
            return _Outcome(url, error=str(e), refused=e.too_large)
        kind = sniff(response.content)
        if kind is None or kind not in self.settings.types:
            what = f"a {kind} image" if kind else "not an image of a known type"
            declared = response.content_type or "no type"
            return _Outcome(
                url,
                error=f"{what} ({declared}); allowed: {', '.join(self.settings.types)}",
                refused=True,
            )
        path = asset_path(response.content, kind)
        if self.writer is None:
            return _Outcome(url, path, kind, len(response.content), data=response.content)
        if not (self.writer.root / path).exists():
            try:
                await asyncio.to_thread(self.writer.write_batch, [(path, response.content)])
            except NewsmirrorError as e:
                return _Outcome(url, error=str(e))
        return _Outcome(url, path, kind, len(response.content))


def place_waiting(
    catalog: Catalog, writer_for: Callable[[], ArchiveWriter], batch: int = 32
) -> int:
    """Write the copies workers downloaded into the archive (the publisher, before it
    renders the articles showing them); each is durable before it leaves the catalog, so
    a publisher killed in between writes the same bytes again.  ``writer_for`` readies
    where copies go, asked only when some wait.  Returns how many."""
    waiting = catalog.asset_data(batch)
    if not waiting:
        return 0
    writer, count = writer_for(), 0
    while waiting:
        new = [(path, data) for path, data in waiting if not (writer.root / path).exists()]
        writer.write_batch(new)
        with catalog.transaction():
            catalog.drop_asset_data([path for path, _ in waiting])
        count += len(waiting)
        waiting = catalog.asset_data(batch)
    return count
