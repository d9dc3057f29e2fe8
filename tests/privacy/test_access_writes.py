"""The sync engine names the person on what it writes: conflicts and record versions carry their
queue item's userId (store step 5), so a person's export and erasure find them."""

from tests.sync.helpers import edit, event, send, sync


def test_conflicts_and_record_versions_carry_their_queue_items_user(client, auth, store, app):
    send(client, auth, [edit("a1", "r1", 0, {"title": "ann's"})], user_id="ann")
    sync(app, store)
    # bob edits ann's note at version 1 (it applies), then again from a stale base (a manual
    # conflict); carol resends one of ann's eventIds with another payload (an event conflict).
    send(client, auth, [edit("b1", "r1", 1, {"title": "bob's"})], user_id="bob")
    sync(app, store)
    send(client, auth, [edit("b2", "r1", 1, {"title": "bob again"}, conflictResolution="manual")],
         user_id="bob")
    send(client, auth, [event("e1", eventData={"questionId": "q1", "n": 1})], user_id="ann")
    sync(app, store)
    send(client, auth, [event("e1", eventData={"questionId": "q1", "n": 2})], user_id="carol")
    sync(app, store)

    versions = [store.get_record_version("testapp", "note", "r1", v) for v in (1, 2)]
    assert [(v["itemId"], v["userId"]) for v in versions] == [("a1", "ann"), ("b1", "bob")]
    conflicts = {c["kind"]: c for c in store.list_conflicts("testapp")}
    assert conflicts["record"]["itemId"] == "b2" and conflicts["record"]["userId"] == "bob"
    assert conflicts["event"]["recordId"] == "e1" and conflicts["event"]["userId"] == "carol"
