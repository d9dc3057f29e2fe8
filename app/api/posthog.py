"""PostHog-compatible endpoints: capture on the paths posthog-python, posthog-node and posthog-js
post to, the remote config and feature-flag answers posthog-js needs to start (no feature
flags: every flag is off), and posthog-js's extension scripts.

These are another product's protocol, outside the OpenAPI document: bodies come as JSON, gzip
(with `Content-Encoding`, or posthog-js's `text/plain` gzip with no header), or base64 form
data, and answers take the shape and status the libraries act on (200 when stored; a 4xx the
libraries do not retry for a request that is wrong as a whole). See docs/compatibility.md,
"PostHog libraries".
"""

import base64
import binascii
import functools
import json
import uuid
from pathlib import Path
from urllib.parse import parse_qs

from flask import Blueprint, current_app, jsonify, request, send_from_directory
from werkzeug.exceptions import NotFound

from ..extensions import store
from ..http import GZIP_MAGIC, BodyRefused, inflate
from ..ingest.posthog import CaptureError, capture, key_of, messages_of
from ..ingest.service import IngestError
from ..sync.scheduling import sync_soon
from .base import KeyRefused, admit_key

bp = Blueprint("posthog", __name__)

# The capture paths of the current libraries: posthog-python and posthog-node post batches to
# /batch/ (AI events to /i/v0/ai/batch/), posthog-js to /e/; /capture/, /i/v0/e/, /track/ and
# /engage/ are the other paths PostHog's capture takes. Each with and without its final slash.
CAPTURE_PATHS = ("/batch/", "/capture/", "/e/", "/i/v0/e/", "/i/v0/ai/batch/", "/track/",
                 "/engage/")
# posthog-js asks /flags/?v=2, posthog-python /flags/?v=4, older clients /decide/.
FLAGS_PATHS = ("/flags/", "/decide/")
VENDOR = Path(__file__).resolve().parents[2] / "static" / "vendor" / "posthog-js"
NO_FLAGS = "This service does not evaluate feature flags: every flag is off."
SUPPORTED_COMPRESSION = ["gzip-js", "base64"]


def refuse(status, code, detail, headers=None):
    """An error in PostHog's shape (the libraries read `detail`, and act on the status)."""
    kind = "authentication_error" if status in (401, 403) else (
        "throttled" if status == 429 else "validation_error")
    response = jsonify({"type": kind, "code": code, "detail": detail, "attr": None})
    response.status_code = status
    response.headers.update(headers or {})
    return response


def read_body():
    """The request's JSON value, whatever way the library sent it; raises BodyRefused."""
    raw = request.get_data(cache=False)
    compression = (request.args.get("compression") or "").lower()
    content_type = request.mimetype
    if compression == "base64" or content_type == "application/x-www-form-urlencoded":
        raw = _form_data(raw, compression == "base64")
    elif compression not in ("", "gzip", "gzip-js"):
        raise BodyRefused(400, "unsupported_compression",
                          f"compression={compression!r} is not accepted: send gzip-js, gzip, "
                          "base64 or none.")
    if compression in ("gzip", "gzip-js") or raw[:2] == GZIP_MAGIC:
        # posthog-js sends gzip as text/plain, with no Content-Encoding header (so the body
        # layer left it as sent): inflated here, within the same limit.
        raw = inflate([raw], int(current_app.config["COMPAT_MAX_CONTENT_LENGTH"]))
    if not raw.strip():
        raise BodyRefused(400, "no_body", "The request has no body.")
    try:
        return current_app.json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BodyRefused(400, "invalid_json",
                          f"The body is not valid JSON: {str(exc).rstrip('.')}.") from None


def _form_data(raw, base64_encoded):
    """The `data` field of a form body (posthog-js's base64 mode, and sendBeacon's)."""
    try:
        fields = parse_qs(raw.decode("ascii"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise BodyRefused(400, "invalid_form", "The form body is not ASCII.") from None
    data = (fields.get("data") or [""])[0]
    if base64_encoded:
        try:
            return base64.b64decode(data + "=" * (-len(data) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise BodyRefused(400, "invalid_base64",
                              "The form's `data` is not base64 of JSON.") from None
    return data.encode()


def _authenticate(raw_key):
    """The app of an ingest key, or the refusal to answer (401, 403, 429 with Retry-After)."""
    try:
        key = admit_key(raw_key, "ingest")
    except KeyRefused as refused:
        message = refused.message or (
            "Project API key invalid: send an API key of this service with the ingest scope "
            "as the library's project key.")
        code = "invalid_api_key" if refused.status == 401 else refused.code
        return None, refuse(refused.status, code, message, refused.headers)
    return key["appId"], None


def capture_view():
    """Store a capture request's events; 200 once the valid ones are committed."""
    try:
        payload = read_body()
        messages, sent_at = messages_of(payload)
    except BodyRefused as refused:
        return refuse(*refused.args)
    except CaptureError as exc:
        return refuse(exc.status, exc.code, exc.message)
    query_key = request.args.get("api_key") or request.args.get("token")
    authorization = request.headers.get("Authorization", "")
    if not query_key and authorization[:7].lower() == "bearer ":
        query_key = authorization[7:].strip()
    app_id, refusal = _authenticate(key_of(payload, messages, query_key))
    if refusal is not None:
        return refusal
    try:
        summary = capture(store.get(), current_app.config, app_id, messages, sent_at)
    except CaptureError as exc:
        return refuse(exc.status, exc.code, exc.message)
    except IngestError as exc:
        detail = exc.message if not exc.fields else f"{exc.message} {json.dumps(exc.fields)}"
        return refuse(exc.status, exc.code, detail)
    if summary["accepted"]:
        sync_soon()
    if not summary["accepted"] and not summary["duplicates"] and not summary["suppressed"]:
        # Nothing to keep (each message's reason is in the batch log): a 400, which no library
        # retries. (Messages of suppressed people are answered, and logged: a 200.)
        return refuse(400, "invalid_events", "Every event of the request was rejected; see "
                      f"batch {summary['batchId']} in the console for the reasons.")
    return jsonify({"status": 1, "batchId": summary["batchId"],
                    "accepted": summary["accepted"], "duplicates": summary["duplicates"],
                    "rejected": summary["rejected"], "suppressed": summary["suppressed"]})


def flags_view():
    """The feature-flag answer: no flags. posthog-js starts with it; nothing is stored."""
    return jsonify({
        "flags": {}, "featureFlags": {}, "featureFlagPayloads": {},
        "errorsWhileComputingFlags": False, "quotaLimited": [],
        "requestId": str(uuid.uuid4()), "supportedCompression": SUPPORTED_COMPRESSION,
        "config": {"enable_collect_everything": True}, "toolbarParams": {},
        "isAuthenticated": False, "sessionRecording": False, "siteApps": [],
        "featureFlagsSupported": False, "detail": NO_FLAGS,
    })


def remote_config(token):
    """posthog-js's remote config: where to send, how to compress, and nothing that needs a
    PostHog-only endpoint (no flags, recordings, surveys, heatmaps or site apps)."""
    return {
        "token": token, "supportedCompression": SUPPORTED_COMPRESSION,
        "hasFeatureFlags": False, "featureFlagsSupported": False, "detail": NO_FLAGS,
        "analytics": {"endpoint": "/e/"}, "elementsChainAsString": True,
        "sessionRecording": False, "heatmaps": False, "surveys": False,
        "productTours": False, "conversations": False, "logs": False,
        "captureDeadClicks": False, "capturePerformance": False,
        "autocaptureExceptions": False, "autocapture_opt_out": False,
        "defaultIdentifiedOnly": True, "siteApps": [], "toolbarParams": {},
    }


def config_view(token):
    return jsonify(remote_config(token))


def config_js_view(token):
    """The remote config as the script posthog-js loads first (it falls back to JSON)."""
    text = json.dumps(token)[1:-1]  # escaped for a JS string
    body = ("(function(){var w=window;w._POSTHOG_REMOTE_CONFIG=w._POSTHOG_REMOTE_CONFIG||{};"
            f'w._POSTHOG_REMOTE_CONFIG["{text}"]={{config:{json.dumps(remote_config(token))},'
            "siteApps:[]};})();")
    return current_app.response_class(body, mimetype="application/javascript")


for _path in CAPTURE_PATHS:
    bp.add_url_rule(_path, f"capture{_path.replace('/', '_')}", capture_view,
                    methods=["POST"], strict_slashes=False)
for _path in FLAGS_PATHS:
    bp.add_url_rule(_path, f"flags{_path.replace('/', '_')}", flags_view,
                    methods=["GET", "POST"], strict_slashes=False)
bp.add_url_rule("/array/<string:token>/config", "config", config_view)
bp.add_url_rule("/array/<string:token>/config.js", "config_js", config_js_view)


def serve_static_with_posthog_js(app):
    """Flask's /static/ route, falling back to posthog-js's files (static/vendor/posthog-js/,
    copied there by scripts/setup) for the scripts posthog-js loads from `<host>/static/`:
    `/static/<name>.js` and `/static/<version>/<name>.js`. The project's own files keep their
    paths (they live in subfolders; none is a top-level .js file)."""
    own = app.view_functions["static"]

    def static(filename):
        try:
            return own(filename=filename)
        except NotFound:
            parts = filename.split("/")
            if len(parts) == 2 and parts[0] == posthog_js_version():
                parts = parts[1:]
            if len(parts) != 1 or not parts[0].endswith(".js"):
                raise
            response = send_from_directory(VENDOR, parts[0], max_age=3600)
            # posthog-js adds its scripts with crossorigin="anonymous": public files, readable
            # from any page.
            response.headers["Access-Control-Allow-Origin"] = "*"
            return response

    app.view_functions["static"] = static


@functools.cache
def posthog_js_version():
    """The version of the posthog-js files served (from its package.json beside them)."""
    try:
        return json.loads((VENDOR / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None
