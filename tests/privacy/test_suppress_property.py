"""A property of suppression at ingest, on both stores: for any item ingest accepts (events,
record edits, each identity verb; ids of any text the validators take, 1-256 characters of all
of Unicode, NUL included; through the batch or its single endpoint), suppressing any person the
item names makes it `suppressed` and stores nothing of it, while another person's item beside it
is accepted; lifting the suppression makes the same item accepted again.
"""

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from app.accounts.keys import create_key
from app.accounts.privacy import person_hash
from app.schemas.telemetry import UserId
from app.store.common import utcnow

APP = "testapp"
UNICODE = st.characters(codec="utf-8")
IDS = st.text(UNICODE, min_size=UserId.min, max_size=UserId.max)
DATA = st.dictionaries(st.sampled_from(["plan", "n", "name"]),
                       st.one_of(st.integers(-1000, 1000), st.text(UNICODE, max_size=20)),
                       max_size=3)


@st.composite
def examples(draw):
    """(item, the people it names, whether to send it alone through its single endpoint)."""
    user, visitor, other = draw(st.lists(IDS, min_size=3, max_size=3, unique=True))
    who = draw(st.sampled_from(["user", "visitor", "both"]))
    named = {"user": {"userId": user}, "visitor": {"anonymousId": visitor},
             "both": {"userId": user, "anonymousId": visitor}}[who]
    kind = draw(st.sampled_from(["event", "record", "identify", "alias", "group", "page",
                                 "screen"]))
    if kind == "event":
        item = {"itemType": "event", **named, "eventType": "opened", "eventData": draw(DATA)}
    elif kind == "record":
        item = {"itemType": "notes", "userId": user, "recordId": "note-1", "baseVersion": 0,
                "data": draw(DATA)}
    elif kind == "identify":
        item = {"itemType": "identify", **named, "traits": draw(DATA)}
    elif kind == "alias":
        item = {"itemType": "alias", "userId": user, "previousId": visitor}
    elif kind == "group":
        item = {"itemType": "group", **named, "groupId": draw(IDS), "traits": draw(DATA)}
    else:
        item = {"itemType": kind, **named, "name": draw(st.text(UNICODE, max_size=40))}
    people = {value for key, value in item.items()
              if key in ("userId", "anonymousId", "previousId")}
    single = kind != "record" and draw(st.booleans())
    return item, sorted(people), other, single


def send(client, headers, item, batch_id, other, single):
    """The item's answer (and, in a batch, that of another person's item beside it)."""
    if single:
        kind = item["itemType"]
        path = "/api/telemetry/track" if kind == "event" else f"/api/telemetry/{kind}"
        body = {k: v for k, v in item.items() if k != "itemType"}
        answer = client.post(path, json=body, headers=headers)
        assert answer.status_code == 202, answer.get_json()
        return answer.get_json()["status"], None
    beside = {"itemType": "event", "eventId": f"{batch_id}-other", "userId": other,
              "eventType": "opened", "eventData": {}}
    answer = client.post("/api/telemetry/batch", headers=headers,
                         json={"batchId": batch_id, "items": [item, beside]})
    assert answer.status_code == 202, answer.get_json()
    first, second = answer.get_json()["results"]
    return first["status"], second["status"]


@pytest.mark.filterwarnings("ignore:Generating overly large repr")
def test_suppressing_any_person_of_an_accepted_item_suppresses_it_and_lifting_restores_it(
        app, client, store):
    @settings(max_examples=25, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(examples(), st.data())
    def check(example, data):
        item, people, other, single = example
        store.reset()
        raw, _doc = create_key(store, APP, ["ingest", "read"])
        headers = {"Authorization": f"Bearer {raw}"}
        person = data.draw(st.sampled_from(people))
        note(repr((item, person, single)))
        subject = person_hash(app.config, APP, person)

        store.add_suppression(APP, subject, utcnow())
        item = dict(item, **{"eventId" if "recordId" not in item else "itemId": "item-1"})
        status, beside = send(client, headers, item, "b1", other, single)
        assert status == "suppressed"
        assert beside in (None, "accepted")
        assert store.existing_items(APP, ["item-1"]) == {}

        assert store.lift_suppression(APP, subject) is True
        status, beside = send(client, headers, item, "b2", other, single)
        assert status == "accepted"
        assert set(store.existing_items(APP, ["item-1"])) == {"item-1"}

    check()
