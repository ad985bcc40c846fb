"""The ``newsmirror`` command: init, update, run, status, rewrite-images, search, build, serve,
sources (and, in ``cli_archive``, diff, export-warc, bundle and rotate).

On a terminal, progress and tables come from rich; otherwise (cron, CI, pipes) output is
quiet, one line per event, so logs stay greppable.  Exit codes: 0 all well, 1 a fatal error
(nothing was done), 2 the pass ran but some source failed or publishing failed, 3 (status)
the mirror is unhealthy.
"""

from __future__ import annotations

import logging
import random
import signal
import sys
import time
from pathlib import Path
from types import FrameType

import click
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from . import __version__, opml, sizes
from .actions import DEFAULT_PACKAGE, write_actions_files
from .cli_archive import bundle, diff_command, export_warc, rotate
from .cli_common import Obj, console, err_console, fail, fmt_time, lit, open_catalog, styled
from .cli_queue import enqueue, publish, worker
from .config import DEFAULT_CONFIG_NAME, Settings, with_base_url
from .config_table import parse_duration
from .errors import NewsmirrorError
from .health import notify, problems
from .init import write_initial_config
from .model import printable
from .pipeline import StopFlag, Updater, wall_clock_ms
from .publish.serve import make_server
from .publish.site import BuildReport, SiteBuilder
from .queue import state as queue_state
from .report import SourceReport, UpdateReport
from .store.catalog import Catalog
from .store.search import MAX_COUNT, Hit, SearchIndex


class _Printable(logging.Formatter):
    """Log lines without control characters (an ESC in a feed's error reached terminals)."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record))


def _setup_logging(verbose: bool) -> None:
    level = logging.DEBUG if verbose else logging.INFO
    root = logging.getLogger("newsmirror")
    root.handlers.clear()
    handler: logging.Handler
    if console.is_terminal:
        # The same console as the progress bar, which then keeps log lines above itself.
        handler = RichHandler(console=console, show_path=False, markup=False)
        handler.setFormatter(_Printable("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(
            _Printable("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S")
        )
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "-c",
    "config",
    type=click.Path(path_type=Path),
    default=DEFAULT_CONFIG_NAME,
    show_default=True,
    help="The config file.",
)
@click.option("--verbose", "-v", is_flag=True, help="Debug logging.")
@click.version_option(__version__, prog_name="newsmirror")
@click.pass_context
def main(ctx: click.Context, config: Path, verbose: bool) -> None:
    """Keep full-text mirrors of news sources in a git-published archive."""
    _setup_logging(verbose)
    ctx.obj = Obj(config)


@main.command()
@click.option("--force", is_flag=True, help="Overwrite existing files.")
@click.option(
    "--github-actions",
    is_flag=True,
    help="Run inside a checkout of the archive repository: write a config for it and a "
    "workflow that updates it hourly and publishes the site on GitHub Pages.",
)
@click.option(
    "--package",
    default=DEFAULT_PACKAGE,
    show_default=True,
    help="What the workflow installs (a version, or a git URL).",
)
@click.pass_obj
def init(obj: Obj, force: bool, github_actions: bool, package: str) -> None:
    """Write a commented newsmirror.toml and create the archive folder."""
    try:
        settings = write_initial_config(obj.config, force=force, github_actions=github_actions)
        written = (
            write_actions_files(obj.config.parent, package, force=force) if github_actions else []
        )
    except NewsmirrorError as e:
        fail(e)
        return
    console.print(
        f"wrote {obj.config} with {len(settings.sources)} sources; "
        f"archive folder {settings.archive.path}",
        markup=False,
    )
    for path in written:
        console.print(f"wrote {path}", markup=False)
    if github_actions:
        console.print(
            "next: commit newsmirror.toml and .github/, push, and in the repository's "
            "settings let Actions write (Settings → Actions → Workflow permissions) and set "
            "Pages' source to GitHub Actions",
            markup=False,
        )
    else:
        console.print("next: edit it if you like, then run `newsmirror update`", markup=False)


def _print_report(report: UpdateReport) -> None:
    for s in report.sources:
        if s.skipped_until:
            console.print(
                f"skipped {s.id}: not due before {fmt_time(s.skipped_until)} "
                "(backoff or the server's wish; --force to fetch anyway)"
            )
        if s.error:
            console.print(styled(("FAILED", "red"), f" {lit(s.id)}: {lit(s.error)}"))
        for e in s.item_errors:
            reason = lit(e.reason.removeprefix(e.where + ": "))
            console.print(
                styled(("item failed", "yellow"), f" {lit(s.id)}: {lit(e.where)}: {reason}")
            )
    ok = sum(1 for s in report.sources if not s.error and not s.skipped_until)
    console.print(
        f"{report.new} new, {report.updated} updated, {ok} sources ok, "
        f"{len(report.failed)} failed"
        + (f"; commit {report.commit[:10]}" if report.commit else "; no commit")
        + (f"; pushed to {', '.join(report.pushed)}" if report.pushed else "")
    )
    for remote, reason in report.publish_errors.items():
        console.print(styled(("PUBLISH FAILED", "red"), f" {lit(remote)}: {lit(reason)}"))
    if report.interrupted:
        console.print("stopped early on request; the rest follows next run")


def _summary(r: SourceReport) -> str:
    if r.not_modified:
        return f"{r.id}: not modified"
    return f"{r.id}: {r.new} new, {r.updated} updated, {r.unchanged} unchanged"


def _one_pass(settings: Settings, stop: StopFlag, force: bool = False) -> UpdateReport:
    report = _run_updater(settings, stop, force)
    notify(settings, report)
    return report


def _run_updater(settings: Settings, stop: StopFlag, force: bool) -> UpdateReport:
    if not console.is_terminal:
        return Updater(settings, stop=stop, force=force).run()
    enabled = sum(1 for s in settings.sources if s.enabled)
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("updating sources", total=enabled)

        def on_source(r: SourceReport) -> None:
            progress.advance(task)
            if not r.error:  # failures are logged as warnings already
                progress.console.print("  " + printable(_summary(r)), highlight=False)

        return Updater(settings, stop=stop, on_source=on_source, force=force).run()


def _exit_code(report: UpdateReport) -> int:
    return 2 if report.failed or report.publish_errors else 0


@main.command()
@click.option("--force", is_flag=True, help="Fetch sources that are backing off, too.")
@click.pass_obj
def update(obj: Obj, force: bool) -> None:
    """One pass over all sources: fetch, archive, commit and push."""
    stop = StopFlag()
    _install_stop(stop)
    try:
        report = _one_pass(obj.settings(), stop, force)
    except NewsmirrorError as e:
        fail(e)
        return
    _print_report(report)
    sys.exit(_exit_code(report))


@main.command("rewrite-images")
@click.pass_obj
def rewrite_images(obj: Obj) -> None:
    """Render the archive again with the current [images], [links] and [script] settings.

    When an image proxy gets blocked, put another one first in [images] proxies and run
    this: every article is rewritten from the catalog, without fetching it again, then
    committed and pushed.  In copy mode, images without a copy are downloaded first.
    """
    try:
        report = Updater(obj.settings()).rewrite()
    except NewsmirrorError as e:
        fail(e)
        return
    console.print(f"{report.rerendered} articles rewritten", markup=False)
    if report.commit:
        console.print(f"committed {report.commit[:12]}", markup=False)
    for where, reason in report.publish_errors.items():
        err_console.print(f"publish failed ({where}): {reason}", markup=False)
    sys.exit(_exit_code(report))


def _install_stop(stop: StopFlag) -> None:
    """First Ctrl-C: finish the file in hand and stop.  Second: stop at once."""

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop:
            raise KeyboardInterrupt
        stop.set()
        err_console.print("stopping after the file in hand (Ctrl-C again to abort)")

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


@main.command()
@click.option(
    "--every",
    "every",
    default=None,
    help="Interval, e.g. 30m or 1h (default: [schedule] every, else 1h).",
)
@click.option(
    "--jitter",
    default=0.1,
    show_default=True,
    help="Random extra wait, as a fraction of the interval.",
)
@click.pass_obj
def run(obj: Obj, every: str | None, jitter: float) -> None:
    """Update, then repeat every interval (with jitter) until stopped."""
    stop = StopFlag()
    _install_stop(stop)
    while not stop:
        try:
            settings = obj.settings()  # re-read: edits take effect next pass
            interval = parse_duration(every) if every else settings.interval
            report = _one_pass(settings, stop)
            _print_report(report)
        except NewsmirrorError as e:
            err_console.print(styled(("error:", "bold red"), " ", lit(e)))
            interval = parse_duration(every) if every else 3600.0
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--every") from e
        wait = interval * (1 + random.uniform(0, max(jitter, 0.0)))
        logging.getLogger("newsmirror").info("next pass in %.0f s", wait)
        deadline = time.monotonic() + wait
        while not stop and time.monotonic() < deadline:
            time.sleep(min(1.0, deadline - time.monotonic()))


@main.command()
@click.pass_obj
def status(obj: Obj) -> None:
    """A table per source: last success, last error, articles, next due.

    Exits 3 when a source has been failing longer than [health] max_failing or nothing new
    was archived for [health] max_silence, so cron and CI notice.
    """
    settings, catalog = open_catalog(obj)
    try:
        states = {s.id: s for s in catalog.sources()}
        errors = {s.id: catalog.item_errors(s.id) for s in settings.sources}
        uncopied = catalog.asset_failures()
        size = sizes.measure(settings, catalog)
        queue = queue_state(catalog)
    finally:
        catalog.close()
    table = Table(title=f"newsmirror · {settings.archive.path}")
    for col in ("source", "articles", "last success", "last error", "next due"):
        table.add_column(col)
    now = wall_clock_ms()
    interval_ms = int(settings.interval * 1000)
    for src in settings.sources:
        st = states.get(src.id)
        if st is None:
            table.add_row(src.id, "0", "never", "—", "now")
            continue
        err = "—"
        if st.last_error:
            err = f"{fmt_time(st.last_error_ms)} ({st.failures}×): {st.last_error}"
        elif errors.get(src.id):
            err = f"{len(errors[src.id])} item(s) failed"
        due = st.next_due_ms or (st.last_attempt_ms or 0) + interval_ms
        table.add_row(
            src.id if src.enabled else f"{src.id} (disabled)",
            str(st.articles),
            fmt_time(st.last_success_ms),
            printable(err),
            "now" if due <= now else fmt_time(due),
        )
    console.print(table)
    if uncopied:
        console.print(f"{len(uncopied)} image(s) without a copy (shown through the proxy):")
        for url, error, attempts in uncopied[:10]:
            console.print(
                f"  {lit(url)} ({attempts}×): {lit(error)}", markup=False, highlight=False
            )
    _print_sizes(size)
    if len(queue) > 1 or queue["unpublished"]:
        # Workers (see `newsmirror worker`): what waits and who works.
        console.print(
            "queue: " + ", ".join(f"{n} {what}" for what, n in queue.items()), markup=False
        )
    trouble = problems(settings, list(states.values()), now)
    for line in trouble:
        err_console.print(styled(("unhealthy:", "bold red"), " ", lit(line)), highlight=False)
    if trouble:
        sys.exit(3)


def _print_sizes(s: sizes.Sizes) -> None:
    """The archive's size, largest sources and growth per month (the last twelve)."""
    h = sizes.human
    git = f" · git objects {h(s.git_bytes)}" if s.git_bytes is not None else ""
    console.print(
        f"size: {s.article_files:,} article files {h(s.article_bytes)} · "
        f"{s.asset_files:,} image copies {h(s.asset_bytes)}{git}",
        markup=False,
    )
    if s.by_source:
        top = " · ".join(f"{lit(k)} {h(v)}" for k, v in s.by_source.most_common(5))
        console.print(f"largest sources: {top}", markup=False)
    if s.periods:
        parts = []
        for period, n in sorted(s.periods.items()):
            git_size = s.period_git.get(period)
            parts.append(f"{period} {n:,}" + (f" ({h(git_size)})" if git_size else ""))
        console.print("moved to period repositories: " + " · ".join(parts), markup=False)
    if s.by_month:
        months = sorted(s.by_month.items())[-12:]
        console.print(
            "growth per month: " + " · ".join(f"{m} {h(v)}" for m, v in months), markup=False
        )


def _print_hit(n: int, hit: Hit) -> None:
    when = fmt_time(hit.date_ms)
    if console.is_terminal:
        snippet = styled(
            "   ",
            *(
                (lit(part), "bold yellow") if i % 2 else lit(part)
                for i, part in enumerate(hit.snippet)
            ),
        )
        console.print(
            styled((f"{n}. {lit(hit.title)}", "bold"), "  ", (f"{lit(hit.source)} · {when}", "dim"))
        )
        console.print(snippet, highlight=False)
        console.print(styled("   ", (lit(hit.path), "dim")), highlight=False)
    else:
        text = printable(
            "".join(f"【{part}】" if i % 2 else part for i, part in enumerate(hit.snippet))
        )
        line = printable(f"{n}. {hit.title}\t{hit.source}\t{when}\t{hit.path}")
        console.print(line, markup=False)
        console.print(f"   {text}", markup=False, highlight=False)


@main.command()
@click.argument("query", nargs=-1, required=True)
@click.option("--limit", "-n", default=10, show_default=True, help="Results to show.")
@click.option("--source", "-s", "sources", multiple=True, help="Only this source (repeatable).")
@click.pass_obj
def search(obj: Obj, query: tuple[str, ...], limit: int, sources: tuple[str, ...]) -> None:
    """Search the archived articles, best matches first, with snippets.

    Words must all match; "quoted phrases" match as written; OR between two words takes
    either; -word excludes; word* matches a prefix.  Chinese needs no spaces: 对话 finds
    对话 and 對話, and one-character words work too.
    """
    text = " ".join(query)
    settings, catalog = open_catalog(obj)
    unknown = sorted(set(sources) - {s.id for s in settings.sources})
    if unknown:
        catalog.close()
        known = ", ".join(s.id for s in settings.sources) or "none"
        fail(NewsmirrorError(f"no source {unknown[0]!r} in the config (sources: {known})"))
        return
    try:
        index = SearchIndex(catalog)
        index.sync()
        hits, total = index.search(text, limit=max(1, limit), sources=sources)
    except NewsmirrorError as e:
        fail(e)
        return
    finally:
        catalog.close()
    if not hits:
        console.print(f"no articles match {text!r}", markup=False)
        return
    shown = f"more than {MAX_COUNT}" if total > MAX_COUNT else str(total)
    console.print(f"{shown} articles match {text!r}", markup=False)
    for n, hit in enumerate(hits, 1):
        _print_hit(n, hit)


def _build(settings: Settings, *, search: bool, full: bool) -> BuildReport:
    catalog = Catalog(settings.catalog, create=False)
    try:
        SearchIndex(catalog).sync()
        if full:
            with catalog.transaction():
                catalog.clear_site()
        return SiteBuilder(settings, catalog, pagefind=None if search else False).build()
    finally:
        catalog.close()


def _print_build(settings: Settings, report: BuildReport) -> None:
    console.print(
        f"{report.written} pages written, {report.unchanged} unchanged, "
        f"{report.removed} removed{' (full build)' if report.full else ''} "
        f"in {settings.site.path}",
        markup=False,
    )
    if report.bundles:
        console.print(f"search index rebuilt for {', '.join(report.bundles)}", markup=False)
    if not settings.site.base_url:
        console.print(
            "note: [site] base_url is not set, so the feeds link to the outlets' pages and "
            "leave out this site's own links and picture copies (a feed needs absolute URLs)",
            markup=False,
        )
    for error in report.errors:
        err_console.print(f"error: {error}", markup=False, highlight=False)


@main.command()
@click.option("--no-search", is_flag=True, help="Skip the static search index (Pagefind).")
@click.option("--full", is_flag=True, help="Render every page, not only the changed ones.")
@click.option(
    "--base-url",
    default=None,
    help="Where the site is published (overrides [site] base_url; CI knows it at run time).",
)
@click.pass_obj
def build(obj: Obj, no_search: bool, full: bool, base_url: str | None) -> None:
    """Render the archive as a static website with feeds and search, into [site] path.

    Only pages whose content changed are written again.  Exits 2 when some page could not
    be built (the others were).
    """
    try:
        settings = obj.settings()
        if base_url is not None:
            settings = with_base_url(settings, base_url)
        report = _build(settings, search=not no_search, full=full)
    except NewsmirrorError as e:
        fail(e)
        return
    _print_build(settings, report)
    sys.exit(2 if report.errors else 0)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", "-p", default=8000, show_default=True, help="Port (0: any free one).")
@click.option("--no-build", is_flag=True, help="Serve the site as it is, without building.")
@click.pass_obj
def serve(obj: Obj, host: str, port: int, no_build: bool) -> None:
    """Build the site, then serve it with live search over the catalog."""
    try:
        settings = obj.settings()
        if not no_build:
            _print_build(settings, _build(settings, search=True, full=False))
        builder_pages = SiteBuilder.pages_for(settings)
        server, live = make_server(settings, builder_pages, host, port)
    except NewsmirrorError as e:
        fail(e)
        return
    except OSError as e:
        err_console.print(f"error: cannot listen on {host}:{port}: {e.strerror}", markup=False)
        sys.exit(1)
    h, p = str(server.server_address[0]), int(server.server_address[1])
    console.print(f"serving {settings.site.path} at http://{h}:{p}/ (Ctrl-C stops)", markup=False)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        live.close()


@main.group()
def sources() -> None:
    """Move sources in and out as OPML 2.0, as feed readers do."""


@sources.command("export")
@click.option(
    "--output", "-o", type=click.Path(path_type=Path), default=None, help="File (default: stdout)."
)
@click.pass_obj
def sources_export(obj: Obj, output: Path | None) -> None:
    """Write every configured source as OPML (newsmirror's settings in the nm: namespace)."""
    try:
        settings = obj.settings()
    except NewsmirrorError as e:
        fail(e)
        return
    document = opml.export(settings.sources, settings.site.title)
    if output is None:
        sys.stdout.buffer.write(document)
    else:
        output.write_bytes(document)
        console.print(f"wrote {len(settings.sources)} sources to {output}", markup=False)


@sources.command("import")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.pass_obj
def sources_import(obj: Obj, file: Path) -> None:
    """Add the feeds of an OPML file (from any feed reader) to the config as sources."""
    try:
        done = opml.import_into(obj.config, file.read_bytes())
    except NewsmirrorError as e:
        fail(e)
        return
    except OSError as e:
        fail(NewsmirrorError(f"{file}: {e.strerror}"))
        return
    for url, why in done.skipped:
        console.print(f"skipped {url}: {why}", markup=False)
    console.print(
        f"added {len(done.added)} sources to {obj.config}"
        + (f": {', '.join(done.added)}" if done.added else ""),
        markup=False,
    )


for _command in (diff_command, export_warc, bundle, rotate, worker, enqueue, publish):
    main.add_command(_command)
