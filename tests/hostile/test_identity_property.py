"""A property test of the identity verbs over what their validators accept, on both stores.

Each example is a batch of identify, alias, group, page, screen and event items about a few
people: user ids and anonymous ids of any text the validators take (1-256 characters of all of
Unicode, NUL included), traits of any storable JSON (keys by the stored-key rule, nested), page
names at and near their limit. Every item is accepted; once synced, nothing is left failed or
dead, every user named is readable on GET /api/telemetry/people?userId=, every trait read back is
a value that was sent for that trait, every anonymous id a profile lists was linked to it, and
the events counted on profiles and on the visitors' rows add up to the events sent.
"""

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from app.accounts.keys import create_key
from app.schemas.storable import KEY_PATTERN
from app.schemas.telemetry import UserId
from app.sync.engine import run_sync

UNICODE = st.characters(codec="utf-8")
IDS = st.text(UNICODE, min_size=UserId.min, max_size=UserId.max)
KEYS = st.from_regex(KEY_PATTERN, fullmatch=True).filter(lambda k: len(k) < 40)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(UNICODE,
                                                                             max_size=30))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=3)), max_leaves=6)
# A few shared names, so that calls write the same traits, and any other storable key.
TRAITS = st.dictionaries(st.sampled_from(["plan", "name", "n"]) | KEYS, VALUES, max_size=4)
NAMES = st.text(UNICODE.filter(lambda c: c != "\x00"), max_size=1000)


@st.composite
def examples(draw):
    ids = draw(st.lists(IDS, min_size=4, max_size=4, unique=True))
    users, visitors = ids[:2], ids[2:]
    who = st.one_of(
        st.builds(lambda u: {"userId": u}, st.sampled_from(users)),
        st.builds(lambda a: {"anonymousId": a}, st.sampled_from(visitors)),
        st.builds(lambda u, a: {"userId": u, "anonymousId": a}, st.sampled_from(users),
                  st.sampled_from(visitors)))
    item = st.one_of(
        st.builds(lambda w, t, o: {"itemType": "identify", **w, "traits": t, "traitsOnce": o},
                  who, TRAITS, TRAITS),
        st.builds(lambda p, u: {"itemType": "alias", "previousId": p, "userId": u},
                  st.sampled_from(visitors), st.sampled_from(users)),
        st.builds(lambda w, g, t: {"itemType": "group", **w, "groupId": g, "traits": t},
                  who, IDS, TRAITS),
        st.builds(lambda kind, w, n, p: {"itemType": kind, **w, "name": n, "properties": p},
                  st.sampled_from(["page", "screen"]), who, NAMES, TRAITS),
        st.builds(lambda w, d: {"itemType": "event", **w, "eventType": "opened",
                                "eventData": d}, who, TRAITS))
    items = draw(st.lists(item, min_size=1, max_size=8))
    for n, one in enumerate(items):
        one["eventId"] = f"i{n}"
    return users, visitors, items


def read_person(client, headers, user_id):
    answer = client.get("/api/telemetry/people", query_string={"userId": user_id},
                        headers=headers)
    assert answer.status_code in (200, 404), answer.get_data(as_text=True)
    return answer.get_json() if answer.status_code == 200 else None


@pytest.mark.filterwarnings("ignore:Generating overly large repr")
def test_what_the_verbs_accept_syncs_into_readable_people(app, client, store):
    @settings(max_examples=20, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(examples())
    def check(example):
        users, visitors, items = example
        store.reset()
        raw, _doc = create_key(store, "testapp", ["ingest", "read"])
        headers = {"Authorization": f"Bearer {raw}"}
        note(repr(items))
        answer = client.post("/api/telemetry/batch", headers=headers,
                             json={"batchId": "b1", "items": items})
        assert answer.status_code == 202, answer.get_json()
        assert answer.get_json()["accepted"] == len(items), answer.get_json()
        run_sync(store, app.config, source="manual")
        assert set(store.queue_counts(app_id="testapp")) == {"done"}

        sent_traits, linked = {}, {u: set() for u in users}
        for one in items:
            for sent in (one.get("traits", {}), one.get("traitsOnce", {})):
                for key, value in sent.items():
                    sent_traits.setdefault(key, []).append(value)
            if one["itemType"] == "alias":
                linked[one["userId"]].add(one["previousId"])
            elif one.get("userId") is not None and one.get("anonymousId") is not None:
                linked[one["userId"]].add(one["anonymousId"])
        counted = 0
        named = {one["userId"] for one in items if one.get("userId") is not None}
        for user_id in users:
            person = read_person(client, headers, user_id)
            if user_id in named:
                assert person is not None, user_id
            if person is None:
                continue
            assert person["userId"] == user_id
            assert set(person["anonymousIds"]) <= linked[user_id]
            if not any(one["itemType"] == "group" for one in items):
                assert person["groups"] == []
            for key, value in person["traits"].items():
                assert value in sent_traits[key], key
            counted += person["eventCount"]
        rows = store.get_identities("testapp", visitors)
        counted += sum(row["eventCount"] for row in rows.values() if row["userId"] is None)
        events = sum(1 for one in items if one["itemType"] in ("page", "screen", "event"))
        assert counted == events

    check()
