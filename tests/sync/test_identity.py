"""Identity items in the sync engine, on both stores: a record edit of itemType identify, alias
or group queued before those were verbs still applies as a record edit; an identity item that
lacks its ids can never apply (dead), and does not stop the others."""

import pytest

from app.ingest.queue import enqueue
from app.ingest.validate import Envelope, IngestRules, item_document
from app.store.common import utcnow
from app.store.port.sync import ApplyNewEvents

from .helpers import sync

# An earlier release queued any itemType but "event" as a record edit, always with a recordId.
EARLIER_RELEASE = IngestRules(legacy_record_type_apps=frozenset({"*"}))


def queued_earlier(store, item_type, item_id, base_version=0, **data):
    raw = {"itemType": item_type, "itemId": item_id, "recordId": f"rec-{item_type}",
           "baseVersion": base_version, "data": data}
    envelope = Envelope(app_id="testapp", received_at=utcnow(), user_id="u1")
    doc = item_document(raw, 0, envelope, EARLIER_RELEASE)
    assert doc["recordId"] == f"rec-{item_type}"
    enqueue(store, "testapp", [doc])


@pytest.mark.parametrize("item_type", ["identify", "alias", "group", "page", "screen"])
def test_a_record_item_of_a_verbs_type_queued_before_still_edits_its_record(app, store,
                                                                            item_type):
    queued_earlier(store, item_type, "r1", theme="dark")
    queued_earlier(store, item_type, "r2", base_version=1, theme="light", size=2)
    sync(app, store)
    record = store.get_record("testapp", item_type, f"rec-{item_type}")
    assert (record["version"], record["data"]) == (2, {"theme": "light", "size": 2})
    assert store.queue_counts(app_id="testapp") == {"done": 2}
    assert store.get_people("testapp", ["u1"]) == {}


def test_an_identity_item_without_its_ids_is_dead_and_the_others_apply(app, store):
    envelope = Envelope(app_id="testapp", received_at=utcnow(), user_id="u1")
    good = item_document({"itemType": "identify", "eventId": "good", "traits": {"a": 1}}, 0,
                         envelope, IngestRules())
    broken = item_document({"itemType": "group", "eventId": "broken", "groupId": "g"}, 1,
                           envelope, IngestRules())
    broken["itemData"] = broken["itemData"].value | {"groupId": None}
    enqueue(store, "testapp", [good, broken])
    sync(app, store)
    assert store.get_queue_item("testapp", "good")["status"] == "done"
    dead = store.get_queue_item("testapp", "broken")
    assert dead["status"] == "dead" and "lacks the ids" in dead["lastError"]
    assert store.get_people("testapp", ["u1"])["u1"]["traits"] == {"a": 1}


def test_identity_items_never_take_the_fast_path(app, store):
    envelope = Envelope(app_id="testapp", received_at=utcnow(), user_id="u1")
    doc = item_document({"itemType": "identify", "eventId": "i1", "traits": {"a": 1}}, 0,
                        envelope, IngestRules())
    enqueue(store, "testapp", [doc])
    fast = store.capability(ApplyNewEvents)
    if fast is not None:
        with store.unit_of_work(durable=False):
            assert fast(utcnow(), 10) is None
    sync(app, store)
    assert store.get_people("testapp", ["u1"])["u1"]["traits"] == {"a": 1}
