"""Commands of a mirror spread over machines (see ``queue``): ``worker`` (take jobs from
the queue in the PostgreSQL catalog), ``enqueue`` (queue the due sources now) and
``publish`` (write what workers recorded into the archive, commit and push)."""

from __future__ import annotations

import asyncio
import sys

import click

from .cli_common import Obj, console, err_console, fail
from .errors import NewsmirrorError
from .pipeline import Updater


@click.command()
@click.option(
    "--concurrency", "-c", default=4, show_default=True, help="Jobs this worker runs at once."
)
@click.option(
    "--publisher",
    is_flag=True,
    help="Also publish: only on the machine that holds the archive (one such worker).",
)
@click.option(
    "--heartbeat",
    default=10.0,
    show_default=True,
    help="Seconds between this worker's signs of life.",
)
@click.option(
    "--stalled-after",
    default=60.0,
    show_default=True,
    help="Seconds without a sign of life after which a worker's jobs are queued again.",
)
@click.pass_obj
def worker(
    obj: Obj, concurrency: int, publisher: bool, heartbeat: float, stalled_after: float
) -> None:
    """Take jobs from the queue in the PostgreSQL catalog until stopped.

    Any number of workers, on any machines with the same configuration, fetch sources
    and record what they bring in the catalog; the schedule is a job of the queue, so no
    cron is needed.  One worker started with --publisher writes the archive's files,
    commits and pushes.  SIGTERM or Ctrl-C: the jobs in hand finish, then it stops.
    """
    from . import queue

    if concurrency < 1:
        raise click.BadParameter("must be at least 1", param_hint="--concurrency")
    if not 0 < heartbeat < stalled_after:
        raise click.BadParameter(
            "the heartbeat must be positive and shorter than --stalled-after",
            param_hint="--heartbeat",
        )
    queues = [queue.FETCH, queue.PUBLISH] if publisher else [queue.FETCH]
    try:
        queue.check(obj.config)
        asyncio.run(
            queue.work(
                obj.config,
                queues=queues,
                concurrency=concurrency,
                heartbeat_s=heartbeat,
                stalled_after_s=stalled_after,
            )
        )
    except NewsmirrorError as e:
        fail(e)


@click.command()
@click.option("--force", is_flag=True, help="Queue every enabled source, due or not.")
@click.pass_obj
def enqueue(obj: Obj, force: bool) -> None:
    """Queue the jobs that are due now: fetches, re-checks, image copies (workers do the rest)."""
    from . import queue

    try:
        queue.check(obj.config)
        n = asyncio.run(queue.queue_now(obj.config, force=force))
    except NewsmirrorError as e:
        fail(e)
        return
    console.print(f"{n} jobs queued", markup=False)


@click.command()
@click.pass_obj
def publish(obj: Obj) -> None:
    """Write the files of what workers recorded, then commit and push (once)."""
    try:
        report = Updater(obj.settings()).publish()
    except NewsmirrorError as e:
        fail(e)
        return
    console.print(
        f"{report.published} articles published, {report.rerendered} rendered again",
        markup=False,
    )
    if report.commit:
        console.print(f"committed {report.commit[:12]}", markup=False)
    for where, why in report.publish_errors.items():
        err_console.print(f"publish failed ({where}): {why}", markup=False)
    sys.exit(2 if report.publish_errors else 0)
