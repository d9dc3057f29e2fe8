"""Console API keys: every app's keys for everyone signed in; creating, rotating and revoking
them for admins only. A new key's secret is in the body of the answer that made it, and
nowhere else: never flashed, never in the session (its cookie is signed, not encrypted)."""

from datetime import timedelta

from flask import abort, flash, g, redirect, request, url_for

from ..accounts.keys import (
    SCOPES,
    KeyRequestError,
    find_key,
    issue_key,
    key_overview,
    key_state,
    parse_scopes,
    revoke_key,
    rotate_key,
    rotation_end,
)
from ..store.common import utcnow
from .auth import actor, is_admin
from .web import bp, render, shown, the_store

# What the rotation form proposes: the old key keeps working for a day.
DEFAULT_OVERLAP = timedelta(days=1)


def _admins_only():
    if not is_admin(g.user):
        abort(403, description=f"Your role ({g.user['role']}) may see API keys but not "
                               "change them: only admins may.")


def _key(key_id):
    found = find_key(the_store(), key_id)
    if found is None:
        abort(404, description=f"No API key {shown(key_id)}.")
    return found


def _page(http_status=200, issued=None, error=None, form=None):
    return render("console/keys.html", http_status=http_status,
                  apps=key_overview(the_store(), utcnow()), scopes=SCOPES,
                  is_admin=is_admin(g.user), issued=issued, error=error, form=form or {})


@bp.get("/keys")
def keys():
    """Every app with its keys: scopes, state, created, last used; the app's last ingest."""
    return _page()


@bp.post("/keys")
def key_create():
    """Make a key (admins): the answer shows its secret, once."""
    _admins_only()
    form = {"app": (request.form.get("app") or "").strip(),
            "name": (request.form.get("name") or "").strip(),
            "scopes": request.form.getlist("scopes")}
    try:
        scopes = parse_scopes(",".join(form["scopes"]))
        raw_key, doc = issue_key(the_store(), form["app"], scopes, form["name"] or None,
                                 actor())
    except KeyRequestError as exc:
        return _page(400, error=f"No key was made: {exc}.", form=form)
    return _page(issued={"secret": raw_key, "key": doc, "rotated": None})


@bp.get("/keys/<key_id>/revoke")
def key_revoke_confirm(key_id):
    """The confirmation step of a revocation (admins)."""
    _admins_only()
    found = _key(key_id)
    return render("console/key_confirm.html", action="revoke", key=found,
                  state=key_state(found, utcnow()))


@bp.post("/keys/<key_id>/revoke")
def key_revoke(key_id):
    """Stop a key now (admins), once confirmed."""
    _admins_only()
    found = _key(key_id)
    if request.form.get("confirm") != key_id:
        abort(400, description="Confirm the revocation on its confirmation page; nothing was "
                               "revoked.")
    try:
        revoke_key(the_store(), key_id, actor())
    except KeyRequestError:
        flash(f"Key {key_id} of {found['appId']} had stopped working already.", "warning")
    else:
        flash(f"Key {key_id} of {found['appId']} is revoked: it stopped working now.", "success")
    return redirect(url_for("console.keys"), 303)


@bp.get("/keys/<key_id>/rotate")
def key_rotate_confirm(key_id, http_status=200, error=None, stops=None):
    """The rotation form (admins): when the old key stops."""
    _admins_only()
    found = _key(key_id)
    if stops is None:
        stops = f"{utcnow() + DEFAULT_OVERLAP:%Y-%m-%dT%H:%M}"
    return render("console/key_confirm.html", http_status=http_status, action="rotate",
                  key=found, state=key_state(found, utcnow()), error=error, stops=stops)


@bp.post("/keys/<key_id>/rotate")
def key_rotate(key_id):
    """Make the key's successor and have the old key stop at the chosen time (admins): the
    answer shows the new secret, once."""
    _admins_only()
    _key(key_id)
    text = request.form.get("stops") or ""
    try:
        stops_at = rotation_end(text, utcnow())
        raw_key, new, old = rotate_key(the_store(), key_id, stops_at, actor())
    except KeyRequestError as exc:
        return key_rotate_confirm(key_id, http_status=400, error=f"Nothing was rotated: {exc}.",
                                  stops=text[:40])
    return _page(issued={"secret": raw_key, "key": new, "rotated": dict(old, revokedAt=stops_at)})
