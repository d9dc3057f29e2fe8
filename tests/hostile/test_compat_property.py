"""Properties of the Segment- and PostHog-compatible endpoints over anything their libraries (or
a careless client) might send, on both stores.

Each example is one request of messages drawn wide: ids of any text or a number, names of any
Unicode, properties and traits of any JSON with keys of any text (`$` first, dots, NUL, astral
characters), integers past 64 bits, nesting past the store's limit, times good and bad, and
messages that are not objects at all. Whatever is sent:
- the answer is 200, or a 400 the protocol gives a request none of whose messages is valid,
  never a 5xx;
- every message is accounted for: queued, or refused and logged with a reason;
- everything queued syncs, with nothing left failed or dead, and every event is readable in
  telemetry;
- the same request sent again stores nothing new.
"""

import base64
import json

import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from app.accounts.keys import create_key
from app.store.common import uuid7
from app.sync.engine import run_sync

UNICODE = st.characters(codec="utf-8")


def mostly(good, bad):
    """Four draws in five from `good` (what a library sends), the rest from `bad` (what a
    careless client or an attacker might)."""
    return st.integers(0, 4).flatmap(lambda n: good if n else bad)


TEXT = st.text(UNICODE, max_size=20)
ANY_KEY = st.one_of(TEXT, st.sampled_from(["$set", "$lib", "a.b", "$", ".", "\x00", "𝄞.$",
                                           "x" * 300]))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                    st.floats(allow_nan=False, allow_infinity=False), TEXT)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(ANY_KEY, inner, max_size=3)), max_leaves=8)
DEEP = st.integers(30, 40).map(lambda depth: _nest(depth))
GOOD_PROPERTIES = st.dictionaries(ANY_KEY, VALUES, max_size=4)
PROPERTIES = mostly(GOOD_PROPERTIES, st.one_of(st.builds(lambda d: {"deep": d}, DEEP), VALUES))
IDS = mostly(st.text(UNICODE, min_size=1, max_size=40), st.one_of(
    st.integers(-(2**70), 2**70), st.none(),
    st.sampled_from(["", "a" * 128, "a" * 129, "a" * 256, "a" * 257, "é/ü?#"])))
NAMES = st.text(UNICODE.filter(lambda c: c != "\x00"), min_size=1, max_size=30)
GOOD_TIME = st.sampled_from([
    "2026-12-03T10:00:00Z", "2026-12-03T10:00:00.123456+05:30", "0001-01-01T14:00:00+14:00",
    "9999-12-31T11:59:59-12:00", "2026-12-03T10:00:00.000Z"])
TIMES = mostly(st.one_of(GOOD_TIME, st.none()), st.one_of(st.sampled_from([
    "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "2026-02-29T00:00:00Z",
    "yesterday", "", "2026-12-03"]), st.integers(), TEXT))


def _nest(depth):
    value = 1
    for _ in range(depth):
        value = {"d": value}
    return value


def _segment_message(kind, who, props, event, when, message_id):
    message = {"type": kind, "messageId": message_id, "timestamp": when, **who}
    if kind == "track":
        message.update(event=event, properties=props)
    elif kind in ("page", "screen"):
        message.update(name=event, properties=props)
    elif kind == "identify":
        message["traits"] = props
    elif kind == "group":
        message.update(groupId=event, traits=props)
    elif kind == "alias":
        message["previousId"] = event
    return message


WHO = st.one_of(st.fixed_dictionaries({"userId": IDS}), st.fixed_dictionaries(
    {"anonymousId": IDS}), st.fixed_dictionaries({"userId": IDS, "anonymousId": IDS}),
    st.just({}))
MESSAGE_IDS = mostly(st.builds(uuid7), IDS)
SEGMENT_SHAPED = st.builds(
    _segment_message,
    st.sampled_from(["track", "track", "identify", "page", "screen", "group", "alias",
                     "unknown"]),
    WHO, PROPERTIES, mostly(NAMES, st.one_of(TEXT, IDS)), TIMES, MESSAGE_IDS)
SEGMENT_MESSAGE = mostly(SEGMENT_SHAPED, st.one_of(SCALARS, st.lists(SCALARS, max_size=2)))
POSTHOG_SHAPED = st.builds(
    lambda event, distinct_id, props, when, uuid: {
        "event": event, "distinct_id": distinct_id, "properties": props, "timestamp": when,
        "uuid": uuid},
    st.one_of(st.sampled_from(["$pageview", "$identify", "$create_alias", "$set",
                               "$groupidentify", "$screen", "clicked"]), NAMES, TEXT, IDS),
    IDS, PROPERTIES, TIMES, MESSAGE_IDS)
POSTHOG_MESSAGE = mostly(POSTHOG_SHAPED, st.one_of(SCALARS, st.lists(SCALARS, max_size=2)))


def segment_request(key, messages):
    basic = base64.b64encode(f"{key}:".encode()).decode()
    return "/v1/batch", {"batch": messages}, {"Authorization": f"Basic {basic}"}


def posthog_request(key, messages):
    return "/batch/", {"api_key": key, "batch": messages}, {}


def accounted(store):
    """(queue items, items refused at ingest) of every protocol."""
    return sum(store.queue_counts(app_id="testapp").values()), sum(
        store.rejected_counts().values())


@pytest.mark.filterwarnings("ignore:Generating overly large repr")
@pytest.mark.parametrize("protocol, messages, request_for", [
    ("segment", SEGMENT_MESSAGE, segment_request),
    ("posthog", POSTHOG_MESSAGE, posthog_request),
])
def test_whatever_a_library_sends_is_answered_accounted_for_and_processable(
        app, client, store, protocol, messages, request_for):
    @settings(max_examples=25, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow, HealthCheck.data_too_large])
    # One id per message of a request, as every library sends (an id sent twice with other
    # content is a conflict by design; tests/api covers that).
    @given(st.lists(messages, min_size=1, max_size=6, unique_by=lambda m: repr(
        m.get("messageId", m.get("uuid")) if isinstance(m, dict) else m)))
    def check(sent):
        store.reset()
        raw, _doc = create_key(store, "testapp", ["ingest", "read"])
        path, body, headers = request_for(raw, sent)
        note(json.dumps(body, default=repr)[:2000])
        answer = client.post(path, data=json.dumps(body), headers={
            **headers, "Content-Type": "application/json"})
        assert answer.status_code in (200, 400), answer.get_data(as_text=True)
        queued, refused = accounted(store)
        event(f"answered {answer.status_code}; something queued: {queued > 0}; "
              f"something refused: {refused > 0}")
        if answer.status_code == 400:
            assert queued == 0
        # Every message is queued or refused with its reason; a PostHog event that carries
        # $set or $set_once is also an identify item.
        assert len(sent) <= queued + refused <= 2 * len(sent)
        run_sync(store, app.config, source="manual")
        states = store.queue_counts(app_id="testapp")
        assert set(states) <= {"done"}, states
        events = sum(row["count"] for row in store.event_type_counts())
        stored_events = store.count_queue({"appId": "testapp", "itemType": "event"})
        assert events == stored_events
        again = client.post(path, data=json.dumps(body), headers={
            **headers, "Content-Type": "application/json"})
        assert again.status_code == answer.status_code
        assert accounted(store)[0] == queued

    check()
