"""The people port's operations, on every adapter: profiles, identity-map rows and groups saved
whole and read back by id within their app, event activity grouped from telemetry, and counts
added in one write."""

from datetime import UTC, datetime, timedelta

from app.sync.people import new_group, new_identity, new_person

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def at(minutes):
    return T0 + timedelta(minutes=minutes)


def person(user_id="u1", app_id="app1", **fields):
    return {**new_person(app_id, user_id), **fields}


def strip(doc):
    return {k: v for k, v in doc.items() if k not in ("id", "_id", "updatedAt")}


def test_a_profile_is_saved_whole_and_read_back_within_its_app(store):
    full = person(traits={"plan": "pro", "nested": {"a": [1, None, "x"]}},
                  traitTimes={"plan": at(1).isoformat()}, anonymousIds=["a1", "a2"],
                  groups=["acme"], firstSeen=at(1), lastSeen=at(5), eventCount=7)
    with store.unit_of_work():
        store.save_person(full)
        store.save_person(person("u2"))
        store.save_person(person("u1", app_id="app2", eventCount=1))
    found = store.get_people("app1", ["u1", "u2", "nobody", "u1"])
    assert sorted(found) == ["u1", "u2"]
    assert strip(found["u1"]) == full
    assert strip(found["u2"]) == person("u2")
    assert store.get_people("app1", []) == {}
    assert store.get_people("app2", ["u1"])["u1"]["eventCount"] == 1
    # Saved again: replaced, not added to.
    with store.unit_of_work():
        store.save_person(person(traits={"plan": "free"}, eventCount=8, firstSeen=at(0),
                                 lastSeen=at(6)))
    again = store.get_people("app1", ["u1"])["u1"]
    assert (again["traits"], again["anonymousIds"], again["eventCount"]) == (
        {"plan": "free"}, [], 8)
    with store.unit_of_work():
        store.delete_person("app1", "u1")
    assert store.get_people("app1", ["u1", "u2"]).keys() == {"u2"}
    assert store.get_people("app2", ["u1"]).keys() == {"u1"}


def test_identity_rows_and_groups_are_saved_whole_by_their_ids(store):
    row = {**new_identity("app1", "a1"), "traits": {"x": 1}, "groups": ["g"],
           "firstSeen": at(1), "lastSeen": at(2), "eventCount": 2}
    with store.unit_of_work():
        store.save_identity(row)
        store.save_identity(new_identity("app2", "a1"))
        store.save_group({**new_group("app1", "g"), "traits": {"seats": 5}})
    assert strip(store.get_identities("app1", ["a1", "a9"])["a1"]) == row
    with store.unit_of_work():
        store.save_identity({**row, "userId": "u1", "eventCount": 0})
    linked = store.get_identities("app1", ["a1"])["a1"]
    assert (linked["userId"], linked["eventCount"]) == ("u1", 0)
    assert store.get_identities("app2", ["a1"])["a1"]["userId"] is None
    assert store.get_group("app1", "g")["traits"] == {"seats": 5}
    assert store.get_group("app2", "g") is None
    assert store.get_group("app1", "nope") is None


def test_add_activity_adds_counts_and_widens_first_and_last_seen(store):
    with store.unit_of_work():
        store.save_person(person(traits={"kept": True}))
        store.add_activity([
            {"appId": "app1", "kind": "person", "id": "u1", "count": 3, "firstSeen": at(5),
             "lastSeen": at(9), "updatedAt": at(10)},
            {"appId": "app1", "kind": "person", "id": "new", "count": 1, "firstSeen": at(2),
             "lastSeen": at(2), "updatedAt": at(10)},
            {"appId": "app1", "kind": "identity", "id": "a1", "count": 2, "firstSeen": at(1),
             "lastSeen": at(3), "updatedAt": at(10)},
        ])
        store.add_activity([
            {"appId": "app1", "kind": "person", "id": "u1", "count": 2, "firstSeen": at(4),
             "lastSeen": at(6), "updatedAt": at(11)},
            {"appId": "app1", "kind": "identity", "id": "a1", "count": 1, "firstSeen": at(7),
             "lastSeen": at(8), "updatedAt": at(11)},
        ])
    u1 = store.get_people("app1", ["u1"])["u1"]
    assert (u1["eventCount"], u1["firstSeen"], u1["lastSeen"]) == (5, at(4), at(9))
    assert u1["traits"] == {"kept": True}  # a count leaves the rest as it was
    new = store.get_people("app1", ["new"])["new"]
    assert strip(new) == person("new", eventCount=1, firstSeen=at(2), lastSeen=at(2))
    a1 = store.get_identities("app1", ["a1"])["a1"]
    assert strip(a1) == {**new_identity("app1", "a1"), "eventCount": 3, "firstSeen": at(1),
                         "lastSeen": at(8)}
    with store.unit_of_work():
        store.add_activity([])


def telemetry(event_id, user_id, anonymous_id, minutes, app_id="app1"):
    return {"appId": app_id, "eventId": event_id, "userId": user_id,
            "anonymousId": anonymous_id, "eventType": "x", "eventData": {}, "status": "applied",
            "metadata": {}, "payloadHash": event_id, "timestamp": at(minutes),
            "createdAt": at(minutes)}


def test_event_activity_groups_the_named_events_by_their_ids(store):
    with store.unit_of_work():
        store.insert_events([
            telemetry("e1", "u1", None, 3), telemetry("e2", "u1", None, 1),
            telemetry("e3", "a1", "a1", 2), telemetry("e4", "u1", "a1", 4),
            telemetry("e5", "u1", None, 0), telemetry("e1", "u1", None, 9, app_id="app2")])
    groups = store.event_activity("app1", ["e1", "e2", "e3", "e4", "nope"])
    assert sorted((g["userId"], g["anonymousId"] or "", g["count"], g["firstSeen"],
                   g["lastSeen"]) for g in groups) == [
        ("a1", "a1", 1, at(2), at(2)), ("u1", "", 2, at(1), at(3)),
        ("u1", "a1", 1, at(4), at(4))]
    assert store.event_activity("app1", []) == []
    assert store.get_event("app1", "e3")["anonymousId"] == "a1"
    assert store.get_event("app1", "e1")["anonymousId"] is None
