"""MongoDB adapter: deletions, and the bounded steps that erase a person (collections of upgrade
step 5). No transaction: each step writes its tombstones first, then deletes, and every write is
safe to repeat, so a step cut short is completed by the next."""

from pymongo import ASCENDING, UpdateOne

from .core import object_id, to_doc


def _deletion(raw):
    doc = to_doc(raw)
    if doc is not None:
        doc["suppress"] = bool(doc.get("suppress"))
    return doc


class MongoErasure:
    """Deletions, erase steps, tombstones and suppressions on MongoDB."""

    def add_deletion(self, doc):
        """Store a new deletion document (its `id` chosen by the caller)."""
        doc = dict(doc)
        doc["_id"] = str(doc.pop("id"))
        with self._errors():
            self.db.deletions.insert_one(doc)

    def get_deletion(self, deletion_id):
        """The deletion with this id, or None."""
        with self._errors():
            return _deletion(self.db.deletions.find_one({"_id": str(deletion_id)}))

    def open_deletions(self, limit):
        """Deletions still pending or running, oldest request first, at most `limit`."""
        with self._errors():
            rows = [_deletion(d) for status in ("running", "pending")
                    for d in self.db.deletions.find({"status": status})
                    .sort("requestedAt", ASCENDING).limit(int(limit))]
        return sorted(rows, key=lambda d: d["requestedAt"])[:limit]

    def update_deletion(self, deletion_id, changes):
        """Set fields of a deletion; True when it exists."""
        with self._errors():
            return self.db.deletions.update_one(
                {"_id": str(deletion_id)}, {"$set": dict(changes)}).matched_count == 1

    def has_deletion(self, app_id, subject):
        """Whether the store records a deletion of the person hashed `subject` in the app."""
        with self._errors():
            return self.db.deletions.find_one({"appId": app_id, "subject": subject},
                                              {"_id": 1}) is not None

    def replace_audit(self, entry_id, target, details):
        """Overwrite an audit entry's target and details (an erasure's scrubbing)."""
        with self._errors():
            self.db.audit_log.update_one({"_id": object_id(entry_id)},
                                         {"$set": {"target": target, "details": details}})

    def person_ids_after(self, app_id, after, limit):
        """The app's distinct userIds and anonymousIds after `after`, in order, at most
        `limit`."""
        sources = (("people", "userId"), ("identities", "anonymousId"),
                   ("telemetry", "userId"), ("telemetry", "anonymousId"),
                   ("sync_queue", "userId"))
        found = set()
        with self._errors():
            for collection, field in sources:
                rows = self.db[collection].aggregate([
                    {"$match": {"appId": app_id, field: {"$gt": after or "", "$type": "string"}}},
                    {"$sort": {field: ASCENDING}},
                    {"$group": {"_id": f"${field}"}},
                    {"$sort": {"_id": ASCENDING}},
                    {"$limit": int(limit)}])
                found.update(row["_id"] for row in rows)
        return sorted(found)[:limit]

    def flush_erased(self):
        """Nothing to do on MongoDB: the server reclaims what deletes free (its storage engine,
        not this adapter, decides when the bytes are overwritten)."""
        return True

    def erase_step(self, app_id, user_ids, phase, limit, hasher, now):
        """Erase at most `limit` rows of `phase` belonging to `user_ids` (tombstones written
        first); the number erased."""
        with self._errors():
            return getattr(self, f"_erase_{phase}")(app_id, list(user_ids), int(limit),
                                                    hasher, now)

    def _tombstones(self, app_id, kind, values, hasher, now):
        if not values:
            return
        ops = [UpdateOne({"appId": app_id, "kind": kind, "hash": h},
                         {"$setOnInsert": {"createdAt": now}}, upsert=True)
               for h in hasher(kind, values)]
        try:
            self.db.tombstones.bulk_write(ops, ordered=False)
        except TypeError:
            # mongomock cannot take this pymongo's UpdateOne (it passes a `sort` that
            # mongomock's bulk builder lacks): the same upserts, one by one.
            for op in ops:
                self.db.tombstones.update_one(op._filter, op._doc, upsert=True)

    def _erase_events(self, app_id, ids, limit, hasher, now):
        fields = {"eventId": 1, "appId": 1, "eventType": 1, "timestamp": 1}
        docs = list(self.db.telemetry.find({"appId": app_id, "userId": {"$in": ids}},
                                           fields).limit(limit))
        if len(docs) < limit:
            docs += list(self.db.telemetry.find({"appId": app_id, "anonymousId": {"$in": ids}},
                                                fields).limit(limit - len(docs)))
        self._tombstones(app_id, "event", [d["eventId"] for d in docs], hasher, now)
        if not docs:
            return 0
        deleted = self.db.telemetry.delete_many(
            {"_id": {"$in": [d["_id"] for d in docs]}}).deleted_count
        # The explorer's counts per hour (event_hours, kept by the events adapter) go down by
        # what this step deleted. A deletion runs under its own lease, so no other process
        # deletes these rows meanwhile; if one did, it lowered their counts itself.
        if deleted == len(docs):
            self._count_hours(docs, -1)
        return len(docs)

    def _delete(self, collection, docs):
        if not docs:
            return 0
        self.db[collection].delete_many({"_id": {"$in": [d["_id"] for d in docs]}})
        return len(docs)

    def _erase_queue(self, app_id, ids, limit, hasher, now):
        docs = list(self.db.sync_queue.find(
            {"appId": app_id, "userId": {"$in": ids}},
            {"itemId": 1, "itemData.eventId": 1, "batchId": 1}).limit(limit))
        self._tombstones(app_id, "item", [d["itemId"] for d in docs], hasher, now)
        events = [(d.get("itemData") or {}).get("eventId") for d in docs]
        self._tombstones(app_id, "event", [e for e in events if isinstance(e, str)], hasher, now)
        # The items leave the results and errors of their batches' logs (whoever sent them).
        by_batch = {}
        for doc in docs:
            if doc.get("batchId") is not None:
                by_batch.setdefault(doc["batchId"], set()).add(doc["itemId"])
        for batch_id, item_ids in by_batch.items():
            log = self.db.batch_logs.find_one({"appId": app_id, "batchId": batch_id},
                                              {"results": 1, "errors": 1})
            if log is not None:
                kept = {key: [e for e in log.get(key) or [] if e.get("itemId") not in item_ids]
                        for key in ("results", "errors") if log.get(key) is not None}
                self.db.batch_logs.update_one({"_id": log["_id"]}, {"$set": kept})
        return self._delete("sync_queue", docs)

    def _erase_conflicts(self, app_id, ids, limit, hasher, now):
        docs = list(self.db.conflicts.find({"appId": app_id, "userId": {"$in": ids}},
                                           {"_id": 1}).limit(limit))
        return self._delete("conflicts", docs)

    def _erase_records(self, app_id, ids, limit, hasher, now):
        # The person's records go with every version and conflict of theirs, whoever wrote it;
        # the record itself last, so a step cut short is found again.
        docs = list(self.db.records.find({"appId": app_id, "userId": {"$in": ids}},
                                         {"recordType": 1, "recordId": 1}).limit(limit))
        for doc in docs:
            key = {"appId": app_id, "recordType": doc["recordType"], "recordId": doc["recordId"]}
            self.db.record_versions.delete_many(key)
            self.db.conflicts.delete_many(key)
        return self._delete("records", docs)

    def _erase_versions(self, app_id, ids, limit, hasher, now):
        # Versions the person wrote on others' records; such a record forgets who wrote it last.
        docs = list(self.db.record_versions.find(
            {"appId": app_id, "userId": {"$in": ids}},
            {"recordType": 1, "recordId": 1}).limit(limit))
        for doc in docs:
            self.db.records.update_one(
                {"appId": app_id, "recordType": doc["recordType"], "recordId": doc["recordId"],
                 "updatedBy": {"$in": ids}}, {"$set": {"updatedBy": None}})
        return self._delete("record_versions", docs)

    def _erase_people(self, app_id, ids, limit, hasher, now):
        erased = 0
        for collection, field in (("people", "userId"), ("identities", "anonymousId")):
            docs = list(self.db[collection].find({"appId": app_id, field: {"$in": ids}},
                                                 {"_id": 1}).limit(limit))
            erased += self._delete(collection, docs)
        return erased

    def _erase_batches(self, app_id, ids, limit, hasher, now):
        # A batch log keeps its counts; it loses its userId, and the results and errors of
        # every item not known to be someone else's (the queue still holds the person's items,
        # this phase coming first).
        docs = list(self.db.batch_logs.find({"appId": app_id, "userId": {"$in": ids}},
                                            {"batchId": 1, "results": 1, "errors": 1})
                    .limit(limit))
        self._tombstones(app_id, "batch", [d["batchId"] for d in docs], hasher, now)
        for doc in docs:
            others = {d["itemId"] for d in self.db.sync_queue.find(
                {"appId": app_id, "batchId": doc["batchId"],
                 "userId": {"$nin": ids, "$type": "string"}}, {"itemId": 1})}
            kept = {key: [e for e in doc.get(key) or [] if e.get("itemId") in others]
                    for key in ("results", "errors") if doc.get(key) is not None}
            self.db.batch_logs.update_one({"_id": doc["_id"]},
                                          {"$set": {"userId": None, **kept}})
        return len(docs)
