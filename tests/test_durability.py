"""Acknowledged means durable: data survives a restart; a store outage acknowledges nothing."""

import sqlite3

from tests.api.helpers import batch, event_item
from tests.conftest import make_app


def test_data_survives_a_restart(tmp_path):
    first = make_app(tmp_path)
    from app.accounts.keys import create_key
    from app.extensions import store

    with first.app_context():
        raw, _ = create_key(store.get(first), "testapp", ["ingest", "read"])
    headers = {"Authorization": f"Bearer {raw}"}
    response = first.test_client().post("/api/telemetry/batch",
                                        json=batch([event_item("e1")], batch_id="b1"),
                                        headers=headers)
    assert response.status_code == 202
    store.get(first).close()

    second = make_app(tmp_path)
    client = second.test_client()
    assert client.get("/api/telemetry/batch/b1", headers=headers).json["successCount"] == 1
    again = client.post("/api/telemetry/batch", json=batch([event_item("e1")]), headers=headers)
    assert again.json["duplicates"] == 1


def test_a_locked_store_answers_503_and_stores_nothing(tmp_path):
    app = make_app(tmp_path, SQLITE_BUSY_TIMEOUT_MS=200)
    from app.accounts.keys import create_key
    from app.extensions import store

    raw, _ = create_key(store.get(app), "testapp", ["ingest", "read"])
    headers = {"Authorization": f"Bearer {raw}"}
    blocker = sqlite3.connect(app.config["SQLITE_PATH"], isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        response = app.test_client().post("/api/telemetry/batch",
                                          json=batch([event_item("e1")]), headers=headers)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert response.status_code == 503
    assert response.json["error"] == "store_unavailable"
    assert response.headers["Retry-After"]
    assert store.get(app).queue_counts() == {}
