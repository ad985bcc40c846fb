"""Per-source lists (``lists/{name}.md``) and the archive's root ``README.md``.

The list format is the one the existing mirror repositories publish, byte for byte::

    {source name}
    ------

    M-D [title](/articles/{source}/{n}.md)

    M-D [title](/articles/{source}/{n}.md)

with month and day of the item's date in UTC+8, no leading zeros.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import quote

from ..model import clamp_ms
from ..render.markdown import escape_link_text, link_destination
from ..store.catalog import ListEntry

CHINA = timezone(timedelta(hours=8))


def list_path(source_name: str) -> str:
    """Where a source's list lives in the archive."""
    return f"lists/{source_name}.md"


def render_list(source_name: str, entries: Sequence[ListEntry]) -> bytes:
    """The list file of one source."""
    parts = [f"{source_name}\n------\n\n"]
    for e in entries:
        d = datetime.fromtimestamp(clamp_ms(e.date_ms) / 1000, CHINA)
        parts.append(
            f"{d.month}-{d.day} [{escape_link_text(e.title)}]({link_destination('/' + e.path)})\n\n"
        )
    return "".join(parts).encode("utf-8")


@dataclass(frozen=True, slots=True)
class ReadmeSource:
    """One line of the README."""

    name: str
    articles: int
    last_changed_ms: int | None


def _when(ms: int | None) -> str:
    if ms is None:
        return "—"
    return datetime.fromtimestamp(clamp_ms(ms) / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def render_readme(sources: Sequence[ReadmeSource]) -> bytes:
    """The archive's front page: every source's list and when it last got new articles.

    "Last updated" is the last time a source gained or changed an article, not the last
    check, so a run that finds nothing new leaves this file (and git) untouched.
    """
    lines = [
        "# 新闻镜像 · News mirror",
        "",
        "Full-text copies of news articles, updated regularly. Each list shows the newest "
        "articles of one source.",
        "",
        "| 来源 Source | 文章 Articles | 最近更新 Last updated |",
        "| --- | ---: | --- |",
    ]
    for s in sources:
        link = quote(list_path(s.name))
        lines.append(
            f"| [{escape_link_text(s.name)}]({link}) | {s.articles} | {_when(s.last_changed_ms)} |"
        )
    lines.append("")
    return "\n".join(lines).encode("utf-8")


_README_ROW = re.compile(
    r"^\| \[(?P<name>.*)\]\([^)]*\) \| \d+ \| (?P<when>\d{4}-\d\d-\d\d \d\d:\d\d) UTC \|$"
)


def readme_times(data: bytes) -> dict[str, int]:
    """When each source last changed, read back from a README :func:`render_readme` wrote.

    A fresh checkout (a CI runner every hour) has the files but not the catalog; taking the
    times from the README keeps it byte for byte, so a pass with nothing new commits nothing.
    """
    out: dict[str, int] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        m = _README_ROW.match(line)
        if m:
            name = re.sub(r"\\(.)", r"\1", m.group("name"))  # escape_link_text undone
            when = datetime.strptime(m.group("when"), "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
            out[name] = int(when.timestamp() * 1000)
    return out
