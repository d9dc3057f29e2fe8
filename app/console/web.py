"""The console blueprint and what every console view shares: log-in, rendering, headers."""

import json

from flask import (
    Blueprint,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)

from ..extensions import store
from .auth import can_act, require_login, safe_next
from .services.links import path_safe, person_endpoint

bp = Blueprint("console", __name__, url_prefix="/console")

PUBLIC_ENDPOINTS = {"console.login"}
# No inline script, nothing from another host, no framing; htmx's indicator styles are off
# (see base.html) so styles need no 'unsafe-inline' either.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@bp.before_request
def _signed_in():
    return require_login(store.get(), PUBLIC_ENDPOINTS)


@bp.after_app_request
def _security_headers(response):
    """Strict headers on every console response, error pages included."""
    if request.path.startswith(bp.url_prefix):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
    return response


@bp.app_context_processor
def _console_context():
    from flask import g

    user = g.get("user")
    return {"console_user": user, "console_can_act": can_act(user)}


def the_store():
    """The app's store."""
    return store.get()


def settings():
    """The app's settings."""
    return current_app.config


def shown(text, limit=40):
    """A value a client sent, quoted and cut short, for a message that names it."""
    text = repr(text)
    return text if len(text) <= limit else f"{text[:limit]}…"


def path_id(key, what):
    """The store id a console URL names, or 404 (ids are integers on SQLite, ObjectIds on
    MongoDB: anything else, out of range or not ASCII digits, names nothing)."""
    found = the_store().parse_id(key)
    if found is None:
        abort(404, description=f"No {what} {shown(key)}.")
    return found


def page_cursor(parse=None):
    """The `before` cursor of a list page (None on its first page), parsed by `parse` (the
    store's ids by default); 400 when it is not one the page hands out."""
    text = request.args.get("before")
    if not text:
        return None
    cursor = (parse or the_store().parse_id)(text)
    if cursor is None:
        abort(400, description=f"The page cursor {shown(text)} is not valid: follow the "
                               "page's own links to older rows.")
    return cursor


def wants_fragment():
    """True for an htmx request that swaps a fragment (not a boost or a history restore)."""
    headers = request.headers
    return (headers.get("HX-Request") == "true" and not headers.get("HX-Boosted")
            and not headers.get("HX-History-Restore-Request"))


def render(template, partial=None, http_status=200, **context):
    """The full page, or its fragment when htmx asks; either way it varies on HX-Request."""
    name = partial if partial and wants_fragment() else template
    response = make_response(render_template(name, **context), http_status)
    response.vary.add("HX-Request")
    return response


def back(default_endpoint, **values):
    """Redirect (303) after a POST to the form's `next` page, or to a default console page."""
    target = safe_next(request.form.get("next"), url_for(default_endpoint, **values))
    response = redirect(target, 303)
    response.vary.add("HX-Request")
    return response


@bp.app_template_filter("console_time")
def console_time(value):
    """A time as operators read it: UTC to the second, with how long ago or ahead."""
    from ..store.common import utcnow

    seconds = (utcnow() - value).total_seconds()
    span = abs(seconds)
    if span < 60:
        rel = f"{int(span)} s"
    elif span < 3600:
        rel = f"{int(span // 60)} min"
    elif span < 86400:
        rel = f"{span / 3600:.1f} h"
    else:
        rel = f"{span / 86400:.1f} d"
    rel = f"{rel} ago" if seconds >= 0 else f"in {rel}"
    return f"{value:%Y-%m-%d %H:%M:%S}Z ({rel})"


@bp.app_template_filter("console_minute")
def console_minute(epoch):
    """An epoch minute as HH:MM UTC."""
    from datetime import UTC, datetime

    return f"{datetime.fromtimestamp(epoch, UTC):%H:%M}Z"


@bp.app_template_test("path_safe")
def _path_safe(value):
    """An id a console URL can hold as a path segment (else links take the query form)."""
    return path_safe(value)


bp.add_app_template_global(person_endpoint, "person_endpoint")


@bp.app_template_filter("pretty_json")
def pretty_json(value):
    """A value as indented JSON text with its characters as they are (the template escapes
    it), times as ISO 8601."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=_json_default)


def _json_default(value):
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
