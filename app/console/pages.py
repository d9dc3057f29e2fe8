"""Console pages: log-in, dashboard, queue, batch logs, errors and the audit log (the events
explorer is in explorer.py, people in people.py)."""

from flask import abort, flash, redirect, render_template, request, url_for

from ..accounts.signin import SignInThrottled, sign_in
from ..store.common import QUEUE_STATES
from ..sync.scheduling import scheduler_state
from . import services
from .auth import log_in, log_out, safe_next
from .web import bp, page_cursor, path_id, render, settings, the_store

BATCH_SOURCES = ("client", "segment", "posthog", "scheduled", "manual")
# Batches clients sent (natively or through a compatible protocol), as against sync runs.
CLIENT_SOURCES = ("client", "segment", "posthog")
BATCH_STATES = ("success", "partial", "error")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The log-in form; a good password starts a fresh session."""
    next_url = safe_next(request.values.get("next"), url_for("console.dashboard"))
    error, status, headers = None, 200, {}
    if request.method == "POST":
        try:
            user = sign_in(the_store(), settings(), request.form.get("username", "").strip(),
                           request.form.get("password", ""), request.remote_addr)
        except SignInThrottled as exc:
            error, status, headers = exc.message, 429, {"Retry-After": str(exc.retry_after)}
        else:
            if user is not None:
                log_in(the_store(), user)
                return redirect(next_url, 303)
            error, status = "Wrong user name or password.", 401
    return render_template("console/login.html", error=error, next=next_url,
                           username=request.form.get("username", "")), status, headers


@bp.post("/logout")
def logout():
    log_out(the_store())
    flash("You are signed out.", "info")
    return redirect(url_for("console.login"), 303)


@bp.get("/")
def dashboard():
    """Counts, sync times, scheduler state and the chart; the counters fragment for htmx."""
    data = services.dashboard(the_store(), settings(), scheduler_state())
    return render("console/dashboard.html", "console/partials/counters.html", d=data)


@bp.get("/queue")
def queue():
    """The queue, filtered or searched, newest first, one keyset page at a time."""
    filters = services.queue_filters(request.args)
    query = (request.args.get("q") or "").strip()
    rows, cursor = services.queue_list(the_store(), filters, query=query, before=page_cursor())
    return render("console/queue.html", "console/partials/queue_results.html",
                  rows=rows, cursor=cursor, filters=filters, query=query,
                  args=services.filter_args(filters), states=QUEUE_STATES)


@bp.get("/queue/<key>")
def item(key):
    """One queue item with its payload, attempts, last error and next retry."""
    found = the_store().queue_item(path_id(key, "queue item"))
    if found is None:
        abort(404, description=f"No queue item {key}.")
    return render("console/item.html", item=found)


@bp.get("/batches")
def batches():
    """Batch logs of the last 24 hours, newest first."""
    source = request.args.get("source") if request.args.get("source") in BATCH_SOURCES else None
    status = request.args.get("status") if request.args.get("status") in BATCH_STATES else None
    rows, cursor = services.batch_list(
        the_store(), source=source, statuses=[status] if status else None,
        before=page_cursor(lambda text: services.batch_cursor(the_store(), text)))
    return render("console/batches.html", "console/partials/batch_results.html", rows=rows,
                  cursor=cursor, source=source, status=status, sources=BATCH_SOURCES,
                  batch_states=BATCH_STATES,
                  args={k: v for k, v in (("source", source), ("status", status)) if v})


@bp.get("/batches/<key>")
def batch(key):
    """One batch log with each item's outcome and, for client batches, where it is now."""
    log = the_store().batch_log(path_id(key, "batch log"))
    if log is None:
        abort(404, description=f"No batch log {key}.")
    now = {}
    if log.get("source") in CLIENT_SOURCES:
        now = {i["itemId"]: i for i in the_store().batch_items(log["appId"], log["batchId"])}
    return render("console/batch.html", log=log, now=now, client_sources=CLIENT_SOURCES)


@bp.get("/errors")
def errors():
    """Failed and dead items (filtered) and the last day's batch errors."""
    filters = services.queue_filters(request.args, services.ERROR_STATES)
    rows, cursor = services.queue_list(the_store(), filters, before=page_cursor())
    batch_errors, _ = services.batch_list(the_store(), statuses=["partial", "error"])
    return render("console/errors.html", "console/partials/error_results.html", rows=rows,
                  cursor=cursor, filters=filters,
                  matching=services.count_queue(the_store(), filters),
                  args=services.filter_args(filters), batch_errors=batch_errors,
                  states=services.ERROR_STATES)


@bp.get("/errors/bulk")
def bulk_confirm():
    """The confirmation step of a bulk retry or discard: what matches, and how many."""
    action = request.args.get("action")
    if action not in ("retry", "discard"):
        abort(400, description="Choose retry or discard.")
    filters = services.queue_filters(request.args, services.ERROR_STATES)
    count = services.count_queue(the_store(), filters)
    return render("console/bulk_confirm.html", "console/partials/bulk_confirm_panel.html",
                  action=action, filters=filters, args=services.filter_args(filters),
                  count=count, description=services.describe(filters))


@bp.get("/audit")
def audit_log():
    """Who did what, when: newest first."""
    rows = the_store().list_audit(limit=services.PAGE_SIZE + 1, before_id=page_cursor())
    rows, cursor = services.page(rows, services.PAGE_SIZE, lambda r: r["id"])
    return render("console/audit.html", "console/partials/audit_results.html", rows=rows,
                  cursor=cursor)
