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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import quote

from ..model import clamp_ms
from ..render.markdown import escape_link_text, link_destination
from ..store.rows import ListEntry

CHINA = timezone(timedelta(hours=8))


def list_path(source_name: str) -> str:
    """Where a source's list lives in the archive."""
    return f"lists/{source_name}.md"


def render_list(
    source_name: str,
    entries: Sequence[ListEntry],
    link: Callable[[ListEntry], str] | None = None,
) -> bytes:
    """The list file of one source; ``link`` gives an entry's link (default: its path
    from the repository's root, ``/articles/…``)."""
    parts = [f"{source_name}\n------\n\n"]
    for e in entries:
        d = datetime.fromtimestamp(clamp_ms(e.date_ms) / 1000, CHINA)
        href = link(e) if link is not None else "/" + e.path
        title = escape_link_text(e.title)
        parts.append(f"{d.month}-{d.day} [{title}]({link_destination(href)})\n\n")
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


@dataclass(frozen=True, slots=True)
class Elsewhere:
    """A repository holding articles this one does not: a period of a rotated archive
    (seen from the archive) or the archive itself (seen from a period)."""

    name: str
    articles: int
    url: str  # of its README


def render_readme(
    sources: Sequence[ReadmeSource],
    older: Sequence[Elsewhere] = (),
    *,
    period: str | None = None,
    newer: Elsewhere | None = None,
    bundles: Sequence[tuple[str, str]] = (),
) -> bytes:
    """The archive's front page: every source's list and when it last got new articles;
    then, once rotated, the period repositories holding the older ones.  A period's
    repository (``period``) has the same page with a link back to the newer articles.

    "Last updated" is the last time a source gained or changed an article, not the last
    check, so a run that finds nothing new leaves this file (and git) untouched.
    """
    if period is None:
        head = [
            "# 新闻镜像 · News mirror",
            "",
            "Full-text copies of news articles, updated regularly. Each list shows the newest "
            "articles of one source.",
        ]
    else:
        head = [
            f"# 新闻镜像 {period} · News mirror, {period}",
            "",
            f"Full-text copies of the news articles of {period}, moved here from the archive "
            "to keep it small. Each list shows every article of one source.",
        ]
    if newer is not None:
        head += ["", f"更新的文章 · Newer articles: [{newer.name}]({link_destination(newer.url)})"]
    lines = [
        *head,
        "",
        "| 来源 Source | 文章 Articles | 最近更新 Last updated |",
        "| --- | ---: | --- |",
    ]
    for s in sources:
        link = quote(list_path(s.name))
        lines.append(
            f"| [{escape_link_text(s.name)}]({link}) | {s.articles} | {_when(s.last_changed_ms)} |"
        )
    if bundles:
        lines += ["", "## 离线合集 · Offline bundles", ""]
        lines += [
            f"- [{escape_link_text(label)}]({link_destination(path)})" for label, path in bundles
        ]
    if older:
        lines += [
            "",
            "## 更早的文章 · Older articles",
            "",
            "| 时期 Period | 文章 Articles |",
            "| --- | ---: |",
        ]
        lines += [f"| [{o.name}]({link_destination(o.url)}) | {o.articles} |" for o in older]
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
