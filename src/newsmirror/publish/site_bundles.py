"""The offline bundles the site keeps (``[bundles] periods``): the latest complete day,
week or month as ``bundles/{name}.epub`` and ``.html``, linked from the home page and
the feeds page.

A bundle is one more page of the build: its fingerprint is what it is made of (the
articles' files and the settings), so it is made again only when that changes, and the
previous period's bundles go when a new period begins.  Pictures come from the archive's
copies or are downloaded while the bundle is made.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from ..bundle import Item, Pictures, epub, in_script, period, select, single, split
from ..config import Settings
from ..render.html import READER_TZ
from ..store.catalog import Catalog

Render = Callable[[], bytes]
Add = Callable[[str, str, Render], None]
LABELS = {"day": "昨日", "week": "上周", "month": "上月"}
FORMAT_LABELS = {"epub": "EPUB 电子书", "html": "单个网页"}


def latest(kind: str, now_ms: int) -> str:
    """A day (YYYY-MM-DD) of the latest complete ``kind`` before ``now_ms`` (UTC+8)."""
    today = datetime.fromtimestamp(now_ms / 1000, READER_TZ).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    if kind == "day":
        return (today - timedelta(days=1)).strftime("%Y-%m-%d")
    if kind == "week":
        return (today - timedelta(days=today.weekday() + 7)).strftime("%Y-%m-%d")
    return (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m-%d")


def fingerprint(*parts: object) -> str:
    """What a page or bundle is made of, short: it is made again only when this changes
    (the site's pages, and the bundles the site and the archive keep)."""
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=12).hexdigest()


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class BundlePages:
    """Plans the bundles of one site build."""

    def __init__(self, settings: Settings, catalog: Catalog, now_ms: int) -> None:
        self.settings = settings
        self.catalog = catalog
        self.now_ms = now_ms

    def plan(self, add: Add, fp: Callable[..., str]) -> list[tuple[str, str]]:
        """Add the bundles to the build; returns their (label, site path) for links."""
        links: list[tuple[str, str]] = []
        b = self.settings.bundles
        for kind in b.periods:
            start, end, label = period(kind, latest(kind, self.now_ms))
            items = select(self.settings, self.catalog, start, end, ())
            if not items:
                continue
            items = in_script(items, self.settings.script, self.settings.traditional)
            made = fp(
                kind,
                label,
                b.max_size,
                self.settings.script,
                self.settings.site.title,
                *(f"{it.path}:{it.title}:{_digest(it.body)}" for it in items),
            )
            name = f"newsmirror-{kind}-{label.replace(' – ', '_')}"
            for fmt in b.formats:
                # Parts by size need the pictures: counted without them here (a bundle
                # of text alone is rarely large), the pictures decide at render time.
                for suffix, part in split(items, {}, fmt, b.max_size):
                    page = f"bundles/{name}{suffix}.{fmt}"
                    add(page, fp(made, fmt, suffix), self._render(fmt, label, part))
                    title = f"{LABELS[kind]}（{label}）{FORMAT_LABELS[fmt]}"
                    links.append((title + (f" {suffix[1:]}" if suffix else ""), page))
        return links

    def _render(self, fmt: str, label: str, items: list[Item]) -> Render:
        def render() -> bytes:
            pictures = Pictures(self.settings, self.catalog)
            pictures.gather(items)
            writer = epub.write if fmt == "epub" else single.write
            lang = {"hans": "zh-Hans", "hant": "zh-Hant"}.get(self.settings.script, "zh")
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / f"bundle.{fmt}"
                writer(path, self.settings.site.title, label, items, pictures.found, lang)
                return path.read_bytes()

        return render
