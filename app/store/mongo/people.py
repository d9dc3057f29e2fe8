"""MongoDB adapter: people profiles, the identity map and groups (collections of upgrade step 3).

Their indexes are made by upgrade step 3 (upgrades.py), not by a class `INDEXES`: step 1 makes
the indexes of the releases before versioned stores, which had none of these.
"""

from pymongo import ASCENDING, UpdateOne

from .core import to_doc

PEOPLE_INDEXES = {
    "people": [([("appId", ASCENDING), ("userId", ASCENDING)], {"unique": True})],
    "identities": [([("appId", ASCENDING), ("anonymousId", ASCENDING)], {"unique": True})],
    "people_groups": [([("appId", ASCENDING), ("groupId", ASCENDING)], {"unique": True})],
    "telemetry": [([("appId", ASCENDING), ("anonymousId", ASCENDING)],
                   {"partialFilterExpression": {"anonymousId": {"$type": "string"}}})],
}
COLLECTIONS = {"person": ("people", "userId"), "identity": ("identities", "anonymousId")}
NEW_PROFILE = {"traits": {}, "traitTimes": {}, "groups": []}


def _no_id(doc):
    return {k: v for k, v in doc.items() if k not in ("_id", "id")}


class MongoPeople:
    """Profiles, identity-map rows and groups, and the event counts added to them."""

    def _by_ids(self, collection, key, app_id, ids):
        ids = list(dict.fromkeys(ids))
        if not ids:
            return {}
        with self._errors():
            found = {doc[key]: to_doc(doc) for doc in
                     self.db[collection].find({"appId": app_id, key: {"$in": ids}})}
        if collection != "people_groups":
            for doc in found.values():  # stored without them until the first event
                doc.setdefault("firstSeen", None)
                doc.setdefault("lastSeen", None)
        return found

    def _replace(self, collection, key, doc):
        # An unknown first or last seen is left out, not stored as null: add_activity's $min
        # would keep a null (null sorts before every time in MongoDB).
        stored = {k: v for k, v in _no_id(doc).items()
                  if not (k in ("firstSeen", "lastSeen") and v is None)}
        with self._errors():
            self.db[collection].replace_one({"appId": doc["appId"], key: doc[key]}, stored,
                                            upsert=True)

    def get_people(self, app_id, user_ids):
        """The stored profiles among `user_ids`, by userId."""
        return self._by_ids("people", "userId", app_id, user_ids)

    def save_person(self, doc):
        """Store a profile whole, replacing the stored one."""
        self._replace("people", "userId", doc)

    def delete_person(self, app_id, user_id):
        """Remove a profile (one merged into another)."""
        with self._errors():
            self.db.people.delete_one({"appId": app_id, "userId": user_id})

    def get_identities(self, app_id, anonymous_ids):
        """The stored identity-map rows among `anonymous_ids`, by anonymousId."""
        return self._by_ids("identities", "anonymousId", app_id, anonymous_ids)

    def save_identity(self, doc):
        """Store an identity-map row whole, replacing the stored one."""
        self._replace("identities", "anonymousId", doc)

    def get_group(self, app_id, group_id):
        """A group, or None."""
        return self._by_ids("people_groups", "groupId", app_id, [group_id]).get(group_id)

    def save_group(self, doc):
        """Store a group whole, replacing the stored one."""
        self._replace("people_groups", "groupId", doc)

    def event_activity(self, app_id, event_ids):
        """The stored events among `event_ids` grouped by (userId, anonymousId), with their
        count and earliest and latest time."""
        pipeline = [
            {"$match": {"appId": app_id, "eventId": {"$in": list(event_ids)}}},
            {"$group": {"_id": {"userId": "$userId", "anonymousId": "$anonymousId"},
                        "count": {"$sum": 1}, "firstSeen": {"$min": "$timestamp"},
                        "lastSeen": {"$max": "$timestamp"}}},
        ]
        with self._errors():
            return [{"userId": g["_id"].get("userId"), "anonymousId": g["_id"].get("anonymousId"),
                     "count": g["count"], "firstSeen": g["firstSeen"], "lastSeen": g["lastSeen"]}
                    for g in self.db.telemetry.aggregate(pipeline)]

    def add_activity(self, rows):
        """Add each row's count to its profile or identity-map row, widening its first and
        last seen; made when missing (one bulk write per collection)."""
        writes = {}
        for row in rows:
            collection, key = COLLECTIONS[row["kind"]]
            on_insert = dict(NEW_PROFILE)
            if row["kind"] == "person":
                on_insert["anonymousIds"] = []
            else:
                on_insert["userId"] = None
            writes.setdefault(collection, []).append(UpdateOne(
                {"appId": row["appId"], key: row["id"]},
                {"$inc": {"eventCount": row["count"]}, "$min": {"firstSeen": row["firstSeen"]},
                 "$max": {"lastSeen": row["lastSeen"]}, "$set": {"updatedAt": row["updatedAt"]},
                 "$setOnInsert": on_insert},
                upsert=True))
        with self._errors():
            for collection, ops in writes.items():
                try:
                    self.db[collection].bulk_write(ops, ordered=True)
                except TypeError:
                    # mongomock cannot take this pymongo's UpdateOne (it passes a `sort` that
                    # mongomock's bulk builder lacks): the same updates, one by one.
                    for op in ops:
                        self.db[collection].update_one(op._filter, op._doc, upsert=True)
