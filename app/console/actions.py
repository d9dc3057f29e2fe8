"""Console actions: retry, discard, bulk retry/discard by filter, and "Sync now"."""

from flask import abort, current_app, flash, redirect, request, url_for

from ..store.common import int64
from ..sync.jobs import run_exclusive
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


def _run(app):
    return run_exclusive(app, "manual")


@bp.post("/sync")
def sync_now():
    """Run a sync: htmx follows it in the page; a plain form waits for it and redirects."""
    app = current_app._get_current_object()
    name = actor()

    def audited(summary):
        services.record_sync(the_store(), name, summary)

    if not wants_fragment():
        logs = _run(app)
        if logs is None:
            flash("Another sync is running; try again in a moment.", "warning")
        else:
            summary = services.summarize(logs)
            audited(summary)
            flash(_summary_text(summary), "success")
        return back("console.dashboard")
    token = services.sync_runs.start(app, _run, audited)
    return _progress(token)


@bp.get("/sync/<token>")
def sync_progress(token):
    """How a sync started here is going (a fragment the panel polls)."""
    if not wants_fragment():
        return redirect(url_for("console.dashboard"), 303)
    return _progress(token)


def _progress(token):
    run = services.sync_runs.get(token) or {"state": "unknown", "summary": None}
    counts = the_store().console_queue_counts() if run["state"] == "running" else None
    response = render("console/partials/sync_panel.html", run=run, token=token, counts=counts,
                      summary_text=_summary_text(run["summary"]) if run["summary"] else None)
    if run["state"] != "running":
        # The counters and chart refresh at once instead of at their next poll.
        response.headers["HX-Trigger"] = "sync-finished"
    return response


def _summary_text(summary):
    return (f"Sync finished: {summary['itemCount']} items, {summary['successCount']} applied, "
            f"{summary['failureCount']} failed, {summary['conflictCount']} conflicts "
            f"in {summary['seconds']:.1f} s.")
