"""A person with data in every table, another person beside them, and a search of every table
and collection of the store for what must be gone."""

import json
import uuid

from app.store.common import utcnow, uuid7
from tests.stored import put_in_state
from tests.sync.helpers import sync

BATCH = "/api/telemetry/batch"


def post(client, auth, items, sent=None, **envelope):
    body = {"batchId": f"b-{uuid.uuid4().hex}", "items": items, **envelope}
    if sent is not None:
        sent["batch"].append(body["batchId"])
        sent["event"] += [i["eventId"] for i in items if "eventId" in i]
        sent["item"] += [i["itemId"] for i in items if "itemId" in i]
    answer = client.post(BATCH, json=body, headers=auth)
    assert answer.status_code == 202, answer.json
    assert answer.json["rejected"] == 0, answer.json
    return answer.json


def populate(client, auth, store, app, user_id, anonymous_id, marker, record_id):
    """Events (anonymous ones linked by identify), record edits with versions and a manual
    conflict, failed and dead queue items, batch logs and an audit entry copying a payload, all
    of `user_id` and carrying `marker`. Returns the batchIds, eventIds and itemIds sent, by
    kind."""
    payload = {"note": marker}
    sent = {"batch": [], "event": [], "item": []}

    def send(items, **envelope):
        post(client, auth, items, sent, **envelope)

    send([{"eventId": uuid7(), "eventType": "opened", "eventData": payload,
           "anonymousId": anonymous_id}])
    send([{"itemType": "identify", "eventId": uuid7(), "userId": user_id,
           "anonymousId": anonymous_id, "traits": {"bio": marker}}])
    send([{"eventId": uuid7(), "eventType": "answered", "eventData": payload},
          {"itemType": "note", "itemId": uuid7(), "recordId": record_id, "baseVersion": 0,
           "data": {"title": marker}}], userId=user_id)
    sync(app, store)
    send([{"itemType": "note", "itemId": uuid7(), "recordId": record_id, "baseVersion": 1,
           "data": {"title": f"server {marker}"}}], userId=user_id)
    sync(app, store)
    send([{"itemType": "note", "itemId": uuid7(), "recordId": record_id, "baseVersion": 1,
           "data": {"title": f"client {marker}"}, "conflictResolution": "manual"}],
         userId=user_id)
    sync(app, store)
    failed, dead = uuid7(), uuid7()
    send([{"eventId": failed, "eventType": "answered", "eventData": payload},
          {"eventId": dead, "eventType": "answered", "eventData": payload}], userId=user_id)
    put_in_state(store, failed, "failed", error=f"could not store {marker}")
    put_in_state(store, dead, "dead", error=f"gave up on {marker}")
    store.add_audit({"at": utcnow(), "actor": "ops", "action": "queue.retry",
                     "target": f"item:{failed}",
                     "details": {"appId": "testapp", "previousStatus": "failed",
                                 "lastError": f"could not store {marker}"}})
    store.add_audit({"at": utcnow(), "actor": "ops", "action": "queue.bulk_retry",
                     "target": f"status failed, user {user_id}",
                     "details": {"count": 1}})
    assert store.list_conflicts("testapp", status="open")
    return sent


def _rows(store):
    """{table or collection: [row as JSON text]} of the whole store, every table enumerated."""
    found = {}
    if store.kind == "sqlite":
        with store._reading() as conn:
            tables = [r["name"] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                cur = conn.execute(f"SELECT * FROM {table}")
                cur.row_factory = None
                found[table] = [json.dumps(row, default=str, ensure_ascii=False)
                                for row in cur.fetchall()]
    else:
        for name in store.db.list_collection_names():
            found[name] = [json.dumps(doc, default=str, ensure_ascii=False)
                           for doc in store.db[name].find()]
    return found


def search(store, *needles):
    """{table: [rows]} of the rows holding any of the needles, anywhere in them."""
    hits = {}
    for table, rows in _rows(store).items():
        matching = [row for row in rows if any(needle in row for needle in needles)]
        if matching:
            hits[table] = matching
    return hits


def escaped(value):
    """`value` as JSON text would hold it (the search reads rows as JSON)."""
    return json.dumps(value, ensure_ascii=False)[1:-1]
