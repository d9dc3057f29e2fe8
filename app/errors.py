"""The one app-level error handler: /api/* answers the JSON error shape, everything else HTML."""

import http
import logging

from flask import jsonify, make_response, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

from .http import BODY_ERROR
from .ingest.compat import is_compat_path
from .store import BacklogFull, StoreUnavailable
from .store.schema import SchemaMismatch, StoreTooNew

log = logging.getLogger("prepmate.api")

# Machine-readable codes by status, where the raiser gave none.
CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
    415: "unsupported_media_type", 422: "validation_error", 429: "rate_limited",
    500: "internal_error", 503: "unavailable",
}
STORE_RETRY_AFTER = "5"
BACKLOG_RETRY_AFTER = "30"


def wants_json():
    # The compatible endpoints (Segment's, PostHog's) answer JSON too, as their clients expect.
    return (request.path.startswith("/api/") or request.path == "/metrics"
            or is_compat_path(request.path))


def _fields(data):
    if "fields" in data:
        return data["fields"]
    messages = data.get("messages") or data.get("errors")
    if isinstance(messages, dict) and len(messages) == 1:
        # webargs nests messages by location ("json", "query"): the location adds nothing.
        (only,) = messages.values()
        return only if isinstance(only, dict) else {"_body": only}
    return messages


def error_response(status, code, message, fields=None, headers=None):
    """An error in the API's shape, or the HTML error page outside the API."""
    if wants_json():
        response = jsonify({"error": code, "message": message, "fields": fields or {}})
    else:
        response = make_response(
            render_template("errors/error.html", status=status, code=code, message=message))
    response.status_code = status
    response.headers.update(headers or {})
    return response


def handle_http_exception(exc):
    data = getattr(exc, "data", None) or {}
    status = 400 if exc.code == 422 else exc.code
    code = data.get("error") or (
        "validation_error" if exc.code in (400, 422) and ("messages" in data or "errors" in data)
        else CODES.get(status, http.HTTPStatus(status).phrase.lower().replace(" ", "_")))
    message = data.get("message") or (
        "The request is invalid." if code == "validation_error" else exc.description)
    headers = dict(data.get("headers") or {})
    if status == 405 and exc.valid_methods:
        headers["Allow"] = ", ".join(exc.valid_methods)
    return error_response(status, code, message, _fields(data), headers)


def handle_store_unavailable(exc):
    log.warning("store unavailable: %s", exc)
    return error_response(503, "store_unavailable",
                          "The store is unavailable; nothing was stored. Retry later.",
                          headers={"Retry-After": STORE_RETRY_AFTER})


def handle_schema_mismatch(exc):
    log.error("store not opened: %s", exc)
    code = "store_too_new" if isinstance(exc, StoreTooNew) else "store_upgrade_needed"
    return error_response(503, code, f"{exc} Nothing was done.",
                          headers={"Retry-After": STORE_RETRY_AFTER})


def handle_backlog_full(exc):
    return error_response(
        429, "backlog_full",
        f"User {exc.user_id!r} has {exc.open_items} items waiting to sync (limit {exc.limit}); "
        "nothing was stored. Retry later.",
        headers={"Retry-After": BACKLOG_RETRY_AFTER})


def handle_unexpected(exc):
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "internal_error", InternalServerError.description)


def refuse_bad_body():
    """Answer a body the gzip layer refused (too large inflated, not gzip) before any view runs."""
    refused = request.environ.get(BODY_ERROR)
    if refused:
        status, code, message = refused
        return error_response(status, code, message)
    return None


def register_errorhandlers(app):
    """Install the handlers; they replace flask-smorest's so console pages stay HTML."""
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(StoreUnavailable, handle_store_unavailable)
    app.register_error_handler(SchemaMismatch, handle_schema_mismatch)
    app.register_error_handler(BacklogFull, handle_backlog_full)
    app.register_error_handler(Exception, handle_unexpected)
    app.before_request(refuse_bad_body)
