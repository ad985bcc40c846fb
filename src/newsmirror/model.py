"""The one vocabulary that travels the pipeline: :class:`Article` and friends.

Plain frozen data, no behaviour that touches the outside world, so every stage can be
tested by building values by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Prefix of a reference to a file in the archive (an image copy, a mirrored article), put
# into a body by the transforms and resolved relative to the referring file when it is
# rendered.  It starts with NUL, which never survives sanitizing, so no outlet can forge one.
ARCHIVE_REF = "\x00archive:"

# The range of dates believed.  Outside it a date is taken from a hostile or broken source:
# 9999-12-31 overflowed every later rendering in UTC+8, year 1 in UTC+14 too.
EARLIEST_MS = -2_208_988_800_000  # 1900-01-01
LATEST_MS = 32_503_680_000_000 - 1  # just before 3000-01-01


def clamp_ms(ms: int | float) -> int:
    """A timestamp brought inside the believed range (and to an int)."""
    try:
        value = int(ms)
    except (OverflowError, ValueError):  # inf, nan
        return EARLIEST_MS if ms != ms or ms < 0 else LATEST_MS
    return min(max(value, EARLIEST_MS), LATEST_MS)


@dataclass(frozen=True, slots=True)
class Article:
    """One article as a source delivers it, after parsing and before rendering.

    ``ident`` is the identity within the source: ``id:<outlet id>`` when the outlet gives one,
    else ``url:<canonical url>``.  ``key`` is the file-name-safe form used by the dated layout.
    ``url`` is what the title line links to; ``date_ms`` the item's update date if it has
    one, else its publication date (ms since the epoch).
    """

    source: str
    ident: str
    key: str
    url: str
    title: str
    date_ms: int
    body: str
    authors: tuple[str, ...] = ()
    language: str = ""
    canonical: str = ""  # the link without tracking or fragment: a second way to match

    def __post_init__(self) -> None:
        if not EARLIEST_MS <= self.date_ms <= LATEST_MS or not isinstance(self.date_ms, int):
            object.__setattr__(self, "date_ms", clamp_ms(self.date_ms))


@dataclass(frozen=True, slots=True)
class ItemError:
    """One entry of a source that could not be turned into an article."""

    source: str
    where: str
    reason: str
    retry: bool = False  # a transient failure (e.g. the article page 404s today): fetch again


@dataclass(frozen=True, slots=True)
class SourceResult:
    """What one source produced in one pass: articles, per-item errors, HTTP validators."""

    source: str
    articles: list[Article] = field(default_factory=list)
    item_errors: list[ItemError] = field(default_factory=list)
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None
    max_age: float | None = None  # Cache-Control max-age of the listing, seconds
    retry_after: float | None = None  # what a failing server asked for, seconds
