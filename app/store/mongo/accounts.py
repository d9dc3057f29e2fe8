"""MongoDB adapter: API keys, console users, the audit log, cross-process locks and sign-in
failures."""

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from .core import object_id, to_doc


class MongoAccounts:
    """Keys, users, audit entries, leases, and sign-in failures."""

    INDEXES = ({
        "login_failures": [([("key", ASCENDING)], {"unique": True}), ([("at", ASCENDING)], {})],
    },)

    def create_api_key(self, doc):
        """Store a new API key document (its hash, never the key)."""
        with self._errors():
            self.db.api_keys.insert_one(dict(doc))

    def find_api_key(self, key_hash):
        """The key document with this hash, revoked or not, or None."""
        with self._errors():
            return to_doc(self.db.api_keys.find_one({"keyHash": key_hash}))

    def touch_api_key(self, key_id, at):
        """Record when a key was last used."""
        with self._errors():
            self.db.api_keys.update_one({"keyId": key_id}, {"$set": {"lastUsedAt": at}})

    def list_api_keys(self, app_id=None):
        """Key documents, newest first, optionally of one app."""
        query = {} if app_id is None else {"appId": app_id}
        with self._errors():
            return [to_doc(d) for d in self.db.api_keys.find(query).sort("createdAt", DESCENDING)]

    def revoke_api_key(self, key_id, at):
        """Have a key stop working at `at` unless it stops by then already; True when set."""
        with self._errors():
            result = self.db.api_keys.update_one(
                {"keyId": key_id, "$or": [{"revokedAt": None}, {"revokedAt": {"$gt": at}}]},
                {"$set": {"revokedAt": at}})
            return result.modified_count == 1

    def create_user(self, doc):
        """Store a console user; DuplicateKey when the name is taken."""
        with self._errors():
            self.db.users.insert_one(dict(doc))

    def update_user(self, username, changes, end_sessions=False):
        """Change fields of a user (role, passwordHash, lastLoginAt) and, with `end_sessions`,
        move its sessionEpoch on by one; True when found."""
        update = {"$set": dict(changes)} if changes else {}
        if end_sessions:
            update["$inc"] = {"sessionEpoch": 1}
        with self._errors():
            if not update:
                return self.db.users.count_documents({"username": username}, limit=1) == 1
            return self.db.users.update_one({"username": username}, update).matched_count == 1

    def get_user(self, username):
        """The user document (its sessionEpoch missing before the first), or None."""
        with self._errors():
            return to_doc(self.db.users.find_one({"username": username}))

    def list_users(self):
        """Every console user, by name."""
        with self._errors():
            return [to_doc(d) for d in self.db.users.find().sort("username")]

    def add_audit(self, doc):
        """Append an audit entry (at, actor, action, target, details)."""
        with self._errors():
            self.db.audit_log.insert_one(dict(doc))

    def list_audit(self, limit=50, before_id=None):
        """Audit entries, newest first, keyset-paginated by id (a cursor that is not an id
        finds nothing)."""
        query = {}
        if before_id is not None:
            oid = object_id(before_id)
            if oid is None:
                return []
            query["_id"] = {"$lt": oid}
        with self._errors():
            cursor = self.db.audit_log.find(query).sort("_id", DESCENDING).limit(limit)
            return [to_doc(d) for d in cursor]

    def login_failures(self, keys):
        """{key: {key, failures, at}} for the keys that have failed sign-ins counted."""
        with self._errors():
            docs = self.db.login_failures.find({"key": {"$in": list(keys)}}, {"_id": 0})
            return {doc["key"]: doc for doc in docs}

    def add_login_failure(self, key, at):
        """Count one more failed sign-in for `key` at `at`; returns its count."""
        with self._errors():
            doc = self.db.login_failures.find_one_and_update(
                {"key": key}, {"$inc": {"failures": 1}, "$set": {"at": at}},
                upsert=True, return_document=ReturnDocument.AFTER)
        return doc["failures"]

    def clear_login_failures(self, key):
        """Forget the failed sign-ins of `key`."""
        with self._errors():
            self.db.login_failures.delete_one({"key": key})

    def forget_login_failures(self, before):
        """Forget every count whose last failure is at or before `before`."""
        with self._errors():
            self.db.login_failures.delete_many({"at": {"$lte": before}})

    def acquire_lock(self, name, owner, until, now):
        """Take or renew the named lease until `until`; True when `owner` holds it."""
        with self._errors():
            try:
                doc = self.db.locks.find_one_and_update(
                    {"name": name, "$or": [{"owner": owner}, {"until": {"$lt": now}}]},
                    {"$set": {"owner": owner, "until": until}},
                    upsert=True, return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:
                return False  # another owner holds a live lease
            return doc is not None and doc["owner"] == owner

    def release_lock(self, name, owner):
        """Give up the named lease if `owner` holds it."""
        with self._errors():
            self.db.locks.delete_one({"name": name, "owner": owner})

    def get_lock(self, name):
        """The lease document (name, owner, until), or None."""
        with self._errors():
            return to_doc(self.db.locks.find_one({"name": name}))
