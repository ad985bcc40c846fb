"""The one vocabulary that travels the pipeline: :class:`Article` and friends.

Plain frozen data, no behaviour that touches the outside world, so every stage can be
tested by building values by hand.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Prefix of a reference to a file in the archive (an image copy, a mirrored article), put
# into a body by the transforms and resolved relative to the referring file when it is
# rendered.  It starts with NUL, which never survives sanitizing, so no outlet can forge one.
ARCHIVE_REF = "\x00archive:"

# The range of dates believed.  Outside it a date is taken from a hostile or broken source:
# 9999-12-31 overflowed every later rendering in UTC+8, year 1 in UTC+14 too.
EARLIEST_MS = -2_208_988_800_000  # 1900-01-01
LATEST_MS = 32_503_680_000_000 - 1  # just before 3000-01-01


# Characters no text of ours keeps: C0 controls but tab and line breaks, DEL, C1 controls.
# Taken from outside (a title's "&#x8;", a JSON "\u0000") they broke every XML feed built
# afterwards and reached terminals as escape sequences.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x84\x86-\x9f]")
_BREAKS = re.compile("\r\n?|[\v\f\x85\u2028\u2029]")
# Half a surrogate pair alone: JSON can escape one ("\ud800"), but no text holds it and
# UTF-8 cannot write it, so the article it was in was lost at its first write.  It becomes
# U+FFFD, as a browser shows it.
_LONE_SURROGATES = re.compile("[\ud800-\udfff]")
# Either: one scan finds the rare text that needs a change (every body passes here twice).
_UNPRINTABLE = re.compile(f"{_CONTROLS.pattern}|{_LONE_SURROGATES.pattern}")


def printable(text: str) -> str:
    """``text`` without control characters (tab and line breaks stay) and with U+FFFD for
    each lone surrogate."""
    if _UNPRINTABLE.search(text):
        text = _LONE_SURROGATES.sub("\ufffd", _CONTROLS.sub("", text))
    return text


def one_line(text: str) -> str:
    """``text`` without control characters, every kind of line break made ``\n``; callers
    then join lines as the article format does."""
    text = printable(text)
    return _BREAKS.sub("\n", text) if _BREAKS.search(text) else text


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
        # Whatever a source gave, an article's date renders and its title and authors are
        # one line of printable text.
        if not EARLIEST_MS <= self.date_ms <= LATEST_MS or not isinstance(self.date_ms, int):
            object.__setattr__(self, "date_ms", clamp_ms(self.date_ms))
        title = " ".join(one_line(self.title).split("\n"))
        if title != self.title:
            object.__setattr__(self, "title", title)
        authors = tuple(" ".join(one_line(a).split()) for a in self.authors)
        if authors != self.authors:
            object.__setattr__(self, "authors", tuple(a for a in authors if a))


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
    # (ident, date) of every item the listing holds, archived before or not; None when the
    # driver cannot tell.  Lets a pass notice an article that left the listing early.
    listed: tuple[tuple[str, int], ...] | None = None
    # The answers articles were read from (fetch.http.Response), kept as evidence should an
    # archived article turn out edited: "" the listing's, an ident its page's.
    answers: Mapping[str, Any] = field(default_factory=dict)
    # Bodies of ``articles`` deflated as the catalog keeps revisions (see store.db), by
    # ident, where a driver made them beside the parsing: off the process that stores them.
    packed: Mapping[str, bytes] = field(default_factory=dict)
