"""RETENTION_DAYS: a sync run removes done items and batch logs older than the period."""

from datetime import timedelta

import pytest

from app.store.common import utcnow
from app.sync import jobs
from tests.api.helpers import batch, event_item


@pytest.fixture
def app_config():
    return {"RETENTION_DAYS": 30}


def test_a_sync_run_prunes_what_is_older_than_the_retention(app, client, auth, store):
    jobs._last_prune["at"] = None
    client.post("/api/telemetry/batch", json=batch([event_item("old"), event_item("new")]),
                headers=auth)
    jobs.run_exclusive(store, app.config, "manual")
    assert store.get_queue_item("testapp", "old")["status"] == "done"
    long_ago = (utcnow() - timedelta(days=31)).timestamp()
    with store.transaction() as conn:
        conn.execute("UPDATE sync_queue SET createdAt = ?, updatedAt = ? WHERE itemId = 'old'",
                     (long_ago, long_ago))
    jobs.run_exclusive(store, app.config, "manual")
    assert store.get_queue_item("testapp", "old") is not None  # pruned an hour ago: not due
    jobs._last_prune["at"] -= timedelta(hours=2)
    jobs.run_exclusive(store, app.config, "manual")
    assert store.get_queue_item("testapp", "old") is None
    assert store.get_queue_item("testapp", "new")["status"] == "done"
    # At most once an hour per process.
    assert jobs.prune_if_due(store, app.config) is None
