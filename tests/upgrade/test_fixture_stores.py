"""A store made by an earlier release opens with this one, upgrades, and loses nothing.

The stores are the fixtures of tests/upgrade/fixtures/, made with each release's own code by
make_fixture.py, on both stores. After the upgrade every API read answers as that release
answered it; new writes, resends and sync runs work on the upgraded store; and its tables and
indexes are those of a store this release makes new.
"""

import pytest

from app.extensions import store
from app.store import schema
from tests.conftest import close_app, make_app

from .fixtures import RELEASES, app_on_release_store, fixture_version, recorded, replay
from .shapes import shape

pytestmark = pytest.mark.parametrize("release", RELEASES)

# Read answers that depend on when they are asked, not on what is stored: the next timed run
# (the scheduler is off in tests: null both times, but it is the clock's business), and whether
# the queue is stale (work has waited longer than a few intervals since the last run: true once
# the fixture is old enough), with the overall status that follows from it.
VOLATILE = {"/api/telemetry/status": ("syncStatus", ("nextSyncTime",)),
            "/api/health": ("services", ("syncQueue",))}
# Fields answers gained after a fixture's release (CHANGELOG): the recorded answer lacks them, so
# they are left out of the comparison; every field the release answered must still be the same.
ADDED = {"/api/telemetry/batch/": ("suppressedCount",)}


def as_compared(path, body):
    """The answer without what depends on the clock; an error answer of a release from before
    every error had `fields` (CHANGELOG 0.2.0) gains the `{}` it has now."""
    if isinstance(body, dict) and "error" in body:
        body = {"fields": {}, **body}
    return without_volatile(path, body)


def without_volatile(path, body):
    for prefix, names in ADDED.items():
        if path.startswith(prefix) and isinstance(body, dict):
            body = {k: v for k, v in body.items() if k not in names}
    for prefix, (part, names) in VOLATILE.items():
        if path.startswith(prefix) and isinstance(body, dict) and part in body:
            body = {**body, part: {k: v for k, v in body[part].items() if k not in names}}
            if prefix == "/api/health":
                body.pop("status")
    return body


@pytest.fixture
def release_app(release, tmp_path, store_kind):
    app = app_on_release_store(release, tmp_path, store_kind)
    yield app
    close_app(app)


def test_every_read_answers_as_the_release_answered_it(release, release_app, store_kind):
    with release_app.app_context():
        assert store.schema_state(release_app)["version"] == fixture_version(release)
    compared = 0
    for read, answer in replay(release_app, release, store_kind):
        if read["path"] != "/api/health":  # 200 or 503 is the health's status, above
            assert answer.status_code == read["status"], read["path"]
        assert (as_compared(read["path"], answer.get_json())
                == as_compared(read["path"], read["body"])), read["path"]
        compared += 1
    assert compared >= 40
    with release_app.app_context():
        state = store.schema_state(release_app)
    assert state["version"] == schema.LATEST and state["pending"] == []
    assert [step["version"] for step in state["history"]] == list(schema.STEPS)


def test_the_upgraded_store_takes_new_writes_resends_and_syncs(release, release_app, store_kind):
    keys = recorded(release)["keys"]["sqlite" if store_kind == "sqlite" else "mongo"]
    auth = {"Authorization": f"Bearer {keys['fixture-app']}"}
    client = release_app.test_client()
    pending = client.get("/api/telemetry/batch/batch-3", headers=auth).get_json()
    assert [r["status"] for r in pending["results"]] == ["accepted", "accepted"]
    resent = client.post("/api/telemetry/batch", headers=auth, json={
        "batchId": "batch-3", "userId": "u3", "items": [
            {"itemType": "event", "eventId": "evt-6", "eventType": "weakness_detected",
             "eventData": {"skill": "dp"},
             "metadata": {"clientTimestamp": "2026-11-30T09:00:00Z"}},
            {"itemType": "user_settings", "itemId": "rec-7", "recordId": "settings-u3",
             "baseVersion": 0, "data": {"theme": "pending"},
             "clientTimestamp": "2026-11-30T09:00:00Z"}]})
    # The release's answer again, and nothing stored twice.
    assert resent.status_code == 202 and resent.get_json()["accepted"] == 2
    fresh = client.post("/api/telemetry/batch", headers=auth, json={
        "batchId": "after-upgrade", "userId": "u1", "items": [
            {"itemType": "event", "eventId": "evt-new", "eventType": "interview_started",
             "eventData": {}, "metadata": {"clientTimestamp": "2026-12-01T09:00:00Z"}},
            {"itemType": "user_settings", "itemId": "rec-new", "recordId": "settings-u1",
             "baseVersion": 2, "data": {"theme": "light", "fontSize": 14},
             "clientTimestamp": "2026-12-01T09:00:00Z"}]})
    assert fresh.status_code == 202 and fresh.get_json()["accepted"] == 2
    result = release_app.test_cli_runner().invoke(args=["sync", "run"])
    assert result.exit_code == 0, result.output
    record = client.get("/api/telemetry/records/user_settings/settings-u1", headers=auth)
    assert record.get_json()["version"] == 3
    assert record.get_json()["data"] == {"theme": "light", "fontSize": 14}
    later = client.get("/api/telemetry/records/user_settings/settings-u3", headers=auth)
    assert later.status_code == 200 and later.get_json()["data"] == {"theme": "pending"}
    status = client.get("/api/telemetry/status", headers=auth).get_json()["syncStatus"]
    assert status["pendingItems"] == 0 and status["conflictItems"] == 3


def test_the_upgraded_store_has_the_tables_and_indexes_of_a_new_one(release, release_app,
                                                                    store_kind, tmp_path):
    with release_app.app_context():
        upgraded = shape(store.get(release_app))
    new_app = make_app(tmp_path / "new", store_kind)
    try:
        with new_app.app_context():
            assert shape(store.get(new_app)) == upgraded
    finally:
        close_app(new_app)


def test_without_auto_upgrade_the_app_refuses_until_store_upgrade_has_run(release, tmp_path,
                                                                          store_kind):
    app = app_on_release_store(release, tmp_path, store_kind, STORE_AUTO_UPGRADE=False)
    try:
        keys = recorded(release)["keys"]["sqlite" if store_kind == "sqlite" else "mongo"]
        auth = {"Authorization": f"Bearer {keys['fixture-app']}"}
        client = app.test_client()
        refused = client.get("/api/telemetry/status", headers=auth)
        assert refused.status_code == 503
        assert refused.get_json()["error"] == "store_upgrade_needed"
        assert "flask --app wsgi store upgrade" in refused.get_json()["message"]
        health = client.get("/api/health")
        assert health.status_code == 503
        assert health.get_json()["services"]["database"] == "upgrade_needed"
        runner = app.test_cli_runner()
        listed = runner.invoke(args=["keys", "list"])
        assert listed.exit_code == 1 and "store upgrade" in listed.output
        assert "Traceback" not in listed.output

        status = runner.invoke(args=["store", "status"])
        assert status.exit_code == 0, status.output
        version = fixture_version(release)
        assert f"schema version {version}" in status.output
        assert all((f"to take {v}:" in status.output) is (v > version) for v in schema.STEPS)
        upgraded = runner.invoke(args=["store", "upgrade"])
        assert upgraded.exit_code == 0, upgraded.output
        assert all(f"applied {v}: {name}" in upgraded.output
                   for v, name in schema.STEPS.items() if v > version)
        assert f"Upgraded to schema version {schema.LATEST}." in upgraded.output
        again = runner.invoke(args=["store", "upgrade"])
        assert "Nothing to do" in again.output and "applied" not in again.output

        # The running app opens the upgraded store on its next request: no restart needed.
        assert client.get("/api/telemetry/status", headers=auth).status_code == 200
        assert client.get("/api/health").get_json()["services"]["database"] == "up"
        after = runner.invoke(args=["store", "status"])
        assert f"schema version {schema.LATEST};" in after.output
        assert "to take" not in after.output and "applied 1:" in after.output
    finally:
        close_app(app)
