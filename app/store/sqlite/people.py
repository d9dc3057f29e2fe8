"""SQLite adapter: people profiles, the identity map and groups (tables of upgrade step 3).

Its tables are made by upgrade step 3 (upgrades.py PEOPLE_SCRIPT), not by a class `DDL`: step 1
runs the scripts of the releases before versioned stores, which had none of these.
"""

from .core import dumps, to_epoch

# Upgrade step 3's script (upgrades.people adds telemetry's anonymousId column first).
PEOPLE_SCRIPT = """
CREATE TABLE IF NOT EXISTS people (
    appId TEXT NOT NULL, userId TEXT NOT NULL, traits TEXT NOT NULL DEFAULT '{}',
    traitTimes TEXT NOT NULL DEFAULT '{}', anonymousIds TEXT NOT NULL DEFAULT '[]',
    groups TEXT NOT NULL DEFAULT '[]', firstSeen REAL, lastSeen REAL,
    eventCount INTEGER NOT NULL DEFAULT 0, updatedAt REAL,
    PRIMARY KEY (appId, userId)
);
CREATE TABLE IF NOT EXISTS identities (
    appId TEXT NOT NULL, anonymousId TEXT NOT NULL, userId TEXT,
    traits TEXT NOT NULL DEFAULT '{}', traitTimes TEXT NOT NULL DEFAULT '{}',
    groups TEXT NOT NULL DEFAULT '[]', firstSeen REAL, lastSeen REAL,
    eventCount INTEGER NOT NULL DEFAULT 0, updatedAt REAL,
    PRIMARY KEY (appId, anonymousId)
);
CREATE TABLE IF NOT EXISTS people_groups (
    appId TEXT NOT NULL, groupId TEXT NOT NULL, traits TEXT NOT NULL DEFAULT '{}',
    traitTimes TEXT NOT NULL DEFAULT '{}', updatedAt REAL,
    PRIMARY KEY (appId, groupId)
);
CREATE INDEX IF NOT EXISTS telemetry_anonymous ON telemetry (appId, anonymousId)
    WHERE anonymousId IS NOT NULL;
"""
PERSON_COLUMNS = ("appId", "userId", "traits", "traitTimes", "anonymousIds", "groups",
                  "firstSeen", "lastSeen", "eventCount", "updatedAt")
IDENTITY_COLUMNS = ("appId", "anonymousId", "userId", "traits", "traitTimes", "groups",
                    "firstSeen", "lastSeen", "eventCount", "updatedAt")
GROUP_COLUMNS = ("appId", "groupId", "traits", "traitTimes", "updatedAt")
JSON_FIELDS = {"traits", "traitTimes", "anonymousIds", "groups"}
TIME_FIELDS = {"firstSeen", "lastSeen", "updatedAt"}
DEFAULTS = {"traits": {}, "traitTimes": {}, "anonymousIds": [], "groups": [], "eventCount": 0}

ACTIVITY_SQL = {
    "person": (
        "INSERT INTO people (appId, userId, firstSeen, lastSeen, eventCount, updatedAt) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (appId, userId) DO UPDATE SET "
        "eventCount = eventCount + excluded.eventCount, "
        "firstSeen = MIN(COALESCE(firstSeen, excluded.firstSeen), excluded.firstSeen), "
        "lastSeen = MAX(COALESCE(lastSeen, excluded.lastSeen), excluded.lastSeen), "
        "updatedAt = excluded.updatedAt"),
    "identity": (
        "INSERT INTO identities (appId, anonymousId, firstSeen, lastSeen, eventCount, "
        "updatedAt) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (appId, anonymousId) DO UPDATE "
        "SET eventCount = eventCount + excluded.eventCount, "
        "firstSeen = MIN(COALESCE(firstSeen, excluded.firstSeen), excluded.firstSeen), "
        "lastSeen = MAX(COALESCE(lastSeen, excluded.lastSeen), excluded.lastSeen), "
        "updatedAt = excluded.updatedAt"),
}


def _row(doc, columns):
    values = []
    for column in columns:
        value = doc.get(column, DEFAULTS.get(column))
        if column in JSON_FIELDS:
            value = dumps(value)
        elif column in TIME_FIELDS:
            value = to_epoch(value)
        values.append(value)
    return values


def _upsert_sql(table, columns, key):
    marks = ", ".join("?" * len(columns))
    sets = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {sets}")


SAVE_PERSON_SQL = _upsert_sql("people", PERSON_COLUMNS, ("appId", "userId"))
SAVE_IDENTITY_SQL = _upsert_sql("identities", IDENTITY_COLUMNS, ("appId", "anonymousId"))
SAVE_GROUP_SQL = _upsert_sql("people_groups", GROUP_COLUMNS, ("appId", "groupId"))


class SqlitePeople:
    """Profiles, identity-map rows and groups, and the event counts added to them."""

    def _by_ids(self, table, key, app_id, ids):
        ids = list(dict.fromkeys(ids))
        if not ids:
            return {}
        with self._reading() as conn:
            found = {}
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                marks = ", ".join("?" * len(chunk))
                for doc in conn.execute(f"SELECT * FROM {table} WHERE appId = ? AND {key} IN "
                                        f"({marks})", (app_id, *chunk)):
                    found[doc[key]] = doc
            return found

    def get_people(self, app_id, user_ids):
        """The stored profiles among `user_ids`, by userId."""
        return self._by_ids("people", "userId", app_id, user_ids)

    def save_person(self, doc):
        """Store a profile whole, replacing the stored one."""
        with self._errors():
            self._connection().execute(SAVE_PERSON_SQL, _row(doc, PERSON_COLUMNS))

    def delete_person(self, app_id, user_id):
        """Remove a profile (one merged into another)."""
        with self._errors():
            self._connection().execute("DELETE FROM people WHERE appId = ? AND userId = ?",
                                       (app_id, user_id))

    def get_identities(self, app_id, anonymous_ids):
        """The stored identity-map rows among `anonymous_ids`, by anonymousId."""
        return self._by_ids("identities", "anonymousId", app_id, anonymous_ids)

    def save_identity(self, doc):
        """Store an identity-map row whole, replacing the stored one."""
        with self._errors():
            self._connection().execute(SAVE_IDENTITY_SQL, _row(doc, IDENTITY_COLUMNS))

    def get_group(self, app_id, group_id):
        """A group, or None."""
        return self._by_ids("people_groups", "groupId", app_id, [group_id]).get(group_id)

    def save_group(self, doc):
        """Store a group whole, replacing the stored one."""
        with self._errors():
            self._connection().execute(SAVE_GROUP_SQL, _row(doc, GROUP_COLUMNS))

    def event_activity(self, app_id, event_ids):
        """The stored events among `event_ids` grouped by (userId, anonymousId), with their
        count and earliest and latest time."""
        # The ids drive the join (CROSS JOIN keeps them the outer loop): one seek of the unique
        # (appId, eventId) index per id. Written as `eventId IN (...)`, the planner walked the
        # app's every event by another index, so each sync batch cost more as the store grew.
        ids = dumps(list(event_ids))
        return self._query(
            "SELECT t.userId, t.anonymousId, COUNT(*) AS count, MIN(t.timestamp) AS firstSeen, "
            "MAX(t.timestamp) AS lastSeen FROM json_each(?) AS ids CROSS JOIN telemetry AS t "
            "ON t.appId = ? AND t.eventId = ids.value GROUP BY t.userId, t.anonymousId",
            (ids, app_id))

    def add_activity(self, rows):
        """Add each row's count to its profile or identity-map row, widening its first and
        last seen; made when missing."""
        by_kind = {"person": [], "identity": []}
        for row in rows:
            by_kind[row["kind"]].append((
                row["appId"], row["id"], to_epoch(row["firstSeen"]), to_epoch(row["lastSeen"]),
                row["count"], to_epoch(row.get("updatedAt"))))
        with self._errors():
            conn = self._connection()
            for kind, values in by_kind.items():
                if values:
                    conn.executemany(ACTIVITY_SQL[kind], values)
