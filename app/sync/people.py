"""People: profiles, the identity map and groups, as the sync engine keeps them.

A profile is one per (app, userId): traits (the latest write of each trait wins, by the item's
skew-corrected time, each trait's time kept in traitTimes), the anonymous ids linked to it, its
groups, and the first and last time and number of its events. An anonymous visitor has an
identity-map row (app, anonymousId) holding what it accumulated before it was linked (the same
counts, times, traits and groups) and, once linked, the userId it belongs to.

Linking (an identify naming both ids, or an alias) moves the visitor's row into the profile and
marks it linked; later events of that anonymousId count on the profile. Stored events are never
rewritten: a person's events are those of its userId and of its anonymousIds, resolved when they
are read.
"""

from ..schemas.people import profile_view
from .documents import parse_time

# An alias whose previousId has a profile and whose userId has none is read the other way round:
# the libraries send their alias calls in either direction.


def new_person(app_id, user_id):
    return {"appId": app_id, "userId": user_id, "traits": {}, "traitTimes": {},
            "anonymousIds": [], "groups": [], "firstSeen": None, "lastSeen": None,
            "eventCount": 0}


def new_identity(app_id, anonymous_id):
    return {"appId": app_id, "anonymousId": anonymous_id, "userId": None, "traits": {},
            "traitTimes": {}, "groups": [], "firstSeen": None, "lastSeen": None,
            "eventCount": 0}


def new_group(app_id, group_id):
    return {"appId": app_id, "groupId": group_id, "traits": {}, "traitTimes": {}}


def _earlier(a, b):
    return b if a is None else a if b is None else min(a, b)


def _later(a, b):
    return b if a is None else a if b is None else max(a, b)


def set_traits(doc, traits, at, once=False):
    """Write `traits` into doc (a profile, identity row or group) as of time `at`: each trait
    where its stored time is not later (ties go to the later write), or with `once` only where
    the trait has no value yet."""
    stamp = at.isoformat()
    kept, times = doc.setdefault("traits", {}), doc.setdefault("traitTimes", {})
    for name, value in traits.items():
        if once:
            if name in kept:
                continue
        elif name in times and parse_time(times[name]) > at:
            continue
        kept[name] = value
        times[name] = stamp


def absorb(target, source):
    """Merge what `source` (a visitor's row, or a profile merged away) accumulated into the
    profile `target`: counts added, first/last seen widened, traits by their times, groups."""
    target["eventCount"] = (target.get("eventCount") or 0) + (source.get("eventCount") or 0)
    target["firstSeen"] = _earlier(target.get("firstSeen"), source.get("firstSeen"))
    target["lastSeen"] = _later(target.get("lastSeen"), source.get("lastSeen"))
    times = source.get("traitTimes") or {}
    for name, value in (source.get("traits") or {}).items():
        stamp = times.get(name)
        ours = (target.get("traitTimes") or {}).get(name)
        if name not in target["traits"] or (stamp is not None and (
                ours is None or parse_time(stamp) > parse_time(ours))):
            target["traits"][name] = value
            if stamp is not None:
                target["traitTimes"][name] = stamp
    _add_all(target["groups"], source.get("groups") or [])


def _add_all(values, more):
    for value in more:
        if value not in values:
            values.append(value)


def link(store, person, anonymous_id):
    """Make `anonymous_id` the person's: its row's history moves into the profile (the caller
    saves the profile). An id already linked to another user stays that user's."""
    if anonymous_id == person["userId"]:
        return
    row = store.get_identities(person["appId"], [anonymous_id]).get(anonymous_id)
    if row is None:
        row = new_identity(person["appId"], anonymous_id)
    elif row.get("userId") not in (None, person["userId"]):
        return
    if row.get("userId") is None:
        absorb(person, row)
        row = dict(new_identity(person["appId"], anonymous_id), userId=person["userId"])
        store.save_identity(row)
    _add_all(person["anonymousIds"], [anonymous_id])


def _person(store, app_id, user_id):
    return store.get_people(app_id, [user_id]).get(user_id) or new_person(app_id, user_id)


def _holder(store, app_id, user_id, anonymous_id):
    """Where a call's traits and groups go: the user's profile, else the visitor's row (or the
    profile it is linked to). Returns (doc, its save operation)."""
    if user_id is None:
        row = store.get_identities(app_id, [anonymous_id]).get(anonymous_id)
        if row is None:
            return new_identity(app_id, anonymous_id), store.save_identity
        if row.get("userId") is None:
            return row, store.save_identity
        user_id = row["userId"]
    return _person(store, app_id, user_id), store.save_person


def identify(store, app_id, data, at):
    """Traits (and traitsOnce) for the user or visitor; naming both links them."""
    user_id, anonymous_id = data.get("userId"), data.get("anonymousId")
    doc, save = _holder(store, app_id, user_id, anonymous_id)
    if user_id is not None and anonymous_id is not None:
        link(store, doc, anonymous_id)
    set_traits(doc, data.get("traits") or {}, at)
    set_traits(doc, data.get("traitsOnce") or {}, at, once=True)
    save(doc)


def alias(store, app_id, data, at):
    """previousId is userId from now on, in either direction: when previousId has a profile and
    userId has none, userId is the one linked to previousId's profile. When both have one,
    previousId's profile is merged into userId's and removed."""
    previous_id, user_id = data["previousId"], data["userId"]
    if previous_id == user_id:
        return
    people = store.get_people(app_id, [previous_id, user_id])
    if previous_id in people and user_id not in people:
        previous_id, user_id = user_id, previous_id
    person = people.get(user_id) or new_person(app_id, user_id)
    merged = people.get(previous_id)
    if merged is not None:
        absorb(person, merged)
        moved = merged.get("anonymousIds") or []
        for row in store.get_identities(app_id, moved).values():
            store.save_identity(dict(row, userId=user_id))
        _add_all(person["anonymousIds"], moved)
    link(store, person, previous_id)
    store.save_person(person)
    if merged is not None:
        store.delete_person(app_id, previous_id)


def group(store, app_id, data, at):
    """The group's traits; the person (or visitor) joins it."""
    group_id = data["groupId"]
    kept = store.get_group(app_id, group_id) or new_group(app_id, group_id)
    set_traits(kept, data.get("traits") or {}, at)
    store.save_group(kept)
    doc, save = _holder(store, app_id, data.get("userId"), data.get("anonymousId"))
    if group_id not in doc["groups"]:
        doc["groups"].append(group_id)
        save(doc)


VERBS = {"identify": identify, "alias": alias, "group": group}


def is_anonymous(user_id, anonymous_id):
    """Whether an event is a visitor's own (its userId is its anonymousId: ingest queues an
    anonymous event under its anonymousId, and keeps no anonymousId equal to the userId)."""
    return anonymous_id is not None and user_id == anonymous_id


def record_activity(store, groups, now):
    """Count stored events on their people: `groups` are (appId, userId, anonymousId, count,
    firstSeen, lastSeen). A user's events count on its profile, a visitor's on its identity-map
    row; an id linked to a user (by identify or alias) counts on that user's profile. One
    look-up of the identity map per app, one write."""
    totals = {}
    ids = {}
    for app_id, user_id, anonymous_id, count, first, last in groups:
        if is_anonymous(user_id, anonymous_id):
            key = (app_id, "identity", anonymous_id)
        else:
            key = (app_id, "person", user_id)
        ids.setdefault(app_id, set()).add(key[2])
        _tally(totals, key, count, first, last)
    for app_id, app_ids in ids.items():
        for key_id, row in store.get_identities(app_id, sorted(app_ids)).items():
            owner = row.get("userId")
            if owner is None or owner == key_id:
                continue
            for kind in ("identity", "person"):
                found = totals.pop((app_id, kind, key_id), None)
                if found is not None:
                    _tally(totals, (app_id, "person", owner), *found[1:])
    if totals:
        store.add_activity([{"appId": app_id, "kind": kind, "id": key_id, "count": count,
                             "firstSeen": first, "lastSeen": last, "updatedAt": now}
                            for (app_id, kind, key_id), (_, count, first, last) in
                            totals.items()])


def _tally(totals, key, count, first, last):
    _, n, f, la = totals.get(key, (None, 0, None, None))
    totals[key] = (None, n + count, _earlier(f, first), _later(la, last))


def count_new_events(store, applied, now):
    """Count the events a store's fast path stored ((appId, eventId) pairs) on their people."""
    by_app = {}
    for app_id, event_id in applied:
        by_app.setdefault(app_id, []).append(event_id)
    groups = [(app_id, g["userId"], g["anonymousId"], g["count"], g["firstSeen"], g["lastSeen"])
              for app_id, event_ids in by_app.items()
              for g in store.event_activity(app_id, event_ids)]
    record_activity(store, groups, now)


def read_person(store, app_id, user_id):
    """A person's profile as the API shows it, or None."""
    person = store.get_people(app_id, [user_id]).get(user_id)
    return None if person is None else profile_view(person)
