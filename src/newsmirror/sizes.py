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


def _month(ms: int) -> str:
    return datetime.fromtimestamp(clamp_ms(ms) / 1000, UTC).strftime("%Y-%m")


def _size(path: Path) -> int:
    try:
        return os.lstat(path).st_size
    except OSError:
        return 0


def measure(root: Path, catalog: Catalog) -> Sizes:
    """The sizes of the archive at ``root`` as its catalog knows it."""
    s = Sizes()
    for source, path, alt, first in catalog.db.execute(
        "SELECT source, path, alt_path, first_seen_ms FROM articles"
    ):
        for p in (path, alt):
            if p:
                n = _size(root / p)
                s.article_files += 1
                s.article_bytes += n
                s.by_source[source] += n
                s.by_month[_month(first)] += n
    for path, first in catalog.db.execute(
        "SELECT path, first_ms FROM assets WHERE status = 'ok' AND path IS NOT NULL"
    ):
        n = _size(root / path)
        s.asset_files += 1
        s.asset_bytes += n
        s.by_month[_month(first)] += n
    if (root / ".git").is_dir():
        try:
            out = GitRepo(root).run("count-objects", "-v", timeout=120)
        except PublishError:
            out = ""
        fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
        if fields:
            s.git_bytes = 1024 * (int(fields.get("size", 0)) + int(fields.get("size-pack", 0)))
    return s


def human(n: int) -> str:
    """Bytes for people: 1.2 GB, 340 MB, 12 KB."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"
