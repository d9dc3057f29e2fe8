"""The ingest port's operations, on every adapter: what enqueue() builds its rules from."""



from app.ingest.queue import enqueue, variant_item_id
from app.store.common import OPEN_STATES, QUEUE_STATES

from .helpers import batch_log, queue_item


def test_existing_items_sees_stored_and_variant_ids_of_its_app_only(store):
    enqueue(store, "app1", [queue_item("e1", batch_id="b1"), queue_item("e2")])
    other = queue_item("e1", data={"eventId": "e1", "eventType": "x", "eventData": {"n": 2},
                                   "metadata": {}})
    variant = variant_item_id("e1", other["payloadHash"])
    assert store.existing_items("app1", [variant]) == {}
    assert enqueue(store, "app1", [other])[0] == [("accepted", variant)]
    first = queue_item("e1")
    assert store.existing_items("app1", ["e1", variant, "e2", "nope"]) == {
        "e1": ("b1", first["payloadHash"]), variant: (None, other["payloadHash"]),
        "e2": (None, queue_item("e2")["payloadHash"])}
    assert store.existing_items("app2", ["e1", variant]) == {}
    assert store.existing_items("app1", []) == {}


def test_a_variant_sent_again_is_found_under_its_variant_id(store):
    enqueue(store, "app1", [queue_item("e1")])
    other = queue_item("e1", batch_id="b2", data={"eventId": "e1", "eventType": "x",
                                                  "eventData": {"n": 2}, "metadata": {}})
    variant = variant_item_id("e1", other["payloadHash"])
    assert enqueue(store, "app1", [other])[0] == [("accepted", variant)]
    # The backlog is full (e1 and its variant), yet nothing new arrives: its own batch sent
    # again is accepted again, and the same payload from elsewhere is a duplicate.
    assert enqueue(store, "app1", [other], max_open=2)[0] == [("accepted", variant)]
    elsewhere = dict(other, batchId="b3")
    assert enqueue(store, "app1", [elsewhere], max_open=2)[0] == [("duplicate", variant)]
    assert store.queue_counts() == {"pending": 2}


def put(store, items):
    with store.unit_of_work():
        return store.insert_items(store.prepare_items(items))


def test_open_item_counts_counts_each_state_it_is_asked_for(store):
    items = [queue_item(f"{state}-{n}") for state in QUEUE_STATES for n in range(2)]
    for item in items:
        item["status"] = item["itemId"].split("-")[0]
    put(store, [*items, queue_item("u2-a", user_id="u2"), queue_item("x", app_id="app2"),
                queue_item("anon", user_id=None)])
    open_counts = store.open_item_counts("app1", ["u1", "u2", "u3", None], OPEN_STATES)
    assert open_counts == {"u1": 2 * len(OPEN_STATES), "u2": 1, "u3": 0, None: 1}
    for state in QUEUE_STATES:
        assert store.open_item_counts("app1", ["u1"], [state]) == {"u1": 2}
    assert store.open_item_counts("app1", [], OPEN_STATES) == {}
    assert store.open_item_counts("app2", ["u1"], ["pending"]) == {"u1": 1}


def test_insert_items_never_stores_an_id_twice(store):
    assert put(store, [queue_item("a"), queue_item("b")]) == set()
    # Ids already stored (by a writer that got there first) are skipped and named.
    again = queue_item("a", data={"eventId": "a", "eventType": "x", "eventData": {"n": 9},
                                  "metadata": {}})
    assert put(store, [queue_item("c"), again, queue_item("b")]) == {"a", "b"}
    # So is an id given twice in one call.
    assert put(store, [queue_item("d"), queue_item("d")]) == {"d"}
    assert put(store, [queue_item("a", app_id="app2")]) == set()
    assert store.queue_counts(app_id="app1") == {"pending": 4}
    assert store.get_queue_item("app1", "a")["itemData"]["eventData"] == {"n": 1}
    assert sorted(store.existing_items("app1", ["a", "b", "c", "d"])) == ["a", "b", "c", "d"]


def test_insert_batch_log_keeps_the_first_log_of_a_batch(store):
    first = batch_log("b1", [{"index": 0, "itemId": "e1", "status": "accepted"}])
    with store.unit_of_work():
        assert store.insert_batch_log(dict(first, appId="app1")) is True
    with store.unit_of_work():
        assert store.insert_batch_log(dict(batch_log("b1", []), appId="app1")) is False
    assert store.get_batch_log("app1", "b1")["results"] == first["results"]
    assert store.get_batch_log("app2", "b1") is None


def test_a_replayed_batch_answers_accepted_again_and_stores_nothing(store):
    items = [queue_item("e1", batch_id="b1"), queue_item("e2", batch_id="b1")]

    def make_log(outcomes):
        return batch_log("b1", [{"index": n, "itemId": item_id, "status": status}
                                for n, (status, item_id) in enumerate(outcomes)])

    outcomes, log = enqueue(store, "app1", items, batch_id="b1", make_batch_log=make_log,
                            max_open=2)
    assert outcomes == [("accepted", "e1"), ("accepted", "e2")]
    # At the backlog limit, a replay still answers: it stores nothing.
    outcomes, stored = enqueue(store, "app1", items, batch_id="b1", make_batch_log=make_log,
                               max_open=2)
    assert outcomes is None
    assert [r["status"] for r in stored["results"]] == ["accepted", "accepted"]
    assert stored["results"] == log["results"]
    # Its items sent again without the log (a crash lost it) are its own: accepted again.
    outcomes, _ = enqueue(store, "app1", items, max_open=2)
    assert outcomes == [("accepted", "e1"), ("accepted", "e2")]
    assert store.queue_counts() == {"pending": 2}
