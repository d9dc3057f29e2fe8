"""Two people of one app made through the batch API and the sync engine, for the access tests.

ann visited first as the anonymous "anon-1", then an identify linked that id to her; bob is
another person of the same app. Each has events (ann's anonymous ones too), record edits (a
version, an applied edit and a manual conflict), an event sent twice with two payloads (an
event conflict), batch logs, and one item still pending in the queue
(leave_pending, once every sync run is over). Every value of ann's
holds ANN_MARK, every value of bob's BOB_MARK.
"""

import uuid

from tests.sync.helpers import sync

BATCH = "/api/telemetry/batch"
APP = "testapp"
ANN_MARK = "ann-mark-7c1"
BOB_MARK = "bob-mark-4f9"


def at(day, minute):
    return f"2026-11-{day:02d}T10:{minute:02d}:00Z"


def event(event_id, mark, day, minute, **extra):
    return {"itemType": "event", "eventId": event_id, "eventType": "lesson_viewed",
            "eventData": {"mark": mark, **extra},
            "metadata": {"clientTimestamp": at(day, minute)}}


def edit(item_id, record_id, base_version, mark, **extra):
    return {"itemType": "user_settings", "itemId": item_id, "recordId": record_id,
            "baseVersion": base_version, "data": {"theme": mark, **extra},
            "clientTimestamp": at(20, 0)}


def post(client, auth, items, **envelope):
    body = {"batchId": f"b-{uuid.uuid4().hex}", "items": items, **envelope}
    answer = client.post(BATCH, json=body, headers=auth)
    assert answer.status_code == 202, answer.get_json()
    assert answer.get_json()["rejected"] == 0, answer.get_json()
    return body["batchId"]


def make_person(client, auth, app, store, user_id, mark, anonymous_id=None, events=3, day=1):
    """A person's rows as described above; returns what was sent: {batches, events, items}."""
    sent = {"batches": [], "events": [], "items": []}

    def send(items, **envelope):
        batch_id = post(client, auth, items, **envelope)
        if "userId" in envelope:  # a batch log names the batch's userId only
            sent["batches"].append(batch_id)
        sent["items"] += [i.get("itemId") or i["eventId"] for i in items]

    tag = uuid.uuid4().hex[:6]
    if anonymous_id is not None:
        seen = [event(f"{tag}-anon-{n}", mark, day, n) for n in range(2)]
        send(seen, anonymousId=anonymous_id)
        sent["events"] += [e["eventId"] for e in seen]
        send([{"itemType": "identify", "eventId": f"{tag}-identify", "userId": user_id,
               "anonymousId": anonymous_id, "traits": {"mark": mark}}], userId=user_id)
        sync(app, store)
    own = [event(f"{tag}-e{n}", mark, day + 1, n) for n in range(events)]
    send(own, userId=user_id)
    sent["events"] += [e["eventId"] for e in own]
    record = f"settings-{tag}"
    send([edit(f"{tag}-r1", record, 0, mark)], userId=user_id)
    sync(app, store)
    send([edit(f"{tag}-r2", record, 1, mark, size=2)], userId=user_id)
    sync(app, store)
    send([edit(f"{tag}-r3", record, 1, mark, size=3) | {"conflictResolution": "manual"}],
         userId=user_id)
    # The same eventId again with another payload: an event conflict.
    send([event(own[0]["eventId"], mark, day + 1, 0, again=True)], userId=user_id)
    sync(app, store)
    return dict(sent, record=record, tag=tag, user_id=user_id, mark=mark, day=day)


def leave_pending(client, auth, person):
    """One more item of the person's, left in the queue (no sync run after it)."""
    item = event(f"{person['tag']}-pending", person["mark"], person["day"] + 2, 0)
    person["batches"].append(post(client, auth, [item], userId=person["user_id"]))
    person["items"].append(item["eventId"])
