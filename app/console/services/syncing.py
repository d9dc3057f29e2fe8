"""The console's "Sync now": a run in the background, its progress, and its audit entry."""

from ...accounts import audit
from ...sync import runs
from ...sync.scheduling import start_in_background


def start_sync(app, actor):
    """Start a sync run in the background, audited when it has ended.

    Returns (the run's id, True), or (the id of the run already going, False); that id is None
    when the other run has just ended.
    """
    def audited(run):
        record_sync(run.store, actor, sync_run(run.store, run.run_id))

    run, holder = start_in_background(app, "manual", requested_by=f"console:{actor}",
                                      on_done=audited)
    return (run.run_id, True) if run is not None else (holder, False)


def sync_run(store, run_id):
    """A sync run as operators see it (every app's counts), or None."""
    return runs.view(store, run_id)


def record_sync(store, actor, run):
    """Audit a console sync with its totals."""
    summary = run["summary"]
    audit.record(store, actor, "sync.run", f"sync-run:{run['runId']}", status=summary["status"],
                 batches=len(summary["batches"]), seconds=summary["seconds"],
                 **{key: summary[key] for key in runs.COUNT_KEYS})
