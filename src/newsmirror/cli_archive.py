"""Commands about what the archive holds over time: ``diff`` (an article's revisions),
``export-warc`` (the evidence of edits and take-downs), ``bundle`` (offline files),
``rotate`` (old articles to period repositories)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from . import evidence
from .bundle import PERIODS, Pictures, in_script, parse_size, select, split
from .bundle import period as bundle_period
from .cli_common import Obj, console, err_console, fail, fmt_time, lit, open_catalog, styled
from .diff import Piece, changed, fold, to_plain
from .errors import NewsmirrorError
from .model import printable
from .pipeline import Updater, wall_clock_ms
from .publish.changes import compare
from .render.html import READER_TZ
from .store.watch import Watchlist


def _print_diff(label: str, pieces: list[Piece]) -> None:
    """One field's diff: coloured on a terminal, ``[-…-]{+…+}`` elsewhere."""
    if not console.is_terminal:
        console.print(f"{label}{printable(to_plain(pieces))}", markup=False, highlight=False)
        return
    parts: list[str | tuple[str, str]] = [label]
    for p in fold(pieces):
        if p is None:
            parts.append((" … ", "dim"))
        else:
            style = {"=": "", "-": "red strike", "+": "bold green"}[p.op]
            parts.append((printable(p.text), style) if style else printable(p.text))
    console.print(styled(*parts), highlight=False)


@click.command("diff")
@click.argument("article")
@click.argument("revisions", nargs=-1, type=int)
@click.pass_obj
def diff_command(obj: Obj, article: str, revisions: tuple[int, ...]) -> None:
    """What changed between two revisions of an archived article.

    ARTICLE is its path in the archive, its URL or its catalog id.  Revisions are counted
    from 1 (the first version archived); without any, the last two are compared; with one,
    that one against the latest.  Chinese is compared by character, other text by word.
    """
    _settings, catalog = open_catalog(obj)
    try:
        watch = Watchlist(catalog)
        aid = watch.find_article(article)
        if aid is None:
            raise NewsmirrorError(f"no archived article {article!r} (give its path, URL or id)")
        revs = watch.revisions(aid)
        events = watch.events(article_id=aid)
    except NewsmirrorError as e:
        catalog.close()
        fail(e)
        return
    catalog.close()
    for event in reversed(events):
        console.print(f"{fmt_time(event.at_ms)}  {event.kind}: {lit(event.detail)}", markup=False)
    if len(revisions) > 2 or any(not 1 <= r <= len(revs) for r in revisions):
        fail(NewsmirrorError(f"revisions are numbered 1 to {len(revs)} for this article"))
    if len(revs) < 2 and not revisions:
        console.print(f"one revision only, archived {fmt_time(revs[0].seen_ms)}", markup=False)
        return
    picked = list(revisions) or [len(revs) - 1, len(revs)]
    if len(picked) == 1:
        picked.append(len(revs))
    a, b = revs[picked[0] - 1], revs[picked[1] - 1]
    console.print(
        f"revision {picked[0]} ({fmt_time(a.seen_ms)}) → "
        f"revision {picked[1]} ({fmt_time(b.seen_ms)})",
        markup=False,
    )
    title, text = compare(a, b)
    if changed(title):
        _print_diff("title: ", title)
    if a.date_ms != b.date_ms:
        console.print(f"date: {fmt_time(a.date_ms)} → {fmt_time(b.date_ms)}", markup=False)
    if changed(text):
        _print_diff("", text)
    elif not changed(title) and a.date_ms == b.date_ms:
        console.print("no difference in title, date or text", markup=False)


@click.command("export-warc")
@click.argument("output", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--article", "-a", help="Only this article (path, URL or catalog id).")
@click.option("--day", "-d", help="Only fetches of this day (YYYY-MM-DD, UTC).")
@click.option("--source", "-s", help="Only this source.")
@click.pass_obj
def export_warc(
    obj: Obj, output: Path, article: str | None, day: str | None, source: str | None
) -> None:
    """Write the evidence of edits, removals and restorations as one WARC file.

    Each re-check that found one is kept as the request and response records of its
    fetch, with payload digests; open the file with warcio, pywb or any WARC reader.
    """
    settings, catalog = open_catalog(obj)
    try:
        watch = Watchlist(catalog)
        since = until = aid = None
        if day is not None:
            try:
                start = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
            except ValueError:
                raise NewsmirrorError(f"--day {day!r}: not a date such as 2026-11-30") from None
            since = int(start.timestamp() * 1000)
            until = since + 86_400_000
        if source is not None and source not in {s.id for s in settings.sources}:
            raise NewsmirrorError(f"no source {source!r} in the config")
        if article is not None:
            aid = watch.find_article(article)
            if aid is None:
                raise NewsmirrorError(f"no archived article {article!r}")
        blobs = watch.evidence(article_id=aid, source=source, since_ms=since, until_ms=until)
        count = evidence.write_file(output, blobs)
    except NewsmirrorError as e:
        fail(e)
        return
    except OSError as e:
        fail(NewsmirrorError(f"{output}: cannot write: {e.strerror}"))
        return
    finally:
        catalog.close()
    console.print(f"{count} fetch(es) written to {lit(output)}", markup=False)


@click.command()
@click.option(
    "--period", "-p", type=click.Choice(PERIODS), default="day", show_default=True,
    help="A day, a week (Monday on) or a month.",
)  # fmt: skip
@click.option("--date", "-d", "day", help="A day of the period (YYYY-MM-DD); default: yesterday.")
@click.option("--source", "-s", "sources", multiple=True, help="Only this source (repeatable).")
@click.option(
    "--format", "-f", "formats", type=click.Choice(("epub", "html", "zip")), multiple=True,
    help="epub, html, zip (the period's static site, for a USB stick; repeatable); "
    "default: epub and html.",
)  # fmt: skip
@click.option("--script", type=click.Choice(("hans", "hant")), help="Convert the text to it.")
@click.option(
    "--output", "-o", type=click.Path(path_type=Path, file_okay=False), default=Path("."),
    show_default=True, help="The folder the bundles go to.",
)  # fmt: skip
@click.option("--no-download", is_flag=True, help="Only pictures the archive holds copies of.")
@click.option(
    "--max-size", default="100MB", show_default=True,
    help="Past this, a bundle is cut by source, then by day.",
)  # fmt: skip
@click.pass_obj
def bundle(
    obj: Obj,
    period: str,
    day: str | None,
    sources: tuple[str, ...],
    formats: tuple[str, ...],
    script: str | None,
    output: Path,
    no_download: bool,
    max_size: str,
) -> None:
    """Write a period's articles as files to pass on: an EPUB e-book and a single HTML page
    (pictures inside both; nothing is fetched when they are opened)."""
    from .bundle import epub, single

    settings, catalog = open_catalog(obj)
    try:
        cap = parse_size(max_size)
        if day is None:
            day = datetime.fromtimestamp(wall_clock_ms() / 1000 - 86400, READER_TZ).strftime(
                "%Y-%m-%d"
            )
        start, end, label = bundle_period(period, day)
        items = select(settings, catalog, start, end, sources)
        if not items:
            raise NewsmirrorError(f"no articles dated {label}")
        wanted = script or (settings.script if settings.script in ("hans", "hant") else "")
        items = in_script(items, wanted, settings.traditional)
        pictures = Pictures(settings, catalog)
        pictures.gather(items, download=not no_download)
    except NewsmirrorError as e:
        fail(e)
        return
    finally:
        catalog.close()
    lang = {"hans": "zh-Hans", "hant": "zh-Hant"}.get(wanted, "zh")
    name = "-".join(("newsmirror", label.replace(" – ", "_"), *sources))
    output.mkdir(parents=True, exist_ok=True)
    missing = sum(1 for p in pictures.found.values() if p is None)
    if "zip" in formats:
        _site_zip(obj, output / f"{name}.zip", start, end, sources)
    for fmt in [f for f in formats or ("epub", "html") if f != "zip"]:
        writer = epub.write if fmt == "epub" else single.write
        parts = split(items, pictures.found, fmt, cap)
        if len(parts) > 1:
            console.print(f"{fmt}: over {max_size}, cut into {len(parts)} parts", markup=False)
        for suffix, part in parts:
            path = output / f"{name}{suffix}.{fmt}"
            size = writer(path, settings.site.title, label, part, pictures.found, lang)
            note = f" (over {max_size}: one source's day is not cut)" if size > cap else ""
            console.print(
                f"{lit(path)}: {len(part)} articles, {size / 1e6:.1f} MB{note}", markup=False
            )
    if missing:
        console.print(f"{missing} picture(s) could not be had: their text stands", markup=False)


def _site_zip(obj: Obj, path: Path, start: int, end: int, sources: tuple[str, ...]) -> None:
    """The period's static site as a zip (see ``publish.site_zip``)."""
    from .publish import site_zip

    settings, catalog = open_catalog(obj)
    try:
        size = site_zip.write(path, settings, catalog, start, end, sources)
    except NewsmirrorError as e:
        fail(e)
        return
    finally:
        catalog.close()
    console.print(f"{lit(path)}: the period's site, {size / 1e6:.1f} MB", markup=False)


@click.command("rotate")
@click.pass_obj
def rotate(obj: Obj) -> None:
    """Move articles older than [rotate] keep_months to per-period repositories.

    Each period (a year, or a month) gets its own repository beside the archive, with the
    articles, their pictures, full lists and a README; the archive's lists, README and
    bodies link there.  Repeatable: a rotation that was interrupted is finished by the
    next run, and a run with nothing due changes nothing.
    """
    settings = obj.settings()
    if not settings.rotate.enabled:
        fail(NewsmirrorError("[rotate] is not enabled in the config (see README, Rotation)"))
        return
    try:
        report = Updater(settings).rotate()
    except NewsmirrorError as e:
        fail(e)
        return
    for period, n in sorted(report.placed.items()):
        console.print(f"{period}: {n} articles assigned", markup=False)
    for period, n in sorted(report.settled.items()):
        folder = settings.rotate.folder_of(period)
        console.print(f"{period}: {n} articles moved to {folder}", markup=False)
    if report.removed:
        console.print(f"{report.removed} files removed from the archive", markup=False)
    if not report.placed and not report.settled:
        console.print("nothing to rotate", markup=False)
    for where, why in report.errors.items():
        err_console.print(f"rotation not finished ({where}): {why}", markup=False)
    sys.exit(2 if report.errors else 0)
