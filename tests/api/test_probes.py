"""GET /api/health/live and /api/health/ready: the probes an orchestrator (Kubernetes) asks."""

import pytest

from app.store import schema
from tests.conftest import close_app
from tests.stored import take_down
from tests.upgrade.fixtures import RELEASES, app_on_release_store, fixture_version
from tests.upgrade.test_refusal import LATER, take_a_later_releases_step

LIVE = "/api/health/live"
READY = "/api/health/ready"


def not_ready(response, reason):
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    body = response.get_json()
    assert body["status"] == "not_ready" and body["reason"] == reason
    assert body["latestVersion"] == schema.LATEST
    return body


def test_both_answer_200_on_a_store_at_this_releases_version(client):
    assert client.get(LIVE).status_code == 200
    assert client.get(LIVE).get_json() == {"status": "live"}
    ready = client.get(READY)
    assert ready.status_code == 200
    assert ready.get_json() == {"status": "ready", "schemaVersion": schema.LATEST,
                                "latestVersion": schema.LATEST}


def test_a_store_that_is_down_is_not_ready_but_the_process_is_live(client, app, store,
                                                                   monkeypatch):
    take_down(store, monkeypatch)
    live = client.get(LIVE)
    assert live.status_code == 200 and live.get_json() == {"status": "live"}
    body = not_ready(client.get(READY), "store_down")
    assert body["message"] == "The store cannot be reached."
    assert "schemaVersion" not in body
    # /api/health answers as it always did.
    health = client.get("/api/health")
    assert health.status_code == 503 and health.get_json()["services"]["database"] == "down"


@pytest.mark.only_on("sqlite", reason="a real outage, a store file that cannot be opened; "
                     "the test above takes either store down through the port")
def test_a_sqlite_file_that_cannot_be_opened_is_not_ready_and_its_path_is_not_shown(tmp_path):
    from tests.conftest import make_app

    (tmp_path / "file").write_text("")
    app = make_app(tmp_path, SQLITE_PATH=str(tmp_path / "file" / "db.sqlite3"))
    client = app.test_client()
    assert client.get(LIVE).status_code == 200
    not_ready(client.get(READY), "store_down")
    assert str(tmp_path) not in client.get(READY).get_data(as_text=True)


# The newest fixture store from before this release's schema version.
OLDER = [release for release in RELEASES if fixture_version(release) < schema.LATEST][-1]


@pytest.fixture
def older_store_app(tmp_path, store_kind):
    app = app_on_release_store(OLDER, tmp_path, store_kind, STORE_AUTO_UPGRADE=False)
    yield app
    close_app(app)


def test_a_store_at_an_older_schema_version_is_not_ready_until_upgraded(older_store_app):
    client = older_store_app.test_client()
    assert client.get(LIVE).status_code == 200
    body = not_ready(client.get(READY), "upgrade_needed")
    assert body["schemaVersion"] == fixture_version(OLDER)
    assert "flask --app wsgi store upgrade" in body["message"]
    upgraded = older_store_app.test_cli_runner().invoke(args=["store", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    ready = client.get(READY)
    assert ready.status_code == 200
    assert ready.get_json()["schemaVersion"] == schema.LATEST


def test_a_store_a_later_release_upgraded_is_not_ready(app, monkeypatch):
    client = app.test_client()
    assert client.get(READY).status_code == 200
    # A later release's process takes one step more while this one runs.
    take_a_later_releases_step(app.extensions["prepmate.store"]["store"], monkeypatch)
    body = not_ready(client.get(READY), "store_too_new")
    assert body["schemaVersion"] == LATER
    assert client.get(LIVE).status_code == 200
