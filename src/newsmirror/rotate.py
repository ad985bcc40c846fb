"""Rotation: articles older than ``[rotate] keep_months`` move to per-period repositories,
so the repository readers clone holds recent months only.

Each period (a year, or a month) gets its own repository beside the archive (``folder``,
pushed to ``remote``), laid out like the archive: the same article paths, its own image
copies of those articles, lists of *all* its articles, a README linking back.  The archive
keeps its lists and README, whose entries and bodies link to an article's new place with
an absolute URL (``url``) where a relative link no longer reaches it.

Crash safety comes from the order, each step repeatable:

1. *Place* (``rotate`` only): the catalog records each due article's period
   (``articles.home``) and, in the same transaction, asks for everything linking to it to
   be rendered again (pending keys) and for the history to be squashed.
2. *Relink*: the pending articles are rendered again (links between repositories become
   absolute); a rotated one is written at its old place in the archive first.
3. *Settle*: every rotated article that has a file in the archive is rendered for its
   period, written there with its pictures, committed there; only then is its file (and
   each picture no article of the archive still shows) removed from the archive.

A run killed anywhere leaves files the next run writes again with the same bytes, and a
file leaves the archive only once its period repository holds it.  Ordinary passes do
steps 2 and 3 too: an edit of a rotated article reaches its period repository.
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from .apply import prepare_stored
from .config import Settings
from .errors import NewsmirrorError
from .placement import Placement
from .publish import changes
from .publish import git as git_publish
from .publish.lists import Elsewhere, ReadmeSource, list_path, render_list, render_readme
from .render.markdown import file_hash
from .report import RotateReport
from .store.catalog import Catalog
from .store.files import ArchiveWriter
from .store.rotation import SQUASH_PENDING, Homes, Placed
from .store.watch import EDIT, Watchlist

log = logging.getLogger(__name__)

# A relative reference in an article file: pictures (and links) written by ``localize``.
_REF = re.compile(rb'\s(?:src|href)="([^":#?]+)"')


def pictures_in(path: str, data: bytes) -> set[str]:
    """The image copies (``assets/…``) the article file at ``path`` shows, read from its
    bytes: right even for files adopted without a catalog."""
    out = set()
    folder = posixpath.dirname(path)
    for m in _REF.finditer(data):
        target = posixpath.normpath(posixpath.join(folder, m.group(1).decode("utf-8", "replace")))
        if target.startswith("assets/"):
            out.add(target)
    return out


def cutoff_ms(now_ms: int, keep_months: int) -> int:
    """The first instant of the UTC month ``keep_months`` before the current one: articles
    dated before it rotate.  Whole months, so a rotation moves a month at a time."""
    now = datetime.fromtimestamp(now_ms / 1000, UTC)
    months = now.year * 12 + now.month - 1 - keep_months
    start = datetime(months // 12, months % 12 + 1, 1, tzinfo=UTC)
    return int(start.timestamp() * 1000)


def period_of(date_ms: int, period: str) -> str:
    """The period repository an article dated ``date_ms`` goes to (UTC)."""
    d = datetime.fromtimestamp(max(date_ms, 0) / 1000, UTC)
    return f"{d.year:04d}" if period == "year" else f"{d.year:04d}-{d.month:02d}"


class Mover:
    """Places due articles, settles rotated ones into their period repositories."""

    def __init__(
        self, settings: Settings, writer: ArchiveWriter, *, clock: Callable[[], int]
    ) -> None:
        self.settings = settings
        self.rotate = settings.rotate
        self.root = settings.archive.path
        self.writer = writer
        self.clock = clock
        self._writers: dict[str, ArchiveWriter] = {}

    def place(self, catalog: Catalog, report: RotateReport) -> None:
        """Step 1: record the period of every article now due (see the module docstring)."""
        homes = Homes(catalog)
        before = cutoff_ms(self.clock(), self.rotate.keep_months)
        due = homes.due(before, [s.id for s in self.settings.sources])
        if not due:
            return
        by_period: dict[str, list[int]] = defaultdict(list)
        for article_id, date_ms in due:
            by_period[period_of(date_ms, self.rotate.period)].append(article_id)
        keys = homes.link_keys([i for i, _ in due])
        with catalog.transaction():
            for period, article_ids in sorted(by_period.items()):
                homes.set_home(article_ids, period)
                report.placed[period] = len(article_ids)
            catalog.add_pending(keys)
            catalog.set_site_state(SQUASH_PENDING, "1")

    def writer_of(self, period: str) -> ArchiveWriter:
        """The writer of one period repository's work tree."""
        if period not in self._writers:
            folder = self.rotate.folder_of(period)
            w = ArchiveWriter(folder, fsync=self.settings.archive.fsync, journal=True)
            folder.mkdir(parents=True, exist_ok=True)
            w.clear_temps()
            self._writers[period] = w
        return self._writers[period]

    def settle(self, catalog: Catalog, report: RotateReport, *, sweep: bool = False) -> None:
        """Step 3: every rotated article with a file in the archive moves to its period.

        The pictures they took along leave the archive after them; ``sweep`` looks for
        such pictures even when this run moved none (``rotate`` finishes a killed run)."""
        homes = Homes(catalog)
        configured = {s.id for s in self.settings.sources}
        # Only what can be rendered leaves: a source taken out of the config keeps its files.
        stray = [p for p in homes.placed() if p.source in configured and self._in_archive(p)]
        by_home: dict[str, list[Placed]] = defaultdict(list)
        for p in stray:
            by_home[p.home].append(p)
        done: list[Placed] = []
        pictures: set[str] = set()
        for period, placed in sorted(by_home.items()):
            try:
                pictures |= self._write_period(catalog, period, placed)
                self._commit(catalog, period, report)
            except NewsmirrorError as e:
                report.errors[period] = str(e)
                log.error("rotate into %s: %s", period, e)
                continue
            report.settled[period] = len(placed)
            done += placed
        # Their diff pages link to them: removed (before them, so that a killed run
        # leaves none behind), written again with the new link by the lists' step.
        watch = Watchlist(catalog)
        diffs = [
            changes.diff_path(e)
            for p in done
            for e in watch.events(article_id=p.article_id)
            if e.kind == EDIT and e.after_rev is not None
        ]
        self.writer.remove(diffs)
        report.removed += self.writer.remove([f for p in done for f in (p.path, p.alt_path) if f])
        if (pictures or sweep) and not report.errors:
            self._drop_pictures(catalog, report)

    def _drop_pictures(self, catalog: Catalog, report: RotateReport) -> None:
        """Remove from the archive the image copies a period repository holds and no
        article of the archive shows.  Found from the files, not from what this run
        moved, so a run killed between moving articles and their pictures is finished by
        the next (``rotate`` always runs this: see ``settle``)."""
        here = _files_under(self.root / "assets")
        if not here:
            return
        elsewhere: set[str] = set()
        for period in Homes(catalog).counts():
            elsewhere |= _files_under(self.rotate.folder_of(period) / "assets")
        candidates = here & elsewhere
        if candidates:
            report.removed += self.writer.remove(sorted(candidates - self._pictures_shown()))

    def _in_archive(self, p: Placed) -> bool:
        return any((self.root / f).exists() for f in (p.path, p.alt_path) if f)

    def _write_period(self, catalog: Catalog, period: str, placed: list[Placed]) -> set[str]:
        """Render each article for its period and write it there with its pictures;
        returns those pictures."""
        writer = self.writer_of(period)
        placement = Placement(self.settings, catalog)
        pictures: set[str] = set()
        for i in range(0, len(placed), 200):
            ids = [p.article_id for p in placed[i : i + 200]]
            files: list[tuple[str, bytes]] = []
            rendered: list[tuple[int, str, str | None]] = []
            for st, p in prepare_stored(self.settings, catalog, ids, placement.away):
                out = p.render(st.known.path)
                alt = p.alt_path(st.known.path)
                rendered.append((st.known.article_id, file_hash(out[0][1]), alt))
                for path, data in out:
                    for picture in pictures_in(path, data) - pictures:
                        pictures.add(picture)
                        files += self._picture(writer, picture)
                files += out
            # Pictures first: a file is never there before what it shows.
            writer.write_batch(files)  # durable on return
            with catalog.transaction():
                for article_id, h, alt in rendered:
                    catalog.set_rendered(article_id, h, alt)
        self._lists(catalog, period, writer)
        return pictures

    def _picture(self, writer: ArchiveWriter, asset: str) -> list[tuple[str, bytes]]:
        """An image copy for the period, unless it is there already (content-addressed:
        a file of that name holds those bytes)."""
        if (writer.root / asset).exists():
            return []
        try:
            return [(asset, (self.root / asset).read_bytes())]
        except OSError as e:
            log.warning("picture %s is missing from the archive: %s", asset, e.strerror)
            return []

    def _lists(self, catalog: Catalog, period: str, writer: ArchiveWriter) -> None:
        """The period's lists (every article of each source) and README."""
        by_number = self.settings.archive.layout == "duty-machine"
        files = []
        readme = []
        homes = Homes(catalog)
        counts = homes.sources_of(period)
        for s in self.settings.sources:
            if s.id not in counts:
                continue
            entries = homes.entries(s.id, period, by_number=by_number)
            files.append((list_path(s.name), render_list(s.name, entries)))
            readme.append(ReadmeSource(s.name, counts[s.id], None))
        front_readme = self.rotate.url_of(None) + "README.md"
        front = Elsewhere("主存档 · main archive", sum(counts.values()), front_readme)
        files.append(("README.md", render_readme(readme, period=period, newer=front)))
        writer.write_batch(files)

    def _commit(self, catalog: Catalog, period: str, report: RotateReport) -> None:
        """Commit the period's repository (when the archive is a git repository) and push."""
        if not self.settings.git.enabled:
            return
        url = self.rotate.remote.replace("{period}", period) if self.rotate.remote else None
        result = git_publish.publish_written(
            self.writer_of(period),
            f"Rotate: articles of {period}\n",
            ("origin",) if url else (),
            self.settings.git.branch,
            origin=url,
        )
        if result.commit:
            report.commits[period] = result.commit
        report.pushed[period] = result.pushed
        for remote, why in result.failed.items():
            log.error("push of %s to %s failed (will retry next run): %s", period, remote, why)
            report.errors[f"{period} {remote}"] = why

    def _pictures_shown(self) -> set[str]:
        """Every image copy an article file of the archive shows (read from the files)."""
        out: set[str] = set()
        top = self.root / "articles"
        for dirpath, _dirs, names in os.walk(top):
            for name in names:
                if name.endswith(".md"):
                    full = os.path.join(dirpath, name)
                    rel = os.path.relpath(full, self.root).replace(os.sep, "/")
                    with open(full, "rb") as f:
                        out |= pictures_in(rel, f.read())
        return out

    def squash(self, catalog: Catalog, report: RotateReport) -> None:
        """After a rotation's commit: the archive's branch starts again from one commit
        (``history = "squash"``), so a fresh clone no longer downloads the moved files'
        history; the old history stays in the local repository under ``refs/rotated/``."""
        if catalog.site_state(SQUASH_PENDING) != "1":
            return
        if self.rotate.history == "squash" and self.settings.git.enabled:
            stamp = datetime.fromtimestamp(self.clock() / 1000, UTC).strftime("%Y%m%dT%H%M%S")
            counts = Homes(catalog).counts()
            message = (
                "Archive after rotation\n\nOlder articles: "
                + ", ".join(f"{p} ({n})" for p, n in sorted(counts.items()))
                + "\n"
            )
            repo = git_publish.GitRepo(self.root)
            repo.squash(message, f"refs/rotated/{stamp}")
        with catalog.transaction():
            catalog.set_site_state(SQUASH_PENDING, "0")


def _files_under(folder: Path) -> set[str]:
    """``assets/…`` paths of the image copies in a repository's ``assets`` folder."""
    out = set()
    for dirpath, _dirs, names in os.walk(folder):
        rel = os.path.relpath(dirpath, folder.parent).replace(os.sep, "/")
        out |= {f"{rel}/{n}" for n in names if not n.startswith(".")}
    return out
