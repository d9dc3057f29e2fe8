"""flask commands of the sync engine: `sync run` (one sync now) and `queue stats`."""

import click
from flask import current_app
from flask.cli import AppGroup

from ..extensions import store
from ..store.common import QUEUE_STATES
from .jobs import run_exclusive
from .outcomes import summarize_run

sync = AppGroup("sync", help="Run the sync engine.")
queue = AppGroup("queue", help="Inspect the sync queue.")


@sync.command("run")
def sync_run():
    """Apply every due queue item now and print the run's BatchLog summary."""
    logs = run_exclusive(current_app._get_current_object(), "manual", requested_by="cli")
    if logs is None:
        raise click.ClickException("a sync is already running; try again when it has finished")
    summary = summarize_run(logs)
    for log in summary["batches"]:
        click.echo(f"batch {log['batchId']}: {log['status']}, {log['itemCount']} items, "
                   f"{log['successCount']} applied, {log['duplicateCount']} duplicates, "
                   f"{log['conflictCount']} conflicts, {log['failureCount']} failed")
    for error in summary["errors"]:
        click.echo(f"  {error['status']} {error['appId']}/{error['itemId']}: {error['reason']}")
    click.echo(f"sync {summary['status']}: {summary['itemCount']} items in "
               f"{len(summary['batches'])} batches, {summary['successCount']} applied, "
               f"{summary['duplicateCount']} duplicates, {summary['conflictCount']} conflicts, "
               f"{summary['failureCount']} failed")


@queue.command("stats")
@click.option("--app", "app_id", default=None, help="Only this app's items.")
def queue_stats(app_id):
    """Print the number of queue items in each state."""
    counts = store.get().queue_counts(app_id=app_id)
    for state in QUEUE_STATES:
        click.echo(f"{state}\t{counts.get(state, 0)}")
    click.echo(f"total\t{sum(counts.values())}")
