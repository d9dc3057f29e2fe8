"""SQLite adapter: the explorer's and the export's reads of telemetry (port/events.py).

A page is one UNION ALL of small index walks, each newest first and cut at the page's size:
one per app (every app when the filter names none, found by a skip-scan of the apps) and per
seek (each of the person's ids in userId, then in anonymousId; each event type; the eventId).
Each walk reads its own index in order, so a page reads at most (walks x limit) rows whatever
the table holds. Counts per hour come from event_hours (upgrade step 6), which the sync
engine's insert raises (sync.py) and triggers lower on delete; the partial hours at a range's
ends, and a person's counts, are counted from the events themselves.
"""

import math

from ..port.events import chunks_of_pages, event_filter
from .console import distinct_apps_sql
from .core import from_epoch, loads, to_epoch

# Every distinct appId of telemetry, one seek each of its unique (appId, eventId) index.
TELEMETRY_APPS_SQL = distinct_apps_sql("telemetry")
COLUMNS = ("id, appId, eventId, userId, anonymousId, eventType, eventData, metadata, timestamp, "
           "createdAt, status")
NEWEST_FIRST = "ORDER BY timestamp DESC, id DESC"
# The export's fast path: the same, with metadata's receivedAt read by SQL.
JSON_COLUMNS = f"{COLUMNS}, json_extract(metadata, '$.receivedAt') AS receivedAt"
HOUR, DAY = 3600, 86400
# The stored times of the calendar's first and last instants (0001-01-01, 10000-01-01).
FIRST_SECOND, LAST_SECOND = -62135596800.0, 253402300800.0
BUCKET_SECONDS = {"hour": HOUR, "day": DAY}

# Upgrade step 6 (upgrades.py): the explorer's indexes and the hourly counts, filled from the
# events already stored. An hour is floor(timestamp / 3600) * 3600, the same expression
# everywhere, so the whole hours counted here and the partial ones counted from the events
# split at the same instants.
HOUR_OF = "CAST(floor({t} / 3600.0) AS INTEGER) * 3600"
STEP6_STATEMENTS = (
    "CREATE INDEX IF NOT EXISTS telemetry_app_time ON telemetry (appId, timestamp)",
    "CREATE INDEX IF NOT EXISTS telemetry_app_anonymous_time "
    "ON telemetry (appId, anonymousId, timestamp) WHERE anonymousId IS NOT NULL",
    "DROP INDEX IF EXISTS telemetry_anonymous",
    """CREATE TABLE IF NOT EXISTS event_hours (
        appId TEXT NOT NULL, hour INTEGER NOT NULL, eventType TEXT NOT NULL, n INTEGER NOT NULL,
        PRIMARY KEY (appId, hour, eventType)
    ) WITHOUT ROWID""",
    "DELETE FROM event_hours",
    f"""INSERT INTO event_hours (appId, hour, eventType, n)
        SELECT appId, {HOUR_OF.format(t="timestamp")}, eventType, COUNT(*) FROM telemetry
        WHERE timestamp IS NOT NULL GROUP BY 1, 2, 3""",
    f"""CREATE TRIGGER IF NOT EXISTS telemetry_hours_delete AFTER DELETE ON telemetry
    WHEN OLD.timestamp IS NOT NULL BEGIN
        UPDATE event_hours SET n = n - 1 WHERE appId = OLD.appId
            AND hour = {HOUR_OF.format(t="OLD.timestamp")} AND eventType = OLD.eventType;
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS telemetry_hours_update
    AFTER UPDATE OF appId, eventType, timestamp ON telemetry
    WHEN OLD.appId IS NOT NEW.appId OR OLD.eventType IS NOT NEW.eventType
         OR OLD.timestamp IS NOT NEW.timestamp BEGIN
        UPDATE event_hours SET n = n - 1 WHERE OLD.timestamp IS NOT NULL AND appId = OLD.appId
            AND hour = {HOUR_OF.format(t="OLD.timestamp")} AND eventType = OLD.eventType;
        INSERT INTO event_hours (appId, hour, eventType, n)
            SELECT NEW.appId, {HOUR_OF.format(t="NEW.timestamp")}, NEW.eventType, 1
            WHERE NEW.timestamp IS NOT NULL
        ON CONFLICT (appId, hour, eventType) DO UPDATE SET n = n + 1;
    END""",
)
# The sync engine's insert raises the hours of the rows it added (ids past the largest before
# it, as the unit holds the write lock), one upsert per (app, hour, type).
COUNT_HOURS_SQL = f"""
INSERT INTO event_hours (appId, hour, eventType, n)
SELECT appId, {HOUR_OF.format(t="timestamp")}, eventType, COUNT(*) FROM telemetry NOT INDEXED
WHERE id > ? AND timestamp IS NOT NULL GROUP BY 1, 2, 3
ON CONFLICT (appId, hour, eventType) DO UPDATE SET n = n + excluded.n
"""


def _marks(values):
    return ", ".join("?" * len(values))


def _key(ts, row_id):
    """A row's keyset position as the opaque key: the stored time exactly (repr round-trips a
    double) and the row id."""
    return f"{ts!r}/{row_id}"


def _bucket_sql(column, seconds):
    return f"CAST(floor({column} / {float(seconds)}) AS INTEGER) * {seconds}"


def _floor(value, seconds):
    return math.floor(value / seconds) * seconds


class SqliteEvents:
    """The events read port (port/events.py's EventsPort) on SQLite."""

    def _parse_key(self, key):
        """(time, id) of a key event_page made; ValueError for anything else."""
        if not isinstance(key, str) or "/" not in key:
            raise ValueError("not an event key")
        ts_text, _, id_text = key.rpartition("/")
        ts, row_id = float(ts_text), self.parse_id(id_text)
        if not FIRST_SECOND <= ts <= LAST_SECOND or row_id is None:
            raise ValueError("not an event key")
        return ts, row_id

    def _event_apps(self, conn, filters):
        if "appId" in filters:
            return [filters["appId"]]
        cur = conn.execute(TELEMETRY_APPS_SQL)
        cur.row_factory = None
        return [row[0] for row in cur]

    @staticmethod
    def _seeks(filters):
        """(condition, params, types_sought) per index walk of one app: each of the person's
        ids, each event type, or the eventId; else the app's events by time."""
        types = filters.get("eventTypes")
        if filters.get("eventId") is not None:
            return [("eventId = ?", [filters["eventId"]], False)]
        ids = filters.get("userIds")
        if ids is not None:
            ids = list(ids)
            # An event whose userId is one of the ids is found by the userId walk only.
            return ([("userId = ?", [i], False) for i in ids]
                    + [(f"anonymousId = ? AND (userId IS NULL OR userId NOT IN ({_marks(ids)}))",
                        [i, *ids], False) for i in ids])
        if types is not None:
            return [("eventType = ?", [t], True) for t in types]
        return [("1", [], False)]

    @staticmethod
    def _range(filters, clauses, params):
        if filters.get("since") is not None:
            clauses.append("timestamp >= ?")
            params.append(to_epoch(filters["since"]))
        if filters.get("until") is not None:
            clauses.append("timestamp < ?")
            params.append(to_epoch(filters["until"]))

    def _walks(self, conn, filters, before=None, limit=None, columns=COLUMNS):
        """SQL (and its parameters) of the events matching `filters` past `before`: a
        UNION ALL of index walks; with `limit`, each walk newest first and cut at it, and
        their merge too."""
        types = filters.get("eventTypes")
        if types is not None and not types or filters.get("userIds") == []:
            return None, []
        parts, params = [], []
        for app_id in self._event_apps(conn, filters):
            for seek, seek_params, types_sought in self._seeks(filters):
                clauses, walk = ["appId = ?", seek, "timestamp IS NOT NULL"], [app_id, *seek_params]
                if types is not None and not types_sought:
                    clauses.append(f"eventType IN ({_marks(types)})")
                    walk.extend(types)
                self._range(filters, clauses, walk)
                if before is not None:
                    # A row value: the index walk starts at the key (an OR of the two
                    # comparisons would be tested on every row from the newest on).
                    clauses.append("(timestamp, id) < (?, ?)")
                    walk.extend(before)
                sql = f"SELECT {columns} FROM telemetry WHERE {' AND '.join(clauses)}"
                if limit is not None:
                    sql = f"SELECT * FROM ({sql} {NEWEST_FIRST} LIMIT ?)"
                    walk.append(limit)
                parts.append(sql)
                params.extend(walk)
        if not parts:
            return None, []
        if limit is None:
            return " UNION ALL ".join(parts), params
        if len(parts) == 1:
            # One walk: in order already.
            return parts[0][len("SELECT * FROM ("):-1], params
        # The walks merged, and cut again.
        return (f"SELECT * FROM ({' UNION ALL '.join(parts)}) {NEWEST_FIRST} LIMIT ?",
                [*params, limit])

    @staticmethod
    def _event_doc(row):
        """A row of COLUMNS as the explorer's event document, with its key."""
        (row_id, app_id, event_id, user_id, anonymous_id, event_type, data, metadata, ts,
         created, status) = row
        return {
            "appId": app_id, "eventId": event_id, "userId": user_id,
            "anonymousId": anonymous_id, "eventType": event_type, "eventData": loads(data),
            "metadata": None if metadata is None else loads(metadata),
            "timestamp": from_epoch(ts), "createdAt": from_epoch(created), "status": status,
            "key": _key(ts, row_id),
        }

    def event_page(self, filters, before=None, limit=50):
        """At most `limit` events matching `filters`, newest first, after the key `before`."""
        filters = event_filter(filters)
        position = None if before is None else self._parse_key(before)
        with self._reading() as conn:
            sql, params = self._walks(conn, filters, position, limit)
            if sql is None:
                return []
            cur = conn.execute(sql, params)
            cur.row_factory = None
            return [self._event_doc(row) for row in cur]

    def _event_json_chunks(self, filters, chunk=1000):
        """The EventJsonChunks capability: event_chunks with eventData and metadata left as
        their stored JSON text, and metadata's receivedAt read by SQL."""
        filters = event_filter(filters)
        position = None
        while True:
            with self._reading() as conn:
                sql, params = self._walks(conn, filters, position, chunk, JSON_COLUMNS)
                if sql is None:
                    return
                cur = conn.execute(sql, params)
                cur.row_factory = None
                rows = cur.fetchall()
            if rows:
                yield [self._event_head(row) for row in rows]
            if len(rows) < chunk:
                return
            position = (rows[-1][8], rows[-1][0])

    @staticmethod
    def _event_head(row):
        """A row of COLUMNS and receivedAt as (event without its JSON, eventData text,
        metadata text)."""
        (row_id, app_id, event_id, user_id, anonymous_id, event_type, data, metadata, ts,
         created, status, received) = row
        return ({"appId": app_id, "eventId": event_id, "userId": user_id,
                 "anonymousId": anonymous_id, "eventType": event_type,
                 "timestamp": from_epoch(ts), "createdAt": from_epoch(created),
                 "status": status, "receivedAt": received, "key": _key(ts, row_id)},
                data, "null" if metadata is None else metadata)

    def event_chunks(self, filters, chunk=1000):
        """Every event matching `filters`, newest first, `chunk` at a time."""
        return chunks_of_pages(self.event_page, filters, chunk)

    def event_histogram(self, filters, bucket):
        """(bucket start, eventType, count) of the matching events per hour or day."""
        filters = event_filter(filters)
        seconds = BUCKET_SECONDS[bucket]
        counts = {}
        with self._reading() as conn:
            if filters.get("userIds") is not None or filters.get("eventId") is not None:
                self._tally_events(conn, filters, seconds, counts)
            else:
                self._tally_hours(conn, filters, seconds, counts)
        return [(from_epoch(start), event_type, n)
                for (start, event_type), n in sorted(counts.items()) if n > 0]

    def _tally_events(self, conn, filters, seconds, counts, since=None, until=None):
        """Add the matching events (in [since, until) when given) to `counts` by bucket and
        type, counted from the events themselves."""
        narrowed = dict(filters)
        if since is not None:
            narrowed["since"] = since
        if until is not None:
            narrowed["until"] = until
        sql, params = self._walks(conn, narrowed)
        if sql is None:
            return
        cur = conn.execute(f"SELECT {_bucket_sql('timestamp', seconds)}, eventType, COUNT(*) "
                           f"FROM ({sql}) GROUP BY 1, 2", params)
        cur.row_factory = None
        for start, event_type, n in cur:
            counts[start, event_type] = counts.get((start, event_type), 0) + n

    def _tally_hours(self, conn, filters, seconds, counts):
        """Whole hours from event_hours; the partial hours at the range's ends from the
        events."""
        since, until = to_epoch(filters.get("since")), to_epoch(filters.get("until"))
        first = None if since is None else -_floor(-since, HOUR)  # the first whole hour
        last = None if until is None else _floor(until, HOUR)  # the end of the last one
        if first is not None and last is not None and first > last:
            # Inside one hour: count the events.
            self._tally_events(conn, filters, seconds, counts)
            return
        if since is not None and since < first:
            self._tally_events(conn, filters, seconds, counts, until=from_epoch(first))
        if until is not None and last < until:
            self._tally_events(conn, filters, seconds, counts, since=from_epoch(last))
        apps = self._event_apps(conn, filters)
        if not apps:
            return
        clauses, params = [f"appId IN ({_marks(apps)})", "n > 0"], list(apps)
        if first is not None:
            clauses.append("hour >= ?")
            params.append(first)
        if last is not None:
            clauses.append("hour < ?")
            params.append(last)
        types = filters.get("eventTypes")
        if types is not None:
            clauses.append(f"eventType IN ({_marks(types)})")
            params.extend(types)
        start = "hour" if seconds == HOUR else f"hour - ((hour % {DAY}) + {DAY}) % {DAY}"
        cur = conn.execute(f"SELECT {start}, eventType, SUM(n) FROM event_hours "
                           f"WHERE {' AND '.join(clauses)} GROUP BY 1, 2", params)
        cur.row_factory = None
        for bucket_start, event_type, n in cur:
            counts[bucket_start, event_type] = counts.get((bucket_start, event_type), 0) + n

    def event_detail(self, app_id, event_id):
        """One event with its queue item and batch log, or None."""
        with self._reading() as conn:
            cur = conn.execute(f"SELECT {COLUMNS} FROM telemetry WHERE appId = ? AND eventId = ?",
                               (app_id, event_id))
            cur.row_factory = None
            row = cur.fetchone()
            if row is None:
                return None
            event = self._event_doc(row)
            item = conn.execute("SELECT * FROM sync_queue WHERE appId = ? AND itemId = ?",
                                (app_id, event_id)).fetchone()
            batch = None
            if item is not None and item.get("batchId") is not None:
                batch = conn.execute("SELECT * FROM batch_logs WHERE appId = ? AND batchId = ?",
                                     (app_id, item["batchId"])).fetchone()
        event["queueItem"], event["batchLog"] = item, batch
        return event
