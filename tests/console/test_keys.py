"""API keys in the console: the list (apps, key counts, last ingest, states), creating a key
whose secret is shown once (in the answer that made it, never in a flash, the session or the
list), revoking with confirmation, rotating with a time the old key stops at, the audit, and
roles (everyone sees; only admins act, refused 403 otherwise)."""

import re
from datetime import timedelta

import pytest

from app.accounts.keys import create_key, hash_key
from app.store.common import utcnow
from tests.waiting import wait_for

pytestmark = pytest.mark.both_stores

TRACK = "/api/telemetry/track"
SECRET = re.compile(r'data-secret data-key-id="([0-9a-f]+)">(pm_[^<]+)</code>')


def track(client, raw_key):
    """The status of one real event sent with the key."""
    return client.post(TRACK, headers={"Authorization": f"Bearer {raw_key}"}, json={
        "userId": "u-1", "eventType": "learning_module_viewed",
        "eventData": {"moduleId": "m-1"}}).status_code


def issued(response):
    """(keyId, secret) shown in an answer."""
    found = SECRET.search(response.get_data(as_text=True))
    assert found, response.get_data(as_text=True)
    return found.group(1), found.group(2)


def key_actions(store):
    return [(e["actor"], e["action"], e["target"], e["details"])
            for e in store.list_audit(limit=100) if e["action"].startswith("key.")]


def session_contents(app, client):
    """The Flask session as the browser holds it: the cookie's text, and what it decodes to."""
    cookie = client.get_cookie("session")
    text = cookie.value if cookie else ""
    decoded = app.session_interface.get_signing_serializer(app).loads(text) if text else {}
    return text, decoded


def create(admin, app_id="quiz", name="iOS 4.2", scopes=("ingest", "read")):
    return admin.post("/console/keys", {"app": app_id, "name": name, "scopes": list(scopes)})


def stops(delta):
    """A stop time `delta` from now, as the form's datetime-local field sends it (UTC)."""
    return f"{utcnow() + delta:%Y-%m-%dT%H:%M:%S}"


# ---- creating: the secret shown once ---------------------------------------------------------

def test_a_new_keys_secret_is_in_the_answer_that_made_it_and_nowhere_else(app, console, client,
                                                                          store):
    admin = console("admin")
    response = create(admin)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    key_id, secret = issued(response)
    assert 'data-copy="#new-key"' in response.get_data(as_text=True)
    [doc] = store.list_api_keys()
    assert (doc["keyId"], doc["appId"], doc["name"], doc["scopes"]) == (
        key_id, "quiz", "iOS 4.2", ["ingest", "read"])
    assert doc["keyHash"] == hash_key(secret)
    assert track(client, secret) == 202

    # Not in the session (its cookie is signed, not encrypted), not flashed, not listed.
    text, decoded = session_contents(app, admin.client)
    assert text and secret not in text and secret not in repr(decoded)
    assert "_flashes" not in decoded
    for url in ("/console/keys", "/console/", "/console/audit"):
        page = admin.get(url).get_data(as_text=True)
        assert key_id in page or url != "/console/keys"
        assert secret not in page and secret[12:] not in page, url
    assert key_actions(store) == [("admin", "key.create", f"key:{key_id}",
                                   {"appId": "quiz", "scopes": "ingest,read",
                                    "name": "iOS 4.2"})]


@pytest.mark.parametrize("form, problem", [
    ({"app": "quiz", "name": "", "scopes": []}, "scopes must be"),
    ({"app": "quiz", "name": "", "scopes": ["ingest", "everything"]}, "scopes must be"),
    ({"app": "  ", "name": "", "scopes": ["ingest"]}, "the app name must be"),
    ({"app": "q" * 129, "name": "", "scopes": ["ingest"]}, "the app name must be"),
    ({"app": "quiz\x00", "name": "", "scopes": ["ingest"]}, "the app name must be"),
    ({"app": "quiz", "name": "n" * 101, "scopes": ["ingest"]}, "the key&#39;s name must be"),
])
def test_a_key_request_that_cannot_be_honoured_is_refused_and_makes_nothing(console, store,
                                                                            form, problem):
    response = console("admin").post("/console/keys", form)
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "No key was made" in body and problem in body
    assert store.list_api_keys() == []
    assert key_actions(store) == []


# ---- the list -------------------------------------------------------------------------------

def test_apps_are_listed_with_their_key_counts_last_ingest_and_key_states(console, client,
                                                                          store):
    used, _ = create_key(store, "quiz", ["ingest"], name="web")
    create_key(store, "quiz", ["read"], name="reports")
    gone, gone_doc = create_key(store, "quiz", ["ingest"], name="old")
    store.revoke_api_key(gone_doc["keyId"], utcnow())
    create_key(store, "mentor", ["ingest", "read", "admin"])
    assert track(client, used) == 202
    page = console("viewer").get("/console/keys").get_data(as_text=True)

    rows = dict(re.findall(r'<tr data-app="([^"]+)">(.*?)</tr>', page, re.S))
    assert set(rows) == {"quiz", "mentor"}
    assert re.search(r"data-working>2<.*data-key-count>3<", rows["quiz"])
    assert re.search(r"data-working>1<.*data-key-count>1<", rows["mentor"])
    # The last ingest is the last use of an ingest key: quiz's "web" key, just now.
    last_used = store.find_api_key(hash_key(used))["lastUsedAt"]
    assert f'datetime="{last_used.isoformat()}"' in rows["quiz"]
    assert "<time" not in rows["mentor"]
    states = dict(re.findall(r'<tr data-key="([0-9a-f]+)" data-state="(\w+)">', page))
    assert sorted(states.values()) == ["active", "active", "active", "revoked"]
    assert states[gone_doc["keyId"]] == "revoked"
    assert "ingest, read, admin" in page


# ---- revoking -------------------------------------------------------------------------------

def test_revoking_asks_for_confirmation_then_stops_the_key_now(console, client, store):
    raw, doc = create_key(store, "quiz", ["ingest"])
    key_id = doc["keyId"]
    admin = console("admin")
    page = admin.get(f"/console/keys/{key_id}/revoke")
    assert page.status_code == 200
    assert f'name="confirm" value="{key_id}"' in page.get_data(as_text=True)

    unconfirmed = admin.post(f"/console/keys/{key_id}/revoke")
    assert unconfirmed.status_code == 400
    assert "Confirm the revocation" in unconfirmed.get_data(as_text=True)
    assert track(client, raw) == 202

    done = admin.post(f"/console/keys/{key_id}/revoke", {"confirm": key_id})
    assert done.status_code == 303 and done.headers["Location"] == "/console/keys"
    assert track(client, raw) == 401
    listed = admin.get("/console/keys").get_data(as_text=True)
    assert f"Key {key_id} of quiz is revoked" in listed
    assert f'data-key="{key_id}" data-state="revoked"' in listed
    assert key_actions(store) == [("admin", "key.revoke", f"key:{key_id}", {"appId": "quiz"})]

    again = admin.post(f"/console/keys/{key_id}/revoke", {"confirm": key_id})
    assert again.status_code == 303
    assert "had stopped working already" in admin.get("/console/keys").get_data(as_text=True)
    assert len(key_actions(store)) == 1


def test_an_unknown_key_is_404(console):
    admin = console("admin")
    for response in (admin.get("/console/keys/nope/revoke"), admin.get("/console/keys/nope/rotate"),
                     admin.post("/console/keys/nope/revoke", {"confirm": "nope"}),
                     admin.post("/console/keys/nope/rotate", {"stops": stops(timedelta(hours=1))})):
        assert response.status_code == 404
        assert "No API key &#39;nope&#39;" in response.get_data(as_text=True)


# ---- rotating -------------------------------------------------------------------------------

def test_rotating_makes_a_successor_and_the_old_key_runs_out_at_the_chosen_time(console, client,
                                                                                store):
    old_raw, old = create_key(store, "quiz", ["ingest", "read"], name="web")
    admin = console("admin")
    form = admin.get(f"/console/keys/{old['keyId']}/rotate").get_data(as_text=True)
    assert 'type="datetime-local" name="stops"' in form
    until = utcnow() + timedelta(hours=6)
    response = admin.post(f"/console/keys/{old['keyId']}/rotate",
                          {"stops": f"{until:%Y-%m-%dT%H:%M}"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    new_id, new_raw = issued(response)
    assert f"The old key {old['keyId']} keeps working until" in response.get_data(as_text=True)

    new = store.find_api_key(hash_key(new_raw))
    assert (new["keyId"], new["appId"], new["scopes"], new["name"]) == (
        new_id, "quiz", ["ingest", "read"], "web")
    assert store.find_api_key(hash_key(old_raw))["revokedAt"] == until.replace(second=0,
                                                                               microsecond=0)
    assert track(client, new_raw) == 202
    assert track(client, old_raw) == 202  # until its time comes
    listed = admin.get("/console/keys").get_data(as_text=True)
    assert new_raw not in listed
    assert f'data-key="{old["keyId"]}" data-state="expiring"' in listed
    assert f'data-key="{new_id}" data-state="active"' in listed
    [entry] = key_actions(store)
    assert entry[:3] == ("admin", "key.rotate", f"key:{old['keyId']}")
    assert entry[3]["newKeyId"] == new_id and entry[3]["appId"] == "quiz"
    assert entry[3]["oldKeyStops"].startswith(f"{until:%Y-%m-%dT%H:%M}:00")

    # Running out, it has its successor: it cannot rotate again, but it can be stopped now.
    again = admin.post(f"/console/keys/{old['keyId']}/rotate",
                       {"stops": stops(timedelta(hours=1))})
    assert again.status_code == 400
    assert "only an active key can be rotated" in again.get_data(as_text=True)
    assert len(store.list_api_keys()) == 2
    assert admin.post(f"/console/keys/{old['keyId']}/revoke",
                      {"confirm": old["keyId"]}).status_code == 303
    assert track(client, old_raw) == 401
    assert track(client, new_raw) == 202


@pytest.mark.parametrize("value, problem", [
    ("", "give the time the old key stops as a date and time"),
    ("tomorrow", "give the time the old key stops as a date and time"),
    ("2026-13-40T25:00", "give the time the old key stops as a date and time"),
    ("9999-12-31T23:59:59-01:00", "give the time the old key stops as a date and time"),
    ("0001-01-01T00:00+01:00", "give the time the old key stops as a date and time"),
    ("\x00" + "7" * 5000, "give the time the old key stops as a date and time"),
    ("2001-01-01T00:00", "has passed"),
    ("9999-12-31T23:59", "more than 365 days ahead"),
    ("past", "has passed"),
    ("far", "more than 365 days ahead"),
])
def test_a_stop_time_in_the_past_or_too_far_ahead_is_refused(console, client, store, value,
                                                             problem):
    raw, doc = create_key(store, "quiz", ["ingest"])
    value = {"past": stops(-timedelta(minutes=1)),
             "far": stops(timedelta(days=366))}.get(value, value)
    response = console("admin").post(f"/console/keys/{doc['keyId']}/rotate", {"stops": value})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "Nothing was rotated" in body and problem in body
    assert [k["keyId"] for k in store.list_api_keys()] == [doc["keyId"]]
    assert store.find_api_key(hash_key(raw))["revokedAt"] is None
    assert key_actions(store) == []


def test_a_rotated_key_answers_until_its_time_then_401(console, client, store):
    """The real path: the old key's stop time is a few seconds ahead, and the test waits for
    it to pass (no clock is faked)."""
    old_raw, old = create_key(store, "quiz", ["ingest"])
    response = console("admin").post(f"/console/keys/{old['keyId']}/rotate",
                                      {"stops": stops(timedelta(seconds=4))})
    _, new_raw = issued(response)
    stops_at = store.find_api_key(hash_key(old_raw))["revokedAt"]
    assert utcnow() < stops_at, "this machine took 4 s to rotate a key: the test cannot tell"
    assert track(client, old_raw) == 202
    assert wait_for(lambda: track(client, old_raw) == 401, seconds=20, interval=0.25)
    assert utcnow() >= stops_at
    assert track(client, new_raw) == 202


# ---- roles ----------------------------------------------------------------------------------

@pytest.mark.parametrize("role, refusal", [
    ("viewer", "may look but not act"),
    ("operator", "may see API keys but not change them: only admins may"),
])
def test_viewers_and_operators_see_keys_but_cannot_act(console, client, store, role, refusal):
    raw, doc = create_key(store, "quiz", ["ingest"], name="web")
    key_id = doc["keyId"]
    session = console(role)
    page = session.get("/console/keys")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert f'data-key="{key_id}" data-state="active"' in body
    assert 'href="/console/keys"' in body  # the nav link
    assert "data-create-key" not in body and "Rotate…" not in body and "Revoke…" not in body
    assert "Only admins can create, rotate or revoke keys." in body

    if role == "operator":  # viewers are refused every POST before the view; these are GETs
        for url in (f"/console/keys/{key_id}/revoke", f"/console/keys/{key_id}/rotate"):
            refused = session.get(url)
            assert refused.status_code == 403 and refusal in refused.get_data(as_text=True)
    for url, data in (("/console/keys", {"app": "quiz", "scopes": ["ingest"]}),
                      (f"/console/keys/{key_id}/revoke", {"confirm": key_id}),
                      (f"/console/keys/{key_id}/rotate", {"stops": stops(timedelta(hours=1))})):
        refused = session.post(url, data)
        assert refused.status_code == 403, url
        assert refusal in refused.get_data(as_text=True)
    assert [k["keyId"] for k in store.list_api_keys()] == [key_id]
    assert store.find_api_key(hash_key(raw))["revokedAt"] is None
    assert track(client, raw) == 202
    assert key_actions(store) == []


def test_admins_see_the_forms_and_the_nav_link(console, store):
    create_key(store, "quiz", ["ingest"])
    body = console("admin").get("/console/keys").get_data(as_text=True)
    assert "data-create-key" in body and "Rotate…" in body and "Revoke…" in body
    assert '<a href="/console/keys" aria-current="page">Keys</a>' in body
