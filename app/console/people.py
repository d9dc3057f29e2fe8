"""Console people pages: a person's profile and timeline in one app, their export, and (admins
only) their deletion, confirmed by typing the userId."""

from flask import Response, abort, flash, g, redirect, request, stream_with_context, url_for

from ..accounts import audit
from ..accounts.privacy import person_hash
from . import services
from .auth import actor, is_admin
from .web import bp, render, settings, shown, the_store

MAX_USER_ID = 256


def _user_id(value):
    if value is None or value == "":
        return None
    if len(value) > MAX_USER_ID:
        abort(400, description=f"A userId is at most {MAX_USER_ID} characters.")
    return value


def _app_id():
    app_id = (request.args.get("app") or "").strip()
    if len(app_id) > MAX_USER_ID:
        abort(400, description=f"An app name is at most {MAX_USER_ID} characters.")
    return app_id or None


@bp.get("/people/<user_id>")
def person(user_id):
    """A person (an id a path can hold) in the app `app`: profile, timeline, export, delete."""
    return _person_page(_user_id(user_id))


@bp.get("/people")
def person_by_query():
    """A person named by `userId` (any id) and `app`; without a userId, the form to find one."""
    user_id = _user_id(request.args.get("userId"))
    if user_id is None:
        return render("console/person.html", user_id=None, app_id=_app_id(), apps=None)
    return _person_page(user_id)


def _person_page(user_id, http_status=200, error=None, app_id=None):
    store = the_store()
    app_id = app_id or _app_id()
    if app_id is None:
        apps = services.person_apps(store, user_id)
        if len(apps) != 1:
            # None or several: the operator names the app.
            return render("console/person.html", user_id=user_id, app_id=None, apps=apps)
        app_id = apps[0]
    before = request.args.get("before") or None
    try:
        view = services.person_view(store, app_id, user_id, before=before)
    except services.TimelineCursorInvalid:
        abort(400, description=f"The page cursor {shown(before)} is not valid: follow the "
                               "page's own links to older entries.")
    endpoint, values = services.person_endpoint(user_id, app_id)
    deletion_id = request.args.get("deletion")
    deletion = services.deletion_status(store, app_id, deletion_id) if deletion_id else None
    return render("console/person.html", "console/partials/person_timeline.html",
                  http_status=http_status, user_id=user_id, app_id=app_id, apps=None,
                  view=view, deletion=deletion, error=error,
                  is_admin=is_admin(g.user), pager_endpoint=endpoint, args=values)


@bp.get("/people/export")
def person_export():
    """The person's data as one JSON document, streamed (a data-access request); audited."""
    user_id = _user_id(request.args.get("userId"))
    app_id = _app_id()
    if user_id is None or app_id is None:
        abort(400, description="Name the person with userId and app.")
    subject = person_hash(settings(), app_id, user_id)
    audit.record(the_store(), actor(), "person.export", f"person:{subject}", appId=app_id)
    chunks = services.export_chunks(the_store(), settings(), app_id, user_id)
    filename = f"person-{subject[:16]}.json"
    return Response(stream_with_context(chunks), mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.post("/people/delete")
def person_delete():
    """Erase a person (admins only), once the userId has been typed to confirm."""
    if not is_admin(g.user):
        abort(403, description=f"Your role ({g.user['role']}) may not delete people: only "
                               "admins may.")
    user_id = _user_id(request.form.get("userId"))
    app_id = (request.form.get("app") or "").strip() or None
    if user_id is None or app_id is None:
        abort(400, description="Name the person with userId and app.")
    if request.form.get("confirm") != user_id:
        return _person_page(user_id, http_status=400, app_id=app_id,
                            error="Type the userId exactly to confirm the deletion; nothing "
                                  "was deleted.")
    suppress = request.form.get("suppress") in ("on", "true", "1")
    deletion = services.delete_person(the_store(), settings(), app_id, user_id, suppress,
                                      actor())
    flash(f"Deletion {deletion['deletionId']} requested ({deletion['status']})"
          f"{', and future items suppressed' if suppress else ''}.", "success")
    endpoint, values = services.person_endpoint(user_id, app_id,
                                                deletion=deletion["deletionId"])
    return redirect(url_for(endpoint, **values), 303)
