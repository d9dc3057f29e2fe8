"""Every error answer of the API and /metrics has the contract's shape, whatever raised it:
`{"error", "message", "fields"}`, `fields` being `{}` when nothing is per field."""

import gzip

import pytest

from app.extensions import rate_limiter
from app.store import StoreUnavailable
from tests.api.helpers import batch, event_item
from tests.hostile.helpers import error_of

pytestmark = pytest.mark.both_stores

JSON = {"Content-Type": "application/json"}


def test_every_source_of_errors_answers_the_one_shape(app, client, store, auth, api_key,
                                                      monkeypatch):
    read = {"Authorization": f"Bearer {api_key('read')}"}
    app.config["MAX_BATCH_ITEMS"] = 2
    client.post("/api/telemetry/batch", json=batch([event_item("e1")], batch_id="b1"),
                headers=auth)
    sources = {
        # webargs/marshmallow through flask-smorest, and the parser's own aborts
        "query validation": lambda: client.get("/api/telemetry/records?limit=0", headers=auth),
        "body validation": lambda: client.post("/api/telemetry/batch", json={"items": []},
                                               headers=auth),
        "invalid JSON": lambda: client.post("/api/telemetry/track", data=b"{",
                                            headers={**auth, **JSON}),
        "not JSON": lambda: client.post("/api/telemetry/track", data=b"x", headers=auth),
        # the body layer, before any view
        "broken gzip": lambda: client.post("/api/telemetry/track",
                                           data=gzip.compress(b"{}")[:-8],
                                           headers={**auth, **JSON, "Content-Encoding": "gzip"}),
        "unknown encoding": lambda: client.post("/api/telemetry/track", data=b"{}", headers={
            **auth, **JSON, "Content-Encoding": "br"}),
        "gzip past the limit": lambda: client.post(
            "/api/telemetry/track", data=gzip.compress(b" " * (app.config["MAX_CONTENT_LENGTH"]
                                                              + 1)),
            headers={**auth, **JSON, "Content-Encoding": "gzip"}),
        # Flask's own limit on a sized body
        "body past the limit": lambda: client.post(
            "/api/telemetry/track", data=b" " * (app.config["MAX_CONTENT_LENGTH"] + 1),
            headers={**auth, **JSON}),
        # the services' refusals
        "invalid event": lambda: client.post("/api/telemetry/track", json={"userId": "u1"},
                                              headers=auth),
        "too many items": lambda: client.post(
            "/api/telemetry/batch", json=batch([event_item() for _ in range(3)]), headers=auth),
        "batchId reused": lambda: client.post(
            "/api/telemetry/batch", json=batch([event_item("e2")], batch_id="b1"), headers=auth),
        "merged without data": lambda: client.post(
            "/api/telemetry/conflicts/1/resolve", json={"resolution": "merged"}, headers=auth),
        "no such conflict": lambda: client.post(
            "/api/telemetry/conflicts/1/resolve", json={"resolution": "server"}, headers=auth),
        "no such batch": lambda: client.get("/api/telemetry/batch/nope", headers=auth),
        "no such record": lambda: client.get("/api/telemetry/records/t/r", headers=auth),
        # keys and scopes
        "no key": lambda: client.get("/api/telemetry/status"),
        "wrong scope": lambda: client.post("/api/telemetry/sync", headers=read),
        # routing
        "unknown path": lambda: client.get("/api/nothing/here", headers=auth),
        "unknown method": lambda: client.patch("/api/telemetry/track", headers=auth),
        "metrics scrape, wrong method": lambda: client.post("/metrics"),
    }
    answers = {name: send() for name, send in sources.items()}

    app.config["METRICS_TOKEN"] = "scrape-secret"
    answers["metrics scrape without the token"] = client.get("/metrics")
    app.config["SYNC_MAX_QUEUE"] = 1
    answers["backlog full"] = client.post("/api/telemetry/track", headers=auth, json={
        "userId": "u1", "eventType": "x"})
    monkeypatch.setattr(rate_limiter, "per_minute", 1)
    client.get("/api/telemetry/status", headers=read)
    answers["rate limited"] = client.get("/api/telemetry/status", headers=read)
    monkeypatch.setattr(rate_limiter, "per_minute", 0)

    def store_down(*_args, **_kwargs):
        raise StoreUnavailable("connection refused")

    monkeypatch.setattr(store, "find_api_key", store_down)
    answers["store down"] = client.get("/api/telemetry/status", headers=auth)

    statuses = {}
    for name, response in answers.items():
        body = error_of(response)
        statuses.setdefault(response.status_code, []).append((name, body["error"]))
    assert sorted(statuses) == [400, 401, 403, 404, 405, 409, 413, 415, 429, 503], statuses
    assert error_of(answers["merged without data"])["fields"] == {
        "data": ["Give the merged value as a JSON object."]}
    assert error_of(answers["unknown path"])["fields"] == {}
    assert answers["store down"].headers["Retry-After"]
    assert answers["rate limited"].headers["Retry-After"]


@pytest.mark.logs_errors
def test_an_unexpected_error_answers_500_in_the_shape(client, store, auth, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(store, "queue_counts", broken)
    response = client.get("/api/telemetry/status", headers=auth)
    assert response.status_code == 500
    body = error_of(response)
    assert (body["error"], body["fields"]) == ("internal_error", {})
    assert "a bug" not in response.get_data(as_text=True)
