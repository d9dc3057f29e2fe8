"""The store contract for keys, users, audit, locks and the ingest path, on every adapter."""

from datetime import timedelta

import pytest

from app.ingest.queue import enqueue, variant_item_id
from app.store import BacklogFull, DuplicateKey
from app.store.common import utcnow, uuid7

from .helpers import batch_log, queue_item


def test_ingest_stores_each_item_once_and_reports_duplicates(store):
    outcomes, _ = enqueue(store, "app1", [queue_item("e1"), queue_item("e2")])
    assert outcomes == [("accepted", "e1"), ("accepted", "e2")]
    outcomes, _ = enqueue(store, "app1", [queue_item("e2"), queue_item("e3")])
    assert outcomes == [("duplicate", "e2"), ("accepted", "e3")]
    assert store.queue_counts() == {"pending": 3}


def test_an_id_repeated_inside_one_call_is_a_duplicate(store):
    outcomes, _ = enqueue(store, "app1", [queue_item("e1"), queue_item("e1")])
    assert outcomes == [("accepted", "e1"), ("duplicate", "e1")]
    assert store.queue_counts() == {"pending": 1}


def test_same_id_in_another_app_is_another_item(store):
    enqueue(store, "app1", [queue_item("e1")])
    outcomes, _ = enqueue(store, "app2", [queue_item("e1", app_id="app2")])
    assert outcomes == [("accepted", "e1")]
    assert store.queue_counts(app_id="app1") == {"pending": 1}
    assert store.queue_counts(app_id="app2") == {"pending": 1}


def test_a_reused_id_with_another_payload_is_kept_under_a_variant_id(store):
    enqueue(store, "app1", [queue_item("e1")])
    other = queue_item("e1", data={"eventId": "e1", "eventType": "x", "eventData": {"n": 2},
                                   "metadata": {}})
    outcomes, _ = enqueue(store, "app1", [other])
    variant = variant_item_id("e1", other["payloadHash"])
    assert outcomes == [("accepted", variant)]
    kept = store.get_queue_item("app1", variant)
    assert kept["conflictOf"] == "e1"
    assert kept["itemData"]["eventData"] == {"n": 2}
    # Sent once more, the variant is a duplicate too.
    outcomes, _ = enqueue(store, "app1", [other])
    assert outcomes == [("duplicate", variant)]


def test_batch_log_is_written_with_the_items_and_a_replay_returns_it(store):
    items = [queue_item("e1", batch_id="b1"), queue_item("e2", batch_id="b1")]

    def make_log(outcomes):
        return batch_log("b1", [{"index": i, "itemId": item_id, "status": status}
                                for i, (status, item_id) in enumerate(outcomes)])

    outcomes, log = enqueue(store, "app1", items, batch_id="b1", make_batch_log=make_log)
    assert [s for s, _ in outcomes] == ["accepted", "accepted"]
    assert log["appId"] == "app1"
    outcomes, stored = enqueue(store, "app1", items, batch_id="b1", make_batch_log=make_log)
    assert outcomes is None
    assert stored["batchId"] == "b1"
    assert [r["status"] for r in stored["results"]] == ["accepted", "accepted"]
    assert store.queue_counts() == {"pending": 2}
    assert [i["itemId"] for i in store.batch_items("app1", "b1")] == ["e1", "e2"]
    assert "itemData" not in store.batch_items("app1", "b1")[0]


def test_items_of_the_same_batch_count_as_accepted_when_its_log_was_lost(store):
    # A crash after the items but before the log: the resend finds its own items.
    enqueue(store, "app1", [queue_item("e1", batch_id="b1")])
    outcomes, _ = enqueue(store, "app1", [queue_item("e1", batch_id="b1")], batch_id="b1",
                          make_batch_log=lambda o: batch_log("b1", []))
    assert outcomes == [("accepted", "e1")]


def test_backlog_limit_refuses_the_whole_call(store):
    enqueue(store, "app1", [queue_item(f"e{i}") for i in range(3)], max_open=3)
    with pytest.raises(BacklogFull) as exc:
        enqueue(store, "app1", [queue_item("e9"), queue_item("x1", user_id="u2")], max_open=3)
    assert exc.value.user_id == "u1"
    assert exc.value.open_items == 3
    assert store.get_queue_item("app1", "x1") is None
    # Duplicates never count against the limit.
    outcomes, _ = enqueue(store, "app1", [queue_item("e0")], max_open=3)
    assert outcomes == [("duplicate", "e0")]


def test_queue_item_round_trips_payload_and_times(store):
    item = queue_item("e1", priority=5)
    enqueue(store, "app1", [item])
    stored = store.get_queue_item("app1", "e1")
    assert stored["itemData"] == item["itemData"].value
    assert stored["priority"] == 5
    assert stored["status"] == "pending"
    assert abs(stored["createdAt"] - item["createdAt"]) < timedelta(milliseconds=1)
    assert stored["createdAt"].utcoffset() == timedelta(0)
    assert store.get_queue_item(None, "e1")["appId"] == "app1"
    assert store.get_queue_item("app2", "e1") is None


def test_first_item_time_and_last_sync_run(store):
    assert store.first_item_time() is None
    assert store.last_sync_run() is None
    enqueue(store, "app1", [queue_item("e1")])
    assert store.first_item_time() is not None


def test_api_keys_are_found_by_hash_and_revoked(store):
    now = utcnow()
    store.create_api_key({"keyId": "k1", "appId": "app1", "name": None, "prefix": "pm_k1",
                          "keyHash": "h1", "scopes": ["ingest"], "createdAt": now,
                          "lastUsedAt": None, "revokedAt": None})
    assert store.find_api_key("h1")["scopes"] == ["ingest"]
    assert store.find_api_key("nope") is None
    with pytest.raises(DuplicateKey):
        store.create_api_key({"keyId": "k2", "appId": "app1", "name": None, "prefix": "pm_k2",
                              "keyHash": "h1", "scopes": ["read"], "createdAt": now,
                              "lastUsedAt": None, "revokedAt": None})
    assert [k["keyId"] for k in store.list_api_keys("app1")] == ["k1"]
    assert store.revoke_api_key("k1", now) is True
    assert store.revoke_api_key("k1", now) is False
    assert store.find_api_key("h1")["revokedAt"] is not None


def test_a_keys_stop_time_can_be_set_ahead_and_brought_forward_but_never_put_back(store):
    now = utcnow()
    store.create_api_key({"keyId": "k1", "appId": "app1", "name": None, "prefix": "pm_k1",
                          "keyHash": "h1", "scopes": ["ingest"], "createdAt": now,
                          "lastUsedAt": None, "revokedAt": None})
    later, much_later = now + timedelta(hours=1), now + timedelta(hours=2)
    assert store.revoke_api_key("k1", later) is True  # a rotation's old key runs out then
    # To the millisecond (MongoDB keeps no finer).
    assert abs(store.find_api_key("h1")["revokedAt"] - later) < timedelta(milliseconds=1)
    assert store.revoke_api_key("k1", much_later) is False  # never later than set
    assert store.revoke_api_key("k1", later) is False
    assert store.revoke_api_key("k1", now) is True  # revoked now, before its time
    assert store.revoke_api_key("k1", now) is False
    assert store.revoke_api_key("nope", now) is False


def test_users_are_unique_and_updatable(store):
    store.create_user({"username": "ada", "passwordHash": "x", "role": "admin",
                       "createdAt": utcnow(), "lastLoginAt": None})
    with pytest.raises(DuplicateKey):
        store.create_user({"username": "ada", "passwordHash": "y", "role": "viewer",
                           "createdAt": utcnow(), "lastLoginAt": None})
    assert store.update_user("ada", {"role": "operator"}) is True
    assert store.get_user("ada")["role"] == "operator"
    assert store.get_user("bob") is None
    assert [u["username"] for u in store.list_users()] == ["ada"]


def test_audit_log_pages_newest_first(store):
    for n in range(5):
        store.add_audit({"at": utcnow(), "actor": "ada", "action": f"a{n}", "target": None,
                         "details": {"n": n}})
    first = store.list_audit(limit=3)
    assert [e["action"] for e in first] == ["a4", "a3", "a2"]
    rest = store.list_audit(limit=3, before_id=first[-1]["id"])
    assert [e["action"] for e in rest] == ["a1", "a0"]
    assert rest[0]["details"] == {"n": 1}


def test_locks_are_exclusive_until_they_expire(store):
    now = utcnow()
    assert store.acquire_lock("sync", "a", now + timedelta(seconds=60), now)
    assert not store.acquire_lock("sync", "b", now + timedelta(seconds=60), now)
    assert store.acquire_lock("sync", "a", now + timedelta(seconds=90), now)  # renewal
    later = now + timedelta(seconds=120)
    assert store.acquire_lock("sync", "b", later + timedelta(seconds=60), later)
    store.release_lock("sync", "a")  # not the owner any more: no effect
    assert store.get_lock("sync")["owner"] == "b"
    store.release_lock("sync", "b")
    assert store.get_lock("sync") is None


def test_uuid7_ids_sort_by_time():
    ids = [uuid7() for _ in range(50)]
    assert len(set(ids)) == 50
    assert all(i[14] == "7" for i in ids)
    assert [i[:13] for i in ids] == sorted(i[:13] for i in ids)


def test_prune_expired_removes_old_done_items_and_logs_only(store):
    old = utcnow() - timedelta(days=40)
    items = [queue_item(f"e{i}") for i in range(4)]
    for item in items[:3]:
        item["createdAt"] = item["updatedAt"] = old
    items[1]["status"] = "done"
    items[2]["status"] = "dead"
    enqueue(store, "app1", items)
    log = batch_log("b-old", [])
    log["startTime"] = old
    enqueue(store, "app1", [queue_item("x1")], batch_id="b-old", make_batch_log=lambda o: log)
    removed = store.prune_expired(utcnow() - timedelta(days=30))
    assert removed["sync_queue"] == 1 and removed["batch_logs"] == 1
    assert store.get_queue_item("app1", "e1") is None  # done and old
    assert store.get_queue_item("app1", "e2")["status"] == "dead"  # kept for operators
    assert store.get_queue_item("app1", "e0") is not None  # pending is never pruned
    assert store.get_batch_log("app1", "b-old") is None
