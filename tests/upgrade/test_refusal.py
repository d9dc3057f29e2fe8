"""A store that a later release has upgraded is refused, clearly, by every way in: the API, the
health check, the commands, and a server starting on it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.store import create_store, schema
from app.store.mongo import upgrades as mongo_upgrades
from app.store.sqlite import upgrades as sqlite_upgrades
from app.version import __version__

ROOT = Path(__file__).resolve().parents[2]
LATER = schema.LATEST + 1


def take_a_later_releases_step(the_store, monkeypatch):
    """Open the store, then take one step more, as release 9.9.9 would have."""
    schema.open_store(the_store)
    with monkeypatch.context() as patch:
        for steps in (sqlite_upgrades.STEPS, mongo_upgrades.STEPS):
            patch.setitem(steps, LATER, lambda *args: None)
        assert the_store.upgrade_step(LATER, "A later release's step", "9.9.9", schema.utcnow())


@pytest.fixture
def later_store_app(app, monkeypatch):
    take_a_later_releases_step(app.extensions["prepmate.store"]["store"], monkeypatch)
    return app


def test_the_api_and_the_health_check_refuse_it(later_store_app, api_key):
    client = later_store_app.test_client()
    answer = client.get("/api/telemetry/status", headers={"Authorization": f"Bearer {api_key}"})
    assert answer.status_code == 503 and answer.headers["Retry-After"]
    body = answer.get_json()
    assert body["error"] == "store_too_new" and body["fields"] == {}
    assert f"schema version {LATER}, written by release 9.9.9" in body["message"]
    health = client.get("/api/health")
    assert health.status_code == 503
    assert health.get_json() == {"status": "unhealthy", "services": {
        "database": "too_new", "scheduler": "unknown", "syncQueue": "unknown"}}


def test_the_commands_refuse_it_with_the_reason(later_store_app):
    runner = later_store_app.test_cli_runner()
    for args in (["keys", "list"], ["sync", "run"], ["queue", "stats"], ["store", "upgrade"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 1, args
        assert f"release {__version__} knows versions up to {schema.LATEST}" in result.output
        assert "Traceback" not in result.output
    status = runner.invoke(args=["store", "status"])
    assert status.exit_code == 1
    assert f"applied {LATER}: A later release's step (release 9.9.9" in status.output
    assert "newer than this release" in status.output


@pytest.fixture
def api_key(app):
    from app.accounts.keys import create_key

    # Made before the later release's step, as a key the user already had.
    key, _ = create_key(app.extensions["prepmate.store"]["store"], "app1", ["read"])
    return key


@pytest.mark.multiprocess
def test_a_server_does_not_start_on_it_but_the_store_commands_run(tmp_path, monkeypatch):
    path = tmp_path / "later.sqlite3"
    the_store = create_store({"SQLITE_PATH": str(path)})
    take_a_later_releases_step(the_store, monkeypatch)
    the_store.close()
    env = {**os.environ, "SQLITE_PATH": str(path), "ENABLE_SCHEDULED_SYNC": "false",
           "APP_ENV": "development"}
    env.pop("MONGODB_URI", None)
    # What gunicorn does first: import the app.
    server = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert server.returncode == 3  # gunicorn's "worker failed to boot": its master stops
    assert server.stderr.strip().endswith(
        f"knows versions up to {schema.LATEST} and cannot open it. Run a release that knows "
        f"version {LATER} (an earlier release cannot know what a later one stores).")
    assert "prepmate: The store is at schema version" in server.stderr
    flask = [sys.executable, "-m", "flask", "--app", "wsgi", "store", "status"]
    status = subprocess.run(flask, cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert status.returncode == 1 and "A later release's step" in status.stdout
    assert "Traceback" not in status.stderr
