"""MongoDB adapter: the suppression list and tombstones (store step 5's collections), found by
their unique indexes (appId, subject) and (appId, kind, hash)."""

from pymongo.errors import BulkWriteError, DuplicateKeyError

DUPLICATE_KEY = 11000


class MongoPrivacy:
    """Suppressions and tombstones: each look-up served by a unique index's prefix."""

    def privacy_marks(self, app_id):
        """(any suppression in the app, any tombstone in the app): one indexed find_one each."""
        with self._errors():
            suppressions = self.db.suppressions.find_one({"appId": app_id}, {"_id": 1})
            tombstones = self.db.tombstones.find_one({"appId": app_id}, {"_id": 1})
        return suppressions is not None, tombstones is not None

    def suppressed_among(self, app_id, subjects):
        """The suppressed person hashes among `subjects`."""
        subjects = list(dict.fromkeys(subjects))
        if not subjects:
            return set()
        with self._errors():
            return {doc["subject"] for doc in self.db.suppressions.find(
                {"appId": app_id, "subject": {"$in": subjects}}, {"subject": 1, "_id": 0})}

    def tombstoned_among(self, app_id, kind, hashes):
        """The tombstoned hashes among `hashes`, of `kind` (one kind or several)."""
        kinds = [kind] if isinstance(kind, str) else list(kind)
        hashes = list(dict.fromkeys(hashes))
        if not hashes or not kinds:
            return set()
        with self._errors():
            return {doc["hash"] for doc in self.db.tombstones.find(
                {"appId": app_id, "kind": {"$in": kinds}, "hash": {"$in": hashes}},
                {"hash": 1, "_id": 0})}

    def add_suppression(self, app_id, subject, at):
        """Suppress a person hash; False when it already was."""
        with self._errors():
            try:
                self.db.suppressions.insert_one(
                    {"appId": app_id, "subject": subject, "createdAt": at})
            except DuplicateKeyError:
                return False
        return True

    def lift_suppression(self, app_id, subject):
        """Lift a suppression; False when there was none."""
        with self._errors():
            return self.db.suppressions.delete_one(
                {"appId": app_id, "subject": subject}).deleted_count == 1

    def is_suppressed(self, app_id, subject):
        """When the person hash was suppressed, or None."""
        with self._errors():
            doc = self.db.suppressions.find_one({"appId": app_id, "subject": subject},
                                                {"createdAt": 1})
        return None if doc is None else doc["createdAt"]

    def suppression_count(self, app_id):
        """How many people are suppressed in the app."""
        with self._errors():
            return self.db.suppressions.count_documents({"appId": app_id})

    def add_tombstones(self, app_id, kind, hashes, at):
        """Tombstone hashes of one kind; how many were new."""
        docs = [{"appId": app_id, "kind": kind, "hash": digest, "createdAt": at}
                for digest in dict.fromkeys(hashes)]
        if not docs:
            return 0
        with self._errors():
            try:
                self.db.tombstones.insert_many(docs, ordered=False)
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors", [])
                if any(e.get("code") != DUPLICATE_KEY for e in errors):
                    raise
                return len(docs) - len(errors)
        return len(docs)
