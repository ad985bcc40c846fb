"""How large an archive is and how fast it grows: what ``status`` shows, so an operator
sees a repository heading for the size at which readers on bad connections can no longer
clone it (existing mirrors reached 1.5–2.3 GB).

Article and image files are measured on disk, attributed to the month the catalog first
saw them; git's object store is asked of git itself.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .config import Settings
from .errors import PublishError
from .model import clamp_ms
from .publish.git import GitRepo
from .store.catalog import Catalog


@dataclass(slots=True)
class Sizes:
    """Bytes and file counts of an archive."""

    article_files: int = 0
    article_bytes: int = 0
    asset_files: int = 0
    asset_bytes: int = 0
    git_bytes: int | None = None  # objects, loose and packed; None without a repository
    by_source: Counter[str] = field(default_factory=Counter)  # article bytes
    by_month: Counter[str] = field(default_factory=Counter)  # articles + images first seen
    # A rotated archive's period repositories: articles moved there, their git objects.
    periods: Counter[str] = field(default_factory=Counter)
    period_git: dict[str, int | None] = field(default_factory=dict)


def _month(ms: int) -> str:
    return datetime.fromtimestamp(clamp_ms(ms) / 1000, UTC).strftime("%Y-%m")


def _size(path: Path) -> int:
    try:
        return os.lstat(path).st_size
    except OSError:
        return 0


def measure(settings: Settings, catalog: Catalog) -> Sizes:
    """The sizes of the archive (and of its period and image repositories) as its catalog
    knows it."""
    s = Sizes()
    root = settings.archive.path
    for source, path, alt, first, home in catalog.db.execute(
        "SELECT source, path, alt_path, first_seen_ms, home FROM articles"
    ):
        if home is not None:
            s.periods[home] += 1
            continue
        for p in (path, alt):
            if p:
                n = _size(root / p)
                s.article_files += 1
                s.article_bytes += n
                s.by_source[source] += n
                s.by_month[_month(first)] += n
    images = settings.images.repository or root
    for path, first in catalog.db.execute(
        "SELECT path, first_ms FROM assets WHERE status = 'ok' AND path IS NOT NULL"
    ):
        n = _size(images / path)
        if n:  # not a copy that left with rotated articles
            s.asset_files += 1
            s.asset_bytes += n
            s.by_month[_month(first)] += n
    s.git_bytes = git_bytes(root)
    for period in s.periods:
        s.period_git[period] = git_bytes(settings.repository(period))
    return s


def git_bytes(root: Path) -> int | None:
    """The size of a repository's objects (loose and packed); None without one."""
    if not (root / ".git").is_dir():
        return None
    try:
        out = GitRepo(root).run("count-objects", "-v", timeout=120)
    except PublishError:
        return None
    fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    if not fields:
        return None
    return 1024 * (int(fields.get("size", 0)) + int(fields.get("size-pack", 0)))


def human(n: int) -> str:
    """Bytes for people: 1.2 GB, 340 MB, 12 KB."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"
