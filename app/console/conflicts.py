"""Console conflict pages: base, server and client side by side, and their resolution."""

import json

from flask import abort, flash, redirect, request, url_for

from ..sync.conflicts import ConflictError
from . import services
from .auth import actor
from .web import bp, page_cursor, path_id, render, settings, the_store

CONFLICT_FILTERS = ("open", "resolved", "all")


@bp.get("/conflicts")
def conflicts():
    """Conflicts, open ones by default, newest first."""
    status = request.args.get("status") if request.args.get("status") in CONFLICT_FILTERS \
        else "open"
    rows, cursor = services.conflict_list(the_store(), None if status == "all" else status,
                                          before=page_cursor())
    return render("console/conflicts.html", "console/partials/conflict_results.html", rows=rows,
                  cursor=cursor, status=status, filters=CONFLICT_FILTERS)


def _view(key):
    view = services.conflict_view(the_store(), path_id(key, "conflict"))
    if view is None:
        abort(404, description=f"No conflict {key}.")
    return view


def _page(view, status=200, error=None, merge_text=None):
    conflict = view["conflict"]
    record = None
    if conflict.get("kind") == "record":
        record = the_store().get_record(conflict["appId"], conflict["recordType"],
                                        conflict["recordId"])
    if merge_text is None:
        merge_text = json.dumps(services.suggested_merge(view), indent=2, sort_keys=True)
    return render("console/conflict.html", http_status=status, view=view, conflict=conflict,
                  record=record, error=error, merge_text=merge_text, missing=services.MISSING)


@bp.get("/conflicts/<key>")
def conflict(key):
    """One conflict: every field's base, server and client value, the differing ones marked."""
    return _page(_view(key))


@bp.post("/conflicts/<key>/resolve")
def resolve(key):
    """Keep the server's value, take the client's, merge per field, or apply an edited merge."""
    view = _view(key)
    how = request.form.get("resolution")
    data, resolution = None, how
    try:
        if how == "fields":
            choices = {row["name"]: request.form.get(f"pick:{row['name']}")
                       for row in view["rows"]}
            data, resolution = services.merged_from_choices(view, choices), "merged"
        elif how == "merged":
            data = services.parse_merge(request.form.get("merged"))
        services.resolve(the_store(), settings(), view["conflict"]["id"], resolution, actor(),
                         data=data)
    except services.MergeInvalid as exc:
        return _page(view, 400, str(exc), request.form.get("merged"))
    except ConflictError as exc:
        detail = "; ".join(f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
                           for k, v in (exc.fields or {}).items())
        message = f"{exc.message} {detail}".strip()
        return _page(view, exc.status, message, request.form.get("merged"))
    label = {"server": "kept the server's value", "client": "took the client's value",
             "fields": "merged field by field", "merged": "applied the edited merge"}[how]
    flash(f"Conflict {key} resolved: {label}.", "success")
    return redirect(url_for("console.conflict", key=key), 303)
