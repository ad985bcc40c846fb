"""``newsmirror build``: the archive as a static website, with feeds and static search.

The site is derived data: pages come from the article files (what the archive shows is what
the site shows) and the catalog (sources, dates, revisions).  Incremental by fingerprints:
each page's inputs are summed up cheaply from catalog columns, compared with what the last
build recorded (``site_pages``), and only pages whose fingerprint changed are rendered and
written.  A change of templates, settings or newsmirror version changes the build's
*generation* and renders everything once; so does a site folder that is not the one the
catalog remembers (deleted, moved, replaced).

Page layout (every link relative, every folder link naming ``index.html``)::

    index.html                       newest articles of every source
    sources/{id}/index.html          a source's newest, and links to all its pages
    sources/{id}/{k}.html            its k-th group of articles in the order they arrived
                                     (fixed membership: a new article touches the last one)
    days/index.html, days/{day}[-k].html   articles by day (UTC+8)
    articles/…/{key}.html            one per article file, beside its revisions
    feeds/{all|id}.{atom,rss,json}   outgoing feeds
    search.html, search.js, pagefind/{YYYY-MM}/   static search, one bundle per month
    assets/…                         image copies, hard-linked from the archive
"""

from __future__ import annotations

import contextlib
import heapq
import json
import logging
import os
import re
import secrets
import shutil
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from html import escape
from pathlib import Path
from urllib.parse import unquote

from .. import __version__
from ..config import Settings
from ..errors import ArchiveError
from ..render import feeds
from ..render.html import (
    Pages,
    csp,
    day_of,
    md_to_html,
    origin,
    site_body,
    template_text,
    when,
    without_dateline,
)
from ..render.markdown import localize, parse_article_file
from ..render.markdown import relative as rel
from ..store.catalog import Catalog
from ..store.files import ArchiveWriter
from ..store.rotation import Homes
from ..store.watch import Watchlist
from ..transform.prepare import prepare
from ..transform.script import LABELS, variant_script
from .pagefind import PagefindError, build_bundles, fold_table
from .site_bundles import BundlePages
from .site_bundles import fingerprint as _fp
from .site_changes import ChangePages, Summary

log = logging.getLogger(__name__)

MARKER = ".newsmirror-site"  # holds the build id the catalog remembers for this folder
_STATIC = ("style.css", "search.js")
_TEMPLATES = (
    *("base.html", "list.html", "entries.html", "home.html", "groups.html"),
    *("article.html", "search.html", "style.css", "search.js", "changes.html", "diff.html"),
)


def _own_urls(settings: Settings) -> re.Pattern[str] | None:
    """Links and pictures at our own repositories' URLs (see ``placement``), if any."""
    bases = []
    if settings.rotate.enabled:
        bases.append(re.escape(settings.rotate.front_url))
        bases.append(re.escape(settings.rotate.url).replace(re.escape("{period}"), "[0-9-]+"))
    if settings.images.repository is not None:
        bases.append(re.escape(settings.images.repository_url))
    if not bases:
        return None
    return re.compile(r'(\s(?:href|src)=")(?:' + "|".join(bases) + r')((?:articles|assets)/[^"]*)"')


@dataclass(frozen=True, slots=True)
class Row:
    """One article as the site needs it: catalog columns only, no body."""

    id: int
    source: str
    path: str
    alt_path: str | None
    title: str
    url: str
    date_ms: int
    content_hash: str
    revisions: int
    page: str  # the article's page on the site
    home: str | None = None  # the period repository holding its file (rotated)

    @property
    def alt_page(self) -> str | None:
        return md_to_html(self.alt_path) if self.alt_path else None


@dataclass
class BuildReport:
    """What a build did."""

    written: int = 0
    unchanged: int = 0
    removed: int = 0
    full: bool = False
    bundles: list[str] = field(default_factory=list)  # search bundles rebuilt
    errors: list[str] = field(default_factory=list)


Render = Callable[[], bytes]


def _other_label(r: Row, primary: bool) -> str | None:
    """The label of the link from one script of an article to the other ("both" sources)."""
    if r.alt_path is None:
        return None
    alt = variant_script(r.alt_path)
    return LABELS[alt if primary else ("hans" if alt == "hant" else "hant")]


def _rev_page(r: Row, n: int) -> str:
    """The page of revision ``n`` (1: the first) of an article."""
    return r.page.removesuffix(".html") + f".rev{n}.html"


def _newest(rows: Sequence[Row], n: int) -> list[Row]:
    """The ``n`` latest-dated rows, latest first (ties: the later archived first)."""
    return heapq.nlargest(n, rows, key=lambda r: (r.date_ms, r.id))


class SiteBuilder:
    """Builds the site of ``settings`` from ``catalog`` into ``[site] path``."""

    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        *,
        pagefind: bool | None = None,
        now_ms: int | None = None,
        only: Callable[[Row], bool] | None = None,
    ):
        """``only``: a snapshot of these articles (a period's site to pass on): the pages
        are all written, and the catalog does not remember them (it keeps the real site's
        state); no bundles."""
        self.settings = settings
        self.site = settings.site
        self.catalog = catalog
        self.root = settings.site.path
        self.pagefind = self.site.pagefind if pagefind is None else pagefind
        self.only = only
        self.names = {s.id: s.name for s in settings.sources}
        self.pages = self.pages_for(settings)
        self.plan: dict[str, tuple[str, Render]] = {}
        self._entries: dict[int, feeds.FeedEntry] = {}
        self.changes: dict[int, Summary] = {}
        self.now_ms = now_ms if now_ms is not None else time.time_ns() // 1_000_000
        self.bundles: list[tuple[str, str]] = []  # (label, page) of the offline bundles
        # Where files are: the archive, then the period repositories of a rotated one.
        self._repositories = [settings.archive.path] + [
            settings.repository(period) for period in Homes(catalog).counts()
        ]
        if settings.images.repository is not None:
            self._repositories.append(settings.images.repository)
        self._own = _own_urls(settings)

    def _here(self, body: str, page: str) -> str:
        """Links to our own repositories' files (a rotated archive's periods, the image
        repository) pointed at the site's copies instead: the site needs no git host."""
        if self._own is None:
            return body

        def local(m: re.Match[str]) -> str:
            target = md_to_html(unquote(m.group(2)))
            return f'{m.group(1)}{escape(rel(target, page))}"'

        return self._own.sub(local, body)

    @staticmethod
    def pages_for(settings: Settings) -> Pages:
        """The templates as configured for ``settings`` (title, content policy)."""
        proxies = {origin(t) for t in settings.images.proxies}
        any_image = any(settings.image_mode(s) == "original" for s in settings.sources)
        return Pages(settings.site.title, csp(sorted(proxies), any_image))

    # -- inputs ------------------------------------------------------------------------------

    def generation(self) -> str:
        """Changes whenever every page may have to change."""
        return _fp(
            __version__,
            *(template_text(n) for n in _TEMPLATES),
            self.site,
            sorted(self.names.items()),
            self.pages.globals["csp"],
            self.settings.images,
            self.settings.links,
        )

    def _load_rows(self) -> list[Row]:
        sql = (
            "SELECT a.id, a.source, a.path, a.alt_path, a.title, a.url, a.date_ms, "
            "a.content_hash, coalesce(n.revisions, 1), "
            "CASE WHEN a.path LIKE '%.md' THEN substr(a.path, 1, length(a.path) - 3) || '.html' "
            "ELSE a.path END, a.home FROM articles a LEFT JOIN "
            "(SELECT article_id, count(*) AS revisions FROM revisions GROUP BY article_id) n "
            "ON n.article_id = a.id ORDER BY a.id"
        )
        names = self.names
        rows = [Row(*r) for r in self.catalog.db.execute(sql) if r[1] in names]
        return rows if self.only is None else [r for r in rows if self.only(r)]

    # -- the plan: every page with its fingerprint and how to render it -----------------------

    def _add(self, page: str, fp: str, render: Render) -> None:
        self.plan[page] = (fp, render)

    def _entry(self, r: Row, with_source: bool) -> dict[str, str | None]:
        iso, shown = when(r.date_ms)
        return {
            "title": r.title,
            "page": r.page,
            "iso": iso,
            "when": shown,
            "source_name": self.names[r.source] if with_source else None,
            "alt_page": r.alt_page,
            "alt_label": _other_label(r, primary=True),
        }

    def _entries_fp(self, rows: Iterable[Row]) -> str:
        return _fp(*(f"{r.id}:{r.title}:{r.date_ms}:{r.alt_path}" for r in rows))

    def _list_page(
        self,
        page: str,
        heading: str,
        rows: Sequence[Row],
        *,
        with_source: bool,
        prev: str | None = None,
        nxt: str | None = None,
        pages: Sequence[tuple[str, str]] = (),
        intro: str = "",
    ) -> None:
        fp = _fp(heading, self._entries_fp(rows), prev, nxt, *pages, intro)

        def render() -> bytes:
            return self.pages.render(
                "list.html",
                page,
                heading=heading,
                intro=intro,
                entries=[self._entry(r, with_source) for r in rows],
                prev=prev and rel(prev, page),
                next=nxt and rel(nxt, page),
                pages=[(label, rel(p, page)) for label, p in pages],
            )

        self._add(page, fp, render)

    def _plan_sources(self, by_source: dict[str, list[Row]]) -> None:
        size = self.site.page_size
        for sid, name in self.names.items():
            rows = by_source.get(sid, [])  # in arrival (id) order
            chunks = [rows[i : i + size] for i in range(0, len(rows), size)]
            paths = [f"sources/{sid}/{k}.html" for k in range(1, len(chunks) + 1)]
            for k, chunk in enumerate(chunks):
                newest = sorted(chunk, key=lambda r: (-r.date_ms, -r.id))
                self._list_page(
                    paths[k],
                    f"{name} · 第 {k + 1} 页",
                    newest,
                    with_source=False,
                    prev=paths[k - 1] if k else None,
                    nxt=paths[k + 1] if k + 1 < len(paths) else None,
                    intro=f"第 {k * size + 1}–{k * size + len(chunk)} 篇，按收录顺序分页",
                )
            latest = _newest(rows, size)
            labels = [(f"{k}", p) for k, p in enumerate(paths, 1)][::-1]
            self._list_page(
                f"sources/{sid}/index.html",
                name,
                latest,
                with_source=False,
                pages=labels,
                intro=f"共 {len(rows)} 篇",
            )

    def _plan_days(self, by_day: dict[str, list[Row]]) -> None:
        size = self.site.page_size
        months: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for day in sorted(by_day, reverse=True):
            # In the order of the day, so an article arriving late in it (the usual case)
            # lands on the last page and leaves the others as they are.
            rows = sorted(by_day[day], key=lambda r: (r.date_ms, r.id))
            chunks = [rows[i : i + size] for i in range(0, len(rows), size)]
            paths = [f"days/{day}.html"] + [
                f"days/{day}-{k}.html" for k in range(2, len(chunks) + 1)
            ]
            for k, chunk in enumerate(chunks):
                self._list_page(
                    paths[k],
                    day if k == 0 else f"{day} · 第 {k + 1} 页",
                    chunk,
                    with_source=True,
                    prev=paths[k - 1] if k else None,
                    nxt=paths[k + 1] if k + 1 < len(paths) else None,
                )
            months[day[:7]].append((day[5:], paths[0]))
        month_list = sorted(months.items(), reverse=True)
        fp = _fp(*(p for _m, days in month_list for _l, p in days))

        def render() -> bytes:
            return self.pages.render(
                "groups.html", "days/index.html", heading="按日期", groups=month_list
            )

        self._add("days/index.html", fp, render)

    def _plan_home(self, by_source: dict[str, list[Row]], days: Sequence[str]) -> None:
        n = self.site.home_size
        tops = {sid: _newest(by_source.get(sid, []), n) for sid in self.names}
        counts = {sid: len(by_source.get(sid, [])) for sid in self.names}
        recent = [(d, f"days/{d}.html") for d in sorted(days, reverse=True)[:14]]
        fp = _fp(*(self._entries_fp(t) for t in tops.values()), counts, recent, self.bundles)

        def render() -> bytes:
            sources = [
                {
                    "id": sid,
                    "name": name,
                    "count": counts[sid],
                    "entries": [self._entry(r, False) for r in tops[sid]],
                }
                for sid, name in self.names.items()
            ]
            return self.pages.render(
                "home.html", "index.html", sources=sources, days=recent, bundles=self.bundles
            )

        self._add("index.html", fp, render)

    def _plan_articles(self, rows: Sequence[Row]) -> None:
        plan = self.plan
        render = self._render_article
        for r in rows:
            # The file hash covers the title line and the body; no need to hash again.
            base = f"{r.content_hash}:{r.date_ms}:{r.revisions}:{r.alt_path}"
            if r.id in self.changes:
                base += f":{self.changes[r.id]}"
            plan[r.page] = (base, partial(render, r, r.path, True))
            if r.alt_path:
                plan[md_to_html(r.alt_path)] = (
                    base + ":alt",
                    partial(render, r, r.alt_path, False),
                )
            for n in range(1, r.revisions):
                self._add(
                    _rev_page(r, n), _fp(r.id, n, r.title, r.revisions), self._revision_render(r, n)
                )

    def _revision_links(self, r: Row, page: str) -> list[tuple[str, str | None]]:
        seen = self.catalog.db.execute(
            "SELECT seen_ms FROM revisions WHERE article_id = ? ORDER BY id", (r.id,)
        ).fetchall()
        out: list[tuple[str, str | None]] = []
        for n, (ms,) in enumerate(seen, 1):
            label = f"{when(ms)[1]} 收录"
            target = r.page if n == len(seen) else _rev_page(r, n)
            out.append((label + ("（当前版本）" if n == len(seen) else ""), rel(target, page)))
        return out

    def _render_article(self, r: Row, md_path: str, primary: bool) -> bytes:
        """The page of an article file (its primary or its second-script file)."""
        page = md_to_html(md_path)
        try:
            data = (self.settings.repository(r.home) / md_path).read_bytes()
        except OSError as e:
            raise ArchiveError(f"{md_path}: cannot read the article file: {e.strerror}") from e
        parsed = parse_article_file(data)
        if parsed is None:
            raise ArchiveError(f"{md_path}: not an article file")
        date_ms, title, url, body = parsed
        other = r.path if not primary else r.alt_path
        iso, shown = when(date_ms)
        body, dateline_authors = without_dateline(body.removesuffix("\n"))
        return self.pages.render(
            "article.html",
            page,
            title=title,
            url=url,
            iso=iso,
            when=shown,
            authors=self._authors(r.id) or dateline_authors,
            source_id=r.source,
            source_name=self.names[r.source],
            body=site_body(self._here(body, page)),
            alt_href=rel(md_to_html(other), page) if other else None,
            alt_label=_other_label(r, primary),
            revisions=self._revision_links(r, page) if r.revisions > 1 else [],
            notice=None,
            indexed=True,
            changes=self._changes_of(r, page),
        )

    def _changes_of(self, r: Row, page: str) -> dict[str, object] | None:
        """The article's change history for its page, links relative to ``page``."""
        c = self.changes.get(r.id)
        if c is None:
            return None
        return {"summary": c.summary, "links": [(label, rel(p, page)) for label, p in c.links]}

    def _authors(self, article_id: int) -> str:
        row = self.catalog.db.execute(
            "SELECT authors FROM revisions WHERE article_id = ? ORDER BY id DESC LIMIT 1",
            (article_id,),
        ).fetchone()
        return "、".join(json.loads(row[0])) if row else ""

    def _revision_render(self, r: Row, n: int) -> Render:
        def render() -> bytes:
            page = _rev_page(r, n)
            row = self.catalog.db.execute(
                "SELECT id FROM revisions WHERE article_id = ? ORDER BY id LIMIT 1 OFFSET ?",
                (r.id, n - 1),
            ).fetchone()
            stored = self.catalog.stored([r.id])[0]
            rev = self.catalog.revision(row[0], stored.article)
            source = next(s for s in self.settings.sources if s.id == r.source)
            prepared = prepare(self.settings, source, [rev], self.catalog)[0]
            body, dateline_authors = without_dateline(localize(prepared.article.body, r.path))
            body = site_body(self._here(body, page))
            iso, shown = when(rev.date_ms)
            return self.pages.render(
                "article.html",
                page,
                title=rev.title,
                url=rev.url,
                iso=iso,
                when=shown,
                authors="、".join(rev.authors) or dateline_authors,
                source_id=r.source,
                source_name=self.names[r.source],
                body=body,
                alt_href=None,
                alt_label=None,
                revisions=self._revision_links(r, page),
                notice=f"这是较早的版本（第 {n} 版，共 {r.revisions} 版）。",
                indexed=False,
                changes=None,
            )

        return render

    def _plan_feeds(self, by_source: dict[str, list[Row]], rows: Sequence[Row]) -> None:
        n = self.site.feed_size
        groups = {"all": _newest(rows, n)}
        for sid in self.names:
            groups[sid] = _newest(by_source.get(sid, []), n)
        base = self.site.base_url
        for gid, entries in groups.items():
            title = self.site.title if gid == "all" else f"{self.names[gid]} · {self.site.title}"
            home = "index.html" if gid == "all" else f"sources/{gid}/index.html"
            fp = _fp(base, title, *(f"{r.id}:{r.content_hash}:{r.title}" for r in entries))
            for ext, write in (("atom", feeds.atom), ("rss", feeds.rss), ("json", feeds.json_feed)):
                page = f"feeds/{gid}.{ext}"
                info = feeds.FeedInfo(
                    title=title,
                    home=base + home if base else "",
                    self_url=base + page if base else "",
                    id=base + page if base else f"urn:newsmirror:{gid}",
                )
                self._add(page, _fp(fp, ext), self._feed_render(info, entries, write))
        listing = [(g, self.site.title if g == "all" else self.names[g]) for g in groups]
        self._add("feeds/index.html", _fp(*listing, self.bundles), self._feeds_index(listing))

    def _feed_render(
        self,
        info: feeds.FeedInfo,
        rows: Sequence[Row],
        write: Callable[[feeds.FeedInfo, Sequence[feeds.FeedEntry]], bytes],
    ) -> Render:
        def render() -> bytes:
            return write(info, [self._feed_entry(r) for r in rows])

        return render

    def _feed_entry(self, r: Row) -> feeds.FeedEntry:
        """One article as a feed entry, made once per build (it is in several feeds)."""
        entry = self._entries.get(r.id)
        if entry is None:
            entry = self._entries[r.id] = self._make_feed_entry(r)
        return entry

    def _make_feed_entry(self, r: Row) -> feeds.FeedEntry:
        data = (self.settings.repository(r.home) / r.path).read_bytes()
        parsed = parse_article_file(data)
        body = site_body(parsed[3].removesuffix("\n")) if parsed else ""
        page_url = self.site.base_url + r.page if self.site.base_url else ""
        authors = self._authors(r.id)
        body += f'<p><a href="{escape(r.url)}">原文 · {escape(self.names[r.source])}</a></p>'
        return feeds.FeedEntry(
            id=page_url or f"urn:newsmirror:{r.source}:{r.path}",
            title=r.title,
            link=page_url or r.url,
            original=r.url,
            date_ms=r.date_ms,
            authors=tuple(a for a in authors.split("、") if a),
            content=feeds.absolute_body(body, page_url),
        )

    def _feeds_index(self, listing: Sequence[tuple[str, str]]) -> Render:
        def render() -> bytes:
            groups = [
                (name, [(ext.upper(), f"feeds/{gid}.{ext}") for ext in ("atom", "rss", "json")])
                for gid, name in listing
            ]
            groups.append(("修改与删除", [("Atom", "feeds/changes.atom")]))
            if self.bundles:
                groups.append(("离线合集（可转发）", self.bundles))
            return self.pages.render(
                "groups.html", "feeds/index.html", heading="订阅", groups=groups
            )

        return render

    @staticmethod
    def _static_render(name: str) -> Render:
        def render() -> bytes:
            return template_text(name).encode("utf-8")

        return render

    def _plan_static(self, bundles: Sequence[str]) -> None:
        for name in _STATIC:
            self._add(name, _fp(template_text(name)), self._static_render(name))
        fold = fold_table()
        self._add("search-fold.js", _fp(fold.decode()), lambda: fold)

        def search() -> bytes:
            return self.pages.render("search.html", "search.html", bundles=bundles, live=None)

        self._add("search.html", _fp(*bundles), search)

    # -- the build ---------------------------------------------------------------------------

    def build(self) -> BuildReport:
        """Write the pages whose inputs changed; remove those that are gone."""
        report = BuildReport()
        self.root.mkdir(parents=True, exist_ok=True)
        writer = ArchiveWriter(self.root, fsync=False)
        writer.clear_temps()
        generation = self.generation()
        build_id = self._build_id()
        known = self.catalog.site_pages()
        if (
            self.catalog.site_state("generation") != generation
            or build_id is None
            or self.only is not None
        ):
            known, report.full = {}, True
        rows = self._load_rows()
        by_source: dict[str, list[Row]] = defaultdict(list)
        by_day: dict[str, list[Row]] = defaultdict(list)
        day_cache: dict[int, str] = {}
        for r in rows:
            by_source[r.source].append(r)
            bucket = (r.date_ms + 8 * 3_600_000) // 86_400_000
            day = day_cache.get(bucket) or day_cache.setdefault(bucket, day_of(r.date_ms))
            by_day[day].append(r)
        months = sorted({d[:7] for d in by_day}, reverse=True)
        change_pages = ChangePages(
            Watchlist(self.catalog), self.pages, self.names, self.site.base_url, self.site.title
        )
        self.changes = change_pages.article_summaries()
        change_pages.plan(self._add, _fp)
        if self.only is None:
            self.bundles = BundlePages(self.settings, self.catalog, self.now_ms).plan(
                self._add, _fp
            )
        self._plan_articles(rows)
        self._plan_sources(by_source)
        self._plan_days(by_day)
        self._plan_home(by_source, list(by_day))
        self._plan_feeds(by_source, rows)
        if not self.pagefind:  # keep offering the bundles an earlier build made
            months = sorted((p.name for p in (self.root / "pagefind").glob("[0-9]*")), reverse=True)
        self._plan_static(months)
        changed = [p for p, (fp, _r) in self.plan.items() if known.get(p) != fp]
        done: dict[str, str] = {}
        for i in range(0, len(changed), 500):
            files = []
            for page in changed[i : i + 500]:
                fp, render = self.plan[page]
                try:
                    files.append((page, render()))
                    done[page] = fp
                except ArchiveError as e:
                    report.errors.append(str(e))
            writer.write_batch(files)
            report.written += len(files)
        report.unchanged = len(self.plan) - len(changed)
        gone = [p for p in known if p not in self.plan and not p.startswith(("assets/", "@"))]
        for page in gone:
            with contextlib.suppress(FileNotFoundError):
                (self.root / page).unlink()
        report.removed = len(gone)
        assets = self._link_assets(known)
        if self.pagefind:
            report.bundles = self._search_bundles(by_day, known, done, report)
        if self.only is not None:
            return report
        with self.catalog.transaction():
            self.catalog.set_site_pages({**done, **assets}, gone)
            self.catalog.set_site_state("generation", generation)
            self.catalog.set_site_state("build_id", build_id or self._new_build_id())
        return report

    def _build_id(self) -> str | None:
        """The id of this folder's last build if the catalog remembers the same one."""
        try:
            on_disk = (self.root / MARKER).read_text().strip()
        except OSError:
            return None
        return on_disk if on_disk == self.catalog.site_state("build_id") else None

    def _new_build_id(self) -> str:
        build_id = secrets.token_hex(8)
        (self.root / MARKER).write_text(build_id + "\n")
        return build_id

    def _link_assets(self, known: dict[str, str]) -> dict[str, str]:
        """Image copies into the site: hard links (no extra space), else copies."""
        out: dict[str, str] = {}
        for path in self.catalog.copied_assets():
            if known.get(path) == "asset":
                continue
            # A rotated article's pictures may be in its period repository only.
            repo = next(
                (f for f in self._repositories if (f / path).exists()), self.settings.archive.path
            )
            src, dst = repo / path, self.root / path
            try:
                dst.parent.mkdir(parents=True, exist_ok=True)
                # Never through a symbolic link: a link planted in the archive (or the
                # site) must not put a file from elsewhere on the machine into the site.
                if not _inside(src, repo) or not _inside(dst.parent, self.root):
                    log.warning("not putting %s into the site: a symbolic link leads out", path)
                    continue
                if not dst.exists():
                    try:
                        os.link(src, dst, follow_symlinks=False)
                    except OSError:
                        shutil.copyfile(src, dst, follow_symlinks=False)
            except OSError as e:
                log.warning("cannot put %s into the site: %s", path, e.strerror)
                continue
            out[path] = "asset"
        return out

    def _search_bundles(
        self,
        by_day: dict[str, list[Row]],
        known: dict[str, str],
        done: dict[str, str],
        report: BuildReport,
    ) -> list[str]:
        """Rebuild the search bundle of every month whose article pages changed."""
        by_month: dict[str, list[Row]] = defaultdict(list)
        for day, day_rows in by_day.items():
            by_month[day[:7]].extend(day_rows)
        stale = []
        for month, month_rows in sorted(by_month.items()):
            fp = _fp(*sorted(self.plan[r.page][0] for r in month_rows))
            key = f"@pagefind/{month}"
            if known.get(key) != fp or not (self.root / "pagefind" / month).is_dir():
                # both scripts: the static index cannot fold one into the other at query
                # time, so a "both" source is findable by queries in either
                month_pages = [r.page for r in month_rows]
                month_pages += [r.alt_page for r in month_rows if r.alt_page]
                stale.append((month, month_pages))
                done[key] = fp
        try:
            build_bundles(self.root, stale)
        except PagefindError as e:
            report.errors.append(str(e))
            for month, _p in stale:
                done.pop(f"@pagefind/{month}", None)
            return []
        return [m for m, _p in stale]


def _inside(path: Path, root: Path) -> bool:
    """True when ``path`` is no symbolic link and resolves inside ``root``."""
    return not path.is_symlink() and path.resolve().is_relative_to(root.resolve())
