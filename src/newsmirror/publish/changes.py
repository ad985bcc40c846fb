"""What outlets changed or took down, published in the archive beside the articles.

``changes/{YYYY-MM}.md`` lists the month's edits, removals and restorations, newest
first, each linking to the archived copy; an edit also links to its diff,
``changes/diffs/{article}-{revision}.md``: the title and text of the two revisions
compared character by character (word by word for Latin scripts), deletions and
insertions marked with ``<del>``/``<ins>`` (which GitHub shows struck out and
underlined), unchanged stretches folded.  The diff is one HTML block, so nothing in an
article's text is taken for Markdown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from .. import diff
from ..model import clamp_ms
from ..render.markdown import escape_link_text, link_destination
from ..store.search import plain_text
from ..store.watch import EDIT, Event, Revision

KIND_LABEL = {
    "edit": "修改",
    "removal": "已被删除",
    "restoration": "已恢复",
    "disappearance": "从列表中消失",
}
FIELD_LABEL = {"title": "标题", "text": "正文", "date": "日期"}


def month_of(ms: int) -> str:
    """``YYYY-MM`` (UTC) of a time."""
    return datetime.fromtimestamp(clamp_ms(ms) / 1000, UTC).strftime("%Y-%m")


def month_bounds(month: str) -> tuple[int, int]:
    """The first millisecond of a ``YYYY-MM`` month and of the next, UTC."""
    year, mon = (int(x) for x in month.split("-"))
    start = datetime(year, mon, 1, tzinfo=UTC)
    end = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=UTC)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def month_path(month: str) -> str:
    """Where a month's change list lives in the archive."""
    return f"changes/{month}.md"


def diff_path(event: Event) -> str:
    """Where an edit's diff lives in the archive."""
    return f"changes/diffs/{event.article_id}-{event.after_rev}.md"


def _when(ms: int) -> str:
    return datetime.fromtimestamp(clamp_ms(ms) / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def detail_label(event: Event) -> str:
    """The event's detail in the reader's words: "标题、正文", or the take-down's evidence."""
    if event.kind == EDIT:
        return "、".join(FIELD_LABEL.get(f.strip(), f.strip()) for f in event.detail.split(","))
    return event.detail


# An article's absolute URL when its file is in another repository (rotated), else None.
Elsewhere = Callable[[str], str | None]


def _nowhere(_path: str) -> str | None:
    return None


def render_month(
    month: str,
    events: Sequence[Event],
    source_names: Mapping[str, str],
    away: Elsewhere = _nowhere,
) -> bytes:
    """One month's change list (``events`` newest first)."""
    year, mon = month.split("-")
    lines = [f"# {year}年{int(mon)}月：修改与删除", "", f"共 {len(events)} 条记录，最新在前。", ""]
    for e in events:
        name = source_names.get(e.source, e.source)
        href = away(e.path) or "../" + e.path
        link = f"[{escape_link_text(e.title)}]({link_destination(href)})"
        # A removal's detail may quote the outlet's page: as text, never as Markdown.
        detail = escape_link_text(detail_label(e))
        line = f"- {_when(e.at_ms)} · {name} · **{KIND_LABEL[e.kind]}**（{detail}）{link}"
        if e.kind == EDIT and e.after_rev is not None:
            line += f" · [对比]({link_destination(diff_path(e).removeprefix('changes/'))})"
        lines.append(line)
    return ("\n".join(lines) + "\n").encode("utf-8")


def compare(before: Revision, after: Revision) -> tuple[list[diff.Piece], list[diff.Piece]]:
    """What changed between two revisions: the title's pieces and the text's (the body's
    blocks as lines, without markup), as every view of an edit shows them."""
    return (
        diff.diff(before.title, after.title),
        diff.diff(plain_text(before.body).strip(), plain_text(after.body).strip()),
    )


def render_diff(
    event: Event,
    before: Revision,
    after: Revision,
    source_name: str,
    away: Elsewhere = _nowhere,
) -> bytes:
    """An edit's diff page."""
    title, text = compare(before, after)
    href = away(event.path) or "../../" + event.path
    lines = [
        f"# 修改对比：{escape_link_text(after.title)}",
        "",
        f"{source_name} · [存档]({link_destination(href)}) · "
        f"{_when(before.seen_ms)} → {_when(after.seen_ms)}（{detail_label(event)}）",
        "",
    ]
    if diff.changed(title):
        lines += [f"<p>标题：{diff.to_html(title)}</p>", ""]
    if before.date_ms != after.date_ms:
        was, now = _when(before.date_ms), _when(after.date_ms)
        lines += [f"<p>日期：<del>{was}</del> <ins>{now}</ins></p>", ""]
    if diff.changed(text):
        lines += ["<p>" + diff.to_html(text).replace("\n", "") + "</p>", ""]
    return "\n".join(lines).encode("utf-8")
