"""API keys: presented as Bearer or X-API-Key, scoped, revocable, stored hashed."""

import pytest

from app.accounts.keys import hash_key
from app.store.common import utcnow

TRACK = "/api/telemetry/track"
EVENT = {"userId": "u1", "eventType": "x"}


def test_no_key_or_an_unknown_key_answers_401(client, store):
    for headers in ({}, {"Authorization": "Bearer pm_nope"}, {"X-API-Key": "nope"},
                    {"Authorization": "Basic abc"}):
        response = client.post(TRACK, json=EVENT, headers=headers)
        assert response.status_code == 401
        assert response.json["error"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert store.queue_counts() == {}


def test_x_api_key_header_works_too(client, api_key):
    response = client.post(TRACK, json=EVENT, headers={"X-API-Key": api_key("ingest")})
    assert response.status_code == 202


@pytest.mark.parametrize("scopes, method, url, status", [
    ("read", "post", TRACK, 403),
    ("ingest", "get", "/api/telemetry/status", 403),
    ("ingest", "get", "/api/telemetry/batch/b1", 403),
    ("read", "get", "/api/telemetry/status", 200),
    ("admin", "get", "/api/telemetry/status", 200),
    ("admin", "post", TRACK, 202),
])
def test_scopes_limit_what_a_key_may_do(client, api_key, store, scopes, method, url, status):
    headers = {"Authorization": f"Bearer {api_key(scopes)}"}
    response = getattr(client, method)(url, json=EVENT if method == "post" else None,
                                       headers=headers)
    assert response.status_code == status
    if status == 403:
        assert response.json["error"] == "forbidden"


def test_a_revoked_key_stops_working_at_once(client, api_key, store):
    raw = api_key("ingest")
    headers = {"Authorization": f"Bearer {raw}"}
    assert client.post(TRACK, json=EVENT, headers=headers).status_code == 202
    key_id = store.find_api_key(hash_key(raw))["keyId"]
    store.revoke_api_key(key_id, utcnow())
    assert client.post(TRACK, json=EVENT, headers=headers).status_code == 401


def test_keys_are_stored_hashed(api_key, store):
    raw = api_key("ingest")
    doc = store.find_api_key(hash_key(raw))
    assert raw not in str(doc)
    assert doc["prefix"] == raw[:12]


def test_rate_limit_answers_429_with_retry_after(client, api_key, app):
    from app.extensions import rate_limiter

    rate_limiter.per_minute = 2
    try:
        headers = {"Authorization": f"Bearer {api_key('ingest')}"}
        codes = [client.post(TRACK, json=EVENT, headers=headers).status_code for _ in range(3)]
        assert codes == [202, 202, 429]
        response = client.post(TRACK, json=EVENT, headers=headers)
        assert response.json["error"] == "rate_limited"
        assert 0 < int(response.headers["Retry-After"]) <= 60
    finally:
        rate_limiter.per_minute = 0
