"""GET /api/telemetry/status and GET /api/health."""

from datetime import timedelta

import pytest

from app.api import health
from app.store.common import utcnow
from tests.stored import take_down

from .helpers import batch, event_item


def test_status_counts_the_queue_by_state(client, auth):
    client.post("/api/telemetry/batch", json=batch([event_item(), event_item()]), headers=auth)
    client.post("/api/telemetry/batch", json=batch([event_item()], user_id="u2"), headers=auth)
    status = client.get("/api/telemetry/status", headers=auth).json["syncStatus"]
    assert status["pendingItems"] == 3
    assert status["processingItems"] == status["failedItems"] == 0
    assert status["conflictItems"] == status["deadItems"] == 0
    assert status["schedulerRunning"] is False
    assert status["intervalMinutes"] == 1
    assert status["lastSyncTime"] is None
    for_u2 = client.get("/api/telemetry/status?userId=u2", headers=auth).json["syncStatus"]
    assert for_u2["pendingItems"] == 1


def test_status_refuses_unknown_query_fields(client, auth):
    response = client.get("/api/telemetry/status?user=u2", headers=auth)
    assert response.status_code == 400
    assert "user" in response.json["fields"]


def test_health_needs_no_key_and_shows_no_secrets(client, app):
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json["status"] in ("healthy", "degraded")
    assert response.json["services"]["database"] == "up"
    assert response.json["services"]["scheduler"] == "disabled"
    assert app.config["SQLITE_PATH"] not in response.get_data(as_text=True)


def test_health_is_degraded_when_work_waits_and_no_sync_ran(client, auth, store, monkeypatch):
    client.post("/api/telemetry/batch", json=batch([event_item()]), headers=auth)
    assert client.get("/api/health").json["services"]["syncQueue"] == "ok"
    an_hour_later = utcnow() + timedelta(hours=1)
    monkeypatch.setattr(health, "utcnow", lambda: an_hour_later)
    answer = client.get("/api/health").json
    assert answer["status"] == "degraded"
    assert answer["services"]["syncQueue"] == "stale"


def unhealthy(response):
    assert response.status_code == 503
    assert response.json["status"] == "unhealthy"
    assert response.json["services"]["database"] == "down"
    assert response.headers["Retry-After"]


def test_health_is_unhealthy_when_the_store_is_down(client, store, monkeypatch):
    take_down(store, monkeypatch)
    unhealthy(client.get("/api/health"))


@pytest.mark.only_on("sqlite", reason="a real outage, a store file that cannot be opened; "
                     "the test above takes either store down through the port")
def test_health_is_unhealthy_when_the_sqlite_file_cannot_be_opened(tmp_path):
    from tests.conftest import make_app

    (tmp_path / "file").write_text("")
    app = make_app(tmp_path, SQLITE_PATH=str(tmp_path / "file" / "db.sqlite3"))
    unhealthy(app.test_client().get("/api/health"))
