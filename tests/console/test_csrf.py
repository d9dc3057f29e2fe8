"""Every console form that changes something is refused without the session's CSRF token.

The routes come from the app's URL map, so a POST route added later without a case here fails
`test_every_console_post_route_has_a_case`. Each route is posted three times: without a token
and with another session's token (both 400, nothing changed), then with its own (it acts).

The sign-in form is included. It changes nothing stored before the password is checked, but
without the token another site could post its own user name and password from a victim's
browser and sign the victim in as the attacker ("login CSRF"): whatever the victim then does in
the console is done, and audited, as the attacker. Flask-WTF checks it like every other form,
and this keeps it so.
"""

from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from app.accounts.keys import create_key
from app.ingest.queue import enqueue
from app.store.common import utcnow
from app.sync.engine import run_sync
from tests.store.helpers import queue_item
from tests.waiting import wait_for

from .conftest import PASSWORD, csrf_token, event, record

pytestmark = pytest.mark.both_stores


@dataclass
class Case:
    """One console POST: where it goes, what it sends, and whether it needs a session."""

    url: str
    data: dict = field(default_factory=dict)
    signed_in: bool = True


def dead_item(store):
    """A dead queue item (a sync engine leaves one there after its last attempt)."""
    item = queue_item("dead-1", app_id="testapp")
    item["status"] = "dead"
    enqueue(store, "testapp", [item])
    return store.get_queue_item("testapp", "dead-1")["id"]


def key_id(store):
    """A working API key's id."""
    _raw, doc = create_key(store, "testapp", ["ingest"])
    return doc["keyId"]


def rotation_end():
    """A time the rotation form accepts: an hour ahead (UTC)."""
    return f"{utcnow() + timedelta(hours=1):%Y-%m-%dT%H:%M}"


def open_conflict(send, store, app):
    """An open record conflict made by ingest and the sync engine."""
    send([record("r-1", 0, {"title": "t"})])
    run_sync(store, app.config, source="manual")
    send([record("r-1", 1, {"title": "server"})])
    run_sync(store, app.config, source="manual")
    send([record("r-1", 1, {"title": "client"}, conflictResolution="manual")])
    run_sync(store, app.config, source="manual")
    [conflict] = store.list_conflicts(status="open", values=False)
    return conflict["id"]


# One builder per console POST endpoint: the world it needs, then its Case.
CASES = {
    "console.login": lambda w: Case("/console/login", {"username": "admin",
                                                       "password": PASSWORD}, signed_in=False),
    "console.logout": lambda w: Case("/console/logout"),
    "console.retry_item": lambda w: Case(f"/console/queue/{dead_item(w.store)}/retry"),
    "console.discard_item": lambda w: Case(f"/console/queue/{dead_item(w.store)}/discard"),
    "console.bulk": lambda w: (dead_item(w.store), Case(
        "/console/errors/bulk", {"action": "discard", "status": "dead", "count": "1"}))[1],
    "console.sync_now": lambda w: (w.send([event()]), Case("/console/sync"))[1],
    "console.resolve": lambda w: Case(
        f"/console/conflicts/{open_conflict(w.send, w.store, w.app)}/resolve",
        {"resolution": "server"}),
    "console.person_delete": lambda w: (w.send([event()], user_id="user-1"), Case(
        "/console/people/delete", {"userId": "user-1", "app": "testapp", "confirm": "user-1"}))[1],
    "console.key_create": lambda w: Case("/console/keys", {"app": "testapp",
                                                           "scopes": "ingest"}),
    "console.key_revoke": lambda w: (lambda k: Case(f"/console/keys/{k}/revoke",
                                                    {"confirm": k}))(key_id(w.store)),
    "console.key_rotate": lambda w: Case(f"/console/keys/{key_id(w.store)}/rotate",
                                         {"stops": rotation_end()}),
}


def console_post_endpoints(app):
    return {rule.endpoint for rule in app.url_map.iter_rules()
            if rule.endpoint.startswith("console.") and "POST" in rule.methods}


def test_every_console_post_route_has_a_case(app):
    assert console_post_endpoints(app) == set(CASES)


@dataclass
class World:
    app: object
    store: object
    send: object


def snapshot(store, client):
    """What a console POST could change: the queue, conflicts, the audit log, sync runs, API
    keys, and whether this client is signed in."""
    return {
        "queue": store.console_queue_counts(),
        "conflicts": store.conflict_counts(),
        "audit": [(e["actor"], e["action"]) for e in store.list_audit(limit=100)],
        "lastRun": store.last_sync_run(),
        "keys": [(k["keyId"], k["revokedAt"]) for k in store.list_api_keys()],
        "signedIn": client.get("/console/").status_code == 200,
    }


@pytest.mark.parametrize("endpoint", sorted(CASES))
def test_a_console_post_needs_the_sessions_csrf_token(app, store, users, console, send,
                                                      endpoint):
    assert endpoint in console_post_endpoints(app)
    case = CASES[endpoint](World(app, store, send))
    if case.signed_in:
        session = console("admin")
        client, token = session.client, session.token
    else:
        client = app.test_client()
        token = csrf_token(client)
    stranger = app.test_client()
    foreign = csrf_token(stranger)
    before = snapshot(store, client)

    for data in (case.data, dict(case.data, csrf_token=foreign)):
        refused = client.post(case.url, data=data)
        assert refused.status_code == 400, (endpoint, refused.status_code)
        assert "CSRF" in refused.get_data(as_text=True)
        assert snapshot(store, client) == before, endpoint

    done = client.post(case.url, data=dict(case.data, csrf_token=token))
    assert done.status_code in (200, 303), (endpoint, done.get_data(as_text=True))
    if endpoint == "console.sync_now":
        # The run goes on in the background; it is audited once it has ended.
        assert wait_for(lambda: ("admin", "sync.run") in snapshot(store, client)["audit"], 10)
    assert snapshot(store, client) != before, endpoint
