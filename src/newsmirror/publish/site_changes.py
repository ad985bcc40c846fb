"""The site's pages about what outlets changed or took down.

``changes.html`` lists every edit, removal and restoration, newest first;
``changes/{article}-{revision}.html`` shows an edit inline (deletions and insertions
marked, unchanged stretches folded, readable at phone width); ``feeds/changes.atom``
carries the same events to feed readers; and each article page says how often it was
edited and whether it was taken down ("修改 2 次 · 2026-11-30 已被删除").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from html import escape

from .. import diff
from ..render import feeds
from ..render.html import Pages, md_to_html, when
from ..render.markdown import relative as rel
from ..store.watch import DISAPPEARANCE, EDIT, REMOVAL, RESTORATION, Event, Watchlist
from .changes import KIND_LABEL, compare, detail_label

Render = Callable[[], bytes]
Add = Callable[[str, str, Render], None]
MAX_LISTED = 1000  # events on changes.html
FEED_SIZE = 50


@dataclass(frozen=True, slots=True)
class Summary:
    """An article's change history in one line, and links to its diffs."""

    summary: str
    links: tuple[tuple[str, str], ...]  # (label, site path of the diff page)


def diff_page(event: Event) -> str:
    """The site page of an edit's diff."""
    return f"changes/{event.article_id}-{event.after_rev}.html"


def summaries(events: list[Event]) -> dict[int, Summary]:
    """Per article, its history: "修改 2 次 · 2026-11-30 已被删除" (``events`` newest first)."""
    by_article: dict[int, list[Event]] = {}
    for e in events:
        by_article.setdefault(e.article_id, []).append(e)
    out = {}
    for aid, evs in by_article.items():
        edits = [e for e in evs if e.kind == EDIT and e.after_rev is not None]
        parts = [f"修改 {len(edits)} 次"] if edits else []
        state = next((e for e in evs if e.kind in (REMOVAL, RESTORATION, DISAPPEARANCE)), None)
        if state is not None:
            parts.append(f"{when(state.at_ms)[1][:10]} {KIND_LABEL[state.kind]}")
        links = tuple((f"{when(e.at_ms)[1]} 的修改", diff_page(e)) for e in reversed(edits))
        if parts:
            out[aid] = Summary(" · ".join(parts), links)
    return out


class ChangePages:
    """Plans the change pages of one site build."""

    def __init__(
        self,
        watch: Watchlist,
        pages: Pages,
        names: Mapping[str, str],
        base_url: str,
        site_title: str,
    ) -> None:
        self.watch = watch
        self.pages = pages
        self.names = names
        self.base_url = base_url
        self.site_title = site_title
        self.events = [e for e in watch.events() if e.source in names]

    def article_summaries(self) -> dict[int, Summary]:
        """What each article page says of its history."""
        return summaries(self.events)

    def plan(self, add: Add, fp: Callable[..., str]) -> None:
        """Add changes.html, the diff pages and feeds/changes.atom to the build."""
        listed = self.events[:MAX_LISTED]
        add("changes.html", fp(*(self._key(e) for e in listed)), self._list(listed))
        for e in self.events:
            if e.kind == EDIT and e.before_rev is not None and e.after_rev is not None:
                add(diff_page(e), fp(self._key(e), "diff"), self._diff(e))
        newest = self.events[:FEED_SIZE]
        add("feeds/changes.atom", fp(self.base_url, *(self._key(e) for e in newest)),
            self._feed(newest))  # fmt: skip

    @staticmethod
    def _key(e: Event) -> str:
        return f"{e.id}:{e.title}:{e.path}:{e.detail}"

    def _entry(self, e: Event, page: str) -> dict[str, str | None]:
        iso, shown = when(e.at_ms)
        is_edit = e.kind == EDIT and e.after_rev is not None
        return {
            "iso": iso,
            "when": shown,
            "kind": e.kind,
            "label": KIND_LABEL[e.kind],
            "detail": detail_label(e),
            "title": e.title,
            "source_name": self.names.get(e.source, e.source),
            "page": rel(md_to_html(e.path), page),
            "diff": rel(diff_page(e), page) if is_edit else None,
        }

    def _list(self, events: list[Event]) -> Render:
        def render() -> bytes:
            entries = [self._entry(e, "changes.html") for e in events]
            return self.pages.render("changes.html", "changes.html", events=entries)

        return render

    def _compare(self, e: Event) -> dict[str, str]:
        before = self.watch.revision(e.before_rev or 0)
        after = self.watch.revision(e.after_rev or 0)
        if before is None or after is None:
            return {"title": "", "date": "", "text": ""}
        title, text = compare(before, after)
        return {
            "title": diff.to_html(title) if diff.changed(title) else "",
            "date": (
                f"{when(before.date_ms)[1]} → {when(after.date_ms)[1]}"
                if before.date_ms != after.date_ms
                else ""
            ),
            "text": diff.to_html(text) if diff.changed(text) else "",
            "before": when(before.seen_ms)[1],
            "after": when(after.seen_ms)[1],
        }

    def _diff(self, e: Event) -> Render:
        def render() -> bytes:
            page = diff_page(e)
            c = self._compare(e)
            return self.pages.render(
                "diff.html",
                page,
                title=e.title,
                source_name=self.names.get(e.source, e.source),
                archived=rel(md_to_html(e.path), page),
                url=e.url,
                before_when=c.get("before", ""),
                after_when=c.get("after", ""),
                detail=detail_label(e),
                title_diff=c["title"],
                date_change=c["date"],
                text_diff=c["text"],
            )

        return render

    def _feed(self, events: list[Event]) -> Render:
        def render() -> bytes:
            base = self.base_url
            entries = []
            for e in events:
                target = diff_page(e) if e.kind == EDIT and e.after_rev else md_to_html(e.path)
                label = KIND_LABEL[e.kind]
                content = f"<p>{escape(label)}（{escape(detail_label(e))}）</p>"
                if e.kind == EDIT and e.after_rev:
                    content += f"<div>{self._compare(e)['text']}</div>"
                entries.append(
                    feeds.FeedEntry(
                        id=f"{base}{target}#event-{e.id}"
                        if base
                        else f"urn:newsmirror:event:{e.id}",
                        title=f"[{label}] {e.title}",
                        link=base + target if base else e.url,
                        original=e.url,
                        date_ms=e.at_ms,
                        authors=(),
                        content=content,
                    )
                )
            info = feeds.FeedInfo(
                title=f"修改与删除 · {self.site_title}",
                home=base + "changes.html" if base else "",
                self_url=base + "feeds/changes.atom" if base else "",
                id=base + "feeds/changes.atom" if base else "urn:newsmirror:changes",
            )
            return feeds.atom(info, entries)

        return render
