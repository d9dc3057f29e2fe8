"""The console on the MongoDB store (mongomock): the same pages and actions as on SQLite."""

import re

import pytest

from app.sync.engine import run_sync

from .conftest import event, set_status_mongo

PAGES = ["/console/", "/console/queue", "/console/batches", "/console/errors",
         "/console/conflicts", "/console/events", "/console/audit", "/metrics"]


@pytest.fixture
def app_config():
    return {"MONGODB_URI": "mongomock://localhost/prepmate_console"}


def test_pages_search_and_actions_on_mongodb(console, send, store, app):
    assert store.kind == "mongodb"
    first = send([event() for _ in range(30)], user_id="alice", batch_id="batch-a")
    send([event("flashcard_flipped", cardId="c") for _ in range(30)], user_id="bob")
    session = console("operator")
    for url in PAGES:
        assert session.get(url).status_code == 200, url
    page1 = session.get("/console/queue").get_data(as_text=True)
    assert page1.count('href="/console/queue/') == 50
    older = re.search(r'href="(/console/queue\?before=[0-9a-f]+)"', page1).group(1)
    assert session.get(older).get_data(as_text=True).count('href="/console/queue/') == 10
    wanted = first["results"][3]["itemId"]
    for term, count in ((wanted, 1), ("batch-a", 30), ("bob", 30)):
        found = session.get(f"/console/queue?q={term}", headers={"HX-Request": "true"})
        assert found.get_data(as_text=True).count('href="/console/queue/') == count, term
    dead = [r["itemId"] for r in first["results"][:5]]
    for item_id in dead:
        set_status_mongo(store, item_id, "dead")
    key = store.get_queue_item(None, dead[0])["id"]
    assert session.post(f"/console/queue/{key}/retry").status_code == 303
    assert store.get_queue_item(None, dead[0])["status"] == "pending"
    confirm = session.get("/console/errors/bulk?action=discard&user=alice")
    assert 'data-count="bulk">4<' in confirm.get_data(as_text=True)
    session.post("/console/errors/bulk", {"action": "discard", "user": "alice", "count": "4"})
    assert store.console_queue_counts()["dead"] == 0
    run_sync(store, app.config, source="manual")
    counts = session.get("/console/events").get_data(as_text=True)
    assert 'data-event-count="flashcard_flipped">30<' in counts
    body = session.get("/metrics").get_data(as_text=True)
    assert "prepmate_items_applied_total 56.0" in body
    assert "prepmate_sync_run_duration_seconds_count" in body
