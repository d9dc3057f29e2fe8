"""X-Request-ID: every answer carries one, whatever the path or status; a caller's well-formed id
is kept, anything else is replaced by a fresh one and never reaches a log line."""

import gzip
import io
import logging
import re

import pytest

from app.logging import TextFormatter
from app.store import StoreUnavailable

JSON = {"Content-Type": "application/json"}
FRESH = re.compile(r"[0-9a-f]{32}")
KEPT = ["abc", "0", "A-z_0.9:x", "trace:0af7651916cd43dd8448eb211c80319c", "a" * 128]
# Sent through the environ: werkzeug's client refuses a header holding CR or LF, a server
# does not always (and a proxy may pass on anything).
REPLACED = ["", "a" * 129, "two words", "a,b", "a/b", "a\r\nb", "a\nINFO forged line",
            "\x1b[31mred", "caf\u00e9", "\u0430bc", "id\x00", "{}"]


def id_of(client, path="/api/health", sent=None, method="get", **kwargs):
    """The X-Request-ID answered to a request sending `sent` (None: none sent)."""
    environ = {} if sent is None else {"HTTP_X_REQUEST_ID": sent}
    response = getattr(client, method)(path, environ_overrides=environ, **kwargs)
    response.close()  # a static file's answer holds the file open until closed
    return response.status_code, response.headers.get_all("X-Request-ID")


@pytest.mark.parametrize("sent", KEPT)
def test_a_well_formed_id_is_kept(client, sent):
    assert id_of(client, sent=sent) == (200, [sent])
    assert id_of(client, "/no/such/page", sent=sent) == (404, [sent])


@pytest.mark.parametrize("sent", REPLACED)
def test_any_other_id_is_replaced_by_a_fresh_one(client, sent):
    for path, status in (("/api/health", 200), ("/api/nothing", 404)):
        answered, (rid,) = id_of(client, path, sent=sent)
        assert answered == status and FRESH.fullmatch(rid) and rid != sent


def test_without_an_id_each_request_gets_its_own(client):
    ids = {id_of(client)[1][0] for _ in range(3)}
    assert len(ids) == 3 and all(FRESH.fullmatch(rid) for rid in ids)


def test_every_kind_of_answer_carries_the_id(app, client, store, auth, monkeypatch):
    """API, console, /metrics, static files, docs; 2xx to 5xx, including the answers of the
    body layer (413, 415, 400) given before Flask reads the request."""
    limit = app.config["MAX_CONTENT_LENGTH"]
    encoded = {**auth, **JSON, "Content-Encoding": "gzip"}
    requests = {
        200: [("get", "/api/health", {}), ("get", "/api/telemetry/status", {"headers": auth}),
              ("get", "/metrics", {}), ("get", "/static/js/telemetry.js", {}),
              ("get", "/api/openapi.json", {}), ("get", "/api/docs", {}),
              ("get", "/console/login", {})],
        202: [("post", "/api/telemetry/track",
               {"headers": auth, "json": {"userId": "u1", "eventType": "x"}})],
        302: [("get", "/console/", {})],
        400: [("post", "/api/telemetry/track",
               {"headers": encoded, "data": gzip.compress(b"{}")[:-8]})],
        401: [("get", "/api/telemetry/status", {})],
        404: [("get", "/api/nothing", {}), ("get", "/static/none.js", {})],
        405: [("patch", "/api/telemetry/track", {"headers": auth})],
        # One inflating past the limit, one chunked past it: both refused by the body layer.
        413: [("post", "/api/telemetry/track",
               {"headers": encoded, "data": gzip.compress(b" " * (limit + 1))}),
              ("post", "/api/telemetry/track",
               {"headers": {**auth, **JSON}, "input_stream": io.BytesIO(b" " * (limit + 1))})],
        415: [("post", "/api/telemetry/track",
               {"headers": {**auth, **JSON, "Content-Encoding": "br"}, "data": b"{}"})],
    }
    for status, sent in requests.items():
        for method, path, kwargs in sent:
            assert id_of(client, path, "given-id", method, **kwargs) == (status, ["given-id"]), \
                (method, path)
            answered, (rid,) = id_of(client, path, "bad id", method, **kwargs)
            assert answered == status and FRESH.fullmatch(rid), (method, path)

    def store_down(*_args, **_kwargs):
        raise StoreUnavailable("connection refused")

    monkeypatch.setattr(store, "find_api_key", store_down)
    assert id_of(client, "/api/telemetry/status", "down-1", headers=auth) == (503, ["down-1"])


@pytest.mark.logs_errors
def test_an_unexpected_error_carries_the_id_too(client, store, auth, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(store, "queue_counts", broken)
    assert id_of(client, "/api/telemetry/status", "err-1", headers=auth) == (500, ["err-1"])


def test_a_view_cannot_answer_a_second_id(app, client):
    """The id set here is the only one, even where a view set the header itself."""
    app.add_url_rule("/own-id", "own_id", lambda: ("", 204, {"X-Request-ID": "from-view"}))
    assert id_of(client, "/own-id", "from-caller") == (204, ["from-caller"])


def test_cors_lets_a_browser_read_the_id(client, auth):
    response = client.get("/api/telemetry/status",
                          headers={**auth, "Origin": "https://app.example"})
    exposed = {h.strip().lower() for h in
               response.headers["Access-Control-Expose-Headers"].split(",")}
    assert "x-request-id" in exposed


@pytest.fixture
def text_lines():
    """The lines the prepmate loggers write in the text format, at debug."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(TextFormatter())
    logger = logging.getLogger("prepmate")
    logger.addHandler(handler)
    level, http_level = logger.level, logging.getLogger("prepmate.http").level
    logging.getLogger("prepmate.http").setLevel(logging.DEBUG)
    try:
        yield lambda: stream.getvalue().splitlines()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logging.getLogger("prepmate.http").setLevel(http_level)


def test_a_refused_id_and_a_hostile_path_never_reach_a_log_line_as_sent(client, text_lines):
    answered, (rid,) = id_of(client, "/api/x%0d%0aINFO forged%1b[31m", "a\r\nINFO forged\x1b[0m")
    lines = text_lines()
    assert answered == 404 and len(lines) == 1
    (line,) = lines
    assert f"request={rid}" in line and "INFO forged\x1b" not in line
    assert "/api/x\\r\\nINFO forged\\x1b[31m 404" in line
