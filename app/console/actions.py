"""Console actions: retry, discard, bulk retry/discard by filter, and "Sync now"."""

from flask import abort, current_app, flash, redirect, request, url_for

from ..store.common import int64
from . import services
from .auth import actor
from .web import back, bp, path_id, render, shown, the_store, wants_fragment


def _item(key):
    found = the_store().queue_item(path_id(key, "queue item"))
    if found is None:
        abort(404, description=f"No queue item {key}.")
    return found


@bp.post("/queue/<key>/retry")
def retry_item(key):
    """Put a failed or dead item back in the queue, due now."""
    found = _item(key)
    if services.retry_item(the_store(), found, actor()):
        flash(f"Item {found['itemId']} is pending again.", "success")
    else:
        flash(f"Item {found['itemId']} is {found['status']}: only failed or dead items can be "
              "retried.", "warning")
    return back("console.errors")


@bp.post("/queue/<key>/discard")
def discard_item(key):
    """Delete a failed or dead item from the queue."""
    found = _item(key)
    if services.discard_item(the_store(), found, actor()):
        flash(f"Item {found['itemId']} was discarded.", "success")
    else:
        flash(f"Item {found['itemId']} is {found['status']}: only failed or dead items can be "
              "discarded.", "warning")
    return back("console.errors")


@bp.post("/errors/bulk")
def bulk():
    """Retry or discard everything matching the confirmed filter."""
    action = request.form.get("action")
    if action not in ("retry", "discard"):
        abort(400, description="Choose retry or discard.")
    filters = services.queue_filters(request.form, services.ERROR_STATES)
    confirmed = request.form.get("count")
    expected = int64(confirmed) if confirmed else None
    if confirmed and expected is None:
        abort(400, description=f"The confirmed count {shown(confirmed)} is not a count.")
    count = services.bulk(the_store(), action, filters, actor(), expected=expected)
    done = "put back in the queue" if action == "retry" else "discarded"
    note = ""
    if expected is not None and expected != count:
        note = f" The confirmation showed {expected}; the queue changed in between."
    flash(f"{count} item{'s' if count != 1 else ''} {done} ({services.describe(filters)})."
          f"{note}", "success")
    return redirect(url_for("console.errors", **services.filter_args(filters)), 303)


@bp.post("/sync")
def sync_now():
    """Start a sync, or follow the one already going: htmx swaps in its progress panel, a plain
    form goes on to the run's page."""
    run_id, started = services.start_sync(current_app._get_current_object(), actor())
    note = None if started else "Another sync was already running: this is its progress."
    run = services.sync_run(the_store(), run_id) if run_id is not None else None
    if run is None:
        # The other run ended between our attempt and our look at it.
        if wants_fragment():
            return render("console/partials/sync_panel.html", run={"state": "busy"})
        flash("Another sync was running; try again in a moment.", "warning")
        return back("console.dashboard")
    if wants_fragment():
        return _progress(run, note)
    if note:
        flash(note, "info")
    return redirect(url_for("console.sync_progress", run_id=run_id), 303)


@bp.get("/sync/<run_id>")
def sync_progress(run_id):
    """A sync run's progress, then its summary: the panel htmx polls, or a page that refreshes
    itself while the run goes on."""
    run = services.sync_run(the_store(), run_id)
    if run is None:
        abort(404, description="No such sync run.")
    return _progress(run)


def _progress(run, note=None):
    running = run["state"] == "running"
    response = render("console/sync_run.html", "console/partials/sync_panel.html", run=run,
                      note=note, counts=the_store().console_queue_counts() if running else None,
                      summary_text=_summary_text(run["summary"]) if run["summary"] else None)
    if not running:
        # The counters and chart refresh at once instead of at their next poll.
        response.headers["HX-Trigger"] = "sync-finished"
    return response


def _summary_text(summary):
    return (f"Sync finished: {summary['itemCount']} items, {summary['successCount']} applied, "
            f"{summary['failureCount']} failed, {summary['conflictCount']} conflicts "
            f"in {summary['seconds']:.1f} s.")
