"""The Segment HTTP Tracking API, so Segment's libraries work with only their host changed.

Message endpoints (`/v1/track` … `/v1/batch`, `/v1/import`, and analytics.js's one-letter
`/v1/t` … `/v1/b`) take a body as JSON whatever its Content-Type (analytics.js sends
`text/plain` so that browsers send it without a preflight of the content type). The write key
is the HTTP Basic user name (Segment's libraries send it so) or `writeKey` in the body, and is
an API key of this service with the ingest scope. Each message becomes a native item
(ingest/segment.py) and the request one batch of the native ingest path (ingest/compat.py).

Answers, as the libraries read them (docs/compatibility.md, "Segment's libraries"):
- 200 `{"success": true}` once the valid messages are committed; a message that is not valid
  does not fail the others: it is logged with its reason in the batch log (console, /metrics).
- 400 for a body that is not a Segment request at all, 401 for a missing or unknown key, 403
  for a key without the ingest scope, 413 past the compatible limits: every library drops the
  request and does not retry.
- 429 (rate limit, full backlog) and 503 (store down) carry Retry-After; the libraries retry.

For analytics.js in the browser this service is also its CDN (`cdnURL`, or `analytics._cdn` in
the snippet): the settings document it loads first, which points it back here, and its code
chunks, served from the pinned @segment/analytics-next package that scripts/setup copies into
static/vendor/analytics-next/.
"""

import base64
import binascii
from pathlib import Path

from flask import Blueprint, current_app, jsonify, request, send_from_directory

from ..extensions import store
from ..ingest.compat import ingest_messages, messages_batch_id
from ..ingest.segment import (
    MESSAGE_TYPES,
    SHORT_PATHS,
    RequestRefused,
    request_items,
    request_sent_at,
    write_key_of,
)
from ..ingest.service import IngestError
from ..sync.scheduling import sync_soon
from .base import KeyRefused, admit_key

bp = Blueprint("segment", __name__)

# Where scripts/setup puts analytics.js's standalone build and its chunks.
VENDOR_DIR = ("vendor", "analytics-next")
STANDALONE = "standalone.js"
# Chunks are named by their content's hash: a browser may keep them.
CHUNK_MAX_AGE = 365 * 24 * 3600
SETTINGS_MAX_AGE = 60


def refuse(status, code, message, fields=None, headers=None):
    """An error in the API's shape, with the `code` analytics-python logs and Segment's
    `success: false`."""
    response = jsonify({"error": code, "message": message, "fields": fields or {},
                        "code": code, "success": False})
    response.status_code = status
    response.headers.update(headers or {})
    return response


def basic_user():
    """The user name of an HTTP Basic Authorization header (Segment's write key), or None."""
    header = request.headers.get("Authorization", "")
    if header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[0] or None


def authorize(write_key):
    """The key's app when `write_key` is a live key with the ingest scope, else the answer."""
    try:
        key = admit_key(write_key, "ingest")
    except KeyRefused as refused:
        if refused.status == 401:
            return None, refuse(401, "unauthorized",
                                "Send a valid write key (an API key with the ingest scope) as "
                                "the HTTP Basic user name or as writeKey in the body.",
                                headers={"WWW-Authenticate": 'Basic realm="prepmate"'})
        return None, refuse(refused.status, refused.code, refused.message,
                            headers=refused.headers)
    return key["appId"], None


def receive(kind):
    """Store one request's messages (one message of type `kind`, or a batch when None)."""
    raw = request.get_data()
    try:
        body = current_app.json.loads(raw)
    except (ValueError, RecursionError) as exc:
        return refuse(400, "invalid_json",
                      f"The body is not valid JSON: {str(exc).rstrip('.')}.")
    app_id, refused = authorize(basic_user() or write_key_of(body))
    if refused is not None:
        return refused
    try:
        items = request_items(body, kind)
        sent_at = request_sent_at(body)
    except RequestRefused as exc:
        return refuse(400, "invalid_request", str(exc))
    try:
        summary = ingest_messages(store.get(), current_app.config, app_id, items,
                                  protocol="segment",
                                  batch_id=messages_batch_id("segment", items),
                                  sent_at=sent_at)
    except IngestError as exc:
        return refuse(exc.status, exc.code, exc.message, exc.fields)
    if summary["accepted"]:
        sync_soon()
    return jsonify({"success": True})


def _register_message_routes():
    paths = {kind: kind for kind in MESSAGE_TYPES}
    paths.update(SHORT_PATHS)
    for path, kind in paths.items():
        bp.add_url_rule(f"/v1/{path}", f"message_{path}", lambda kind=kind: receive(kind),
                        methods=["POST"])
    for path in ("batch", "import", "b"):
        bp.add_url_rule(f"/v1/{path}", f"batch_{path}", lambda: receive(None), methods=["POST"])


_register_message_routes()


def vendor_dir():
    return Path(current_app.static_folder).joinpath(*VENDOR_DIR)


@bp.get("/v1/projects/<write_key>/settings")
def cdn_settings(write_key):
    """The settings document analytics.js loads from its CDN: only the Segment.io destination,
    pointed at this host (and at http when the page reached it so), and no metrics sent to
    Segment. The key is not checked here: a bad one is refused when events are sent."""
    segment_io = {
        "apiKey": write_key,
        "apiHost": f"{request.host}/v1",
        "protocol": request.scheme if request.scheme in ("http", "https") else "https",
        "unbundledIntegrations": [],
        "addBundledMetadata": True,
        "maybeBundledConfigIds": {},
        "versionSettings": {"version": "4.4.7", "componentTypes": ["browser"]},
    }
    response = jsonify({
        "integrations": {"Segment.io": segment_io},
        "plan": {"track": {"__default": {"enabled": True, "integrations": {}}},
                 "identify": {"__default": {"enabled": True}},
                 "group": {"__default": {"enabled": True}}},
        "edgeFunction": {}, "analyticsNextEnabled": True, "middlewareSettings": {},
        "enabledMiddleware": {}, "metrics": {"sampleRate": 0}, "legacyVideoPluginsEnabled": False,
        "remotePlugins": [],
    })
    response.cache_control.public = True
    response.cache_control.max_age = SETTINGS_MAX_AGE
    return response


@bp.get("/analytics.js/v1/<write_key>/analytics.min.js")
def standalone(write_key):
    """analytics.js itself, where Segment's snippet loads it from (the key is in the page)."""
    del write_key
    return send_from_directory(vendor_dir(), STANDALONE, max_age=SETTINGS_MAX_AGE)


@bp.get("/analytics-next/bundles/<path:filename>")
def bundle(filename):
    """A code chunk analytics.js loads from `<cdn>/analytics-next/bundles/`."""
    return send_from_directory(vendor_dir(), filename, max_age=CHUNK_MAX_AGE)
