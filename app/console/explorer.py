"""Console event explorer: events filtered by type, user, app and time, charted, one page at a
time, and each event's detail."""

from flask import abort, request

from . import services
from .web import bp, render, shown, the_store, wants_fragment


@bp.get("/events")
def events():
    """The explorer: counts by type (all time), then the chart and the matching events, newest
    first, one keyset page at a time; the chart and events alone for htmx."""
    store = the_store()
    try:
        query = services.explorer_query(request.args)
    except services.FilterInvalid as exc:
        if wants_fragment():
            abort(400, description=exc.message)
        return render("console/events.html", http_status=400, error=exc, query=None,
                      counts=store.event_type_counts(), presets=services.PRESETS,
                      form=request.args)
    before = request.args.get("before") or None
    try:
        view = services.explore(store, query, before=before)
    except services.CursorInvalid:
        abort(400, description=f"The page cursor {shown(before)} is not valid: follow the "
                               "page's own links to older events.")
    return render("console/events.html", "console/partials/event_results.html", error=None,
                  query=query, view=view, args=services.explorer_args(query),
                  counts=None if wants_fragment() else store.event_type_counts(),
                  presets=services.PRESETS, form=request.args)


def _event_page(app_id, event_id):
    found = services.event_view(the_store(), app_id, event_id)
    if found is None:
        abort(404, description=f"No event {shown(event_id)} in app {shown(app_id)}.")
    return render("console/event.html", **found)


@bp.get("/events/<app_id>/<event_id>")
def event(app_id, event_id):
    """One event (ids a path can hold): payload, times and skew, its batch and queue item."""
    return _event_page(app_id, event_id)


@bp.get("/events/detail")
def event_by_query():
    """One event named by query arguments `app` and `eventId` (any ids)."""
    app_id, event_id = request.args.get("app"), request.args.get("eventId")
    if not app_id or not event_id:
        abort(400, description="Name the event with app and eventId.")
    return _event_page(app_id, event_id)
