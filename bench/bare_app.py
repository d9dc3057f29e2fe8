"""The endpoint bench/ingest compares the service against: what a user would hand-write with the
same packages, served the same way.

Flask, marshmallow with a schema per seed event type (the service's own eventData schemas, so
the bounds are the same), orjson, and one SQLite table with a unique eventId written with
INSERT OR IGNORE under synchronous=NORMAL. No auth, no per-item answer, no queue, no batch log.
"""

import os
import re
import sqlite3
import threading

import orjson
from flask import Flask, Response, request
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from app.schemas.events import EVENT_DATA_SCHEMAS

app = Flask(__name__)
PATH = os.environ["BARE_SQLITE_PATH"]
ID = validate.Regexp(re.compile(r"^[A-Za-z0-9_.:@\-]{1,128}$"))


class ItemSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    itemType = fields.String(validate=validate.Equal("event"))
    eventId = fields.String(required=True, validate=ID)
    eventType = fields.String(required=True, validate=validate.Length(min=1, max=100))
    eventData = fields.Dict(load_default=dict)
    metadata = fields.Dict(load_default=dict)

    @validates_schema
    def event_data_fits_its_type(self, item, **kwargs):
        schema = EVENT_DATA_SCHEMAS.get(item["eventType"])
        if schema is not None:
            errors = schema.validate(item["eventData"])
            if errors:
                raise ValidationError(errors, "eventData")


class BatchSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    batchId = fields.String(validate=ID)
    userId = fields.String(validate=validate.Length(min=1, max=256))
    sentAt = fields.DateTime()
    items = fields.List(fields.Nested(ItemSchema), required=True,
                        validate=validate.Length(min=1, max=1000))


BATCH = BatchSchema()
_local = threading.local()


def connection():
    """This thread's connection (gunicorn.conf.py serves with threads)."""
    if getattr(_local, "conn", None) is None:
        conn = sqlite3.connect(PATH, isolation_level=None, timeout=10)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, "
                     "eventId TEXT NOT NULL UNIQUE, userId TEXT, eventType TEXT NOT NULL, "
                     "eventData TEXT NOT NULL, metadata TEXT NOT NULL)")
        _local.conn = conn
    return _local.conn


def answer(body, status):
    return Response(orjson.dumps(body), status=status, mimetype="application/json")


@app.post("/api/telemetry/batch")
def batch():
    try:
        body = BATCH.load(orjson.loads(request.get_data()))
    except orjson.JSONDecodeError:
        return answer({"error": "invalid JSON"}, 400)
    except ValidationError as exc:
        return answer({"error": "validation", "details": exc.messages}, 400)
    user_id = body.get("userId")
    rows = [(e["eventId"], user_id, e["eventType"], orjson.dumps(e["eventData"]).decode(),
             orjson.dumps(e["metadata"]).decode()) for e in body["items"]]
    conn = connection()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany("INSERT OR IGNORE INTO events (eventId, userId, eventType, eventData, "
                     "metadata) VALUES (?, ?, ?, ?, ?)", rows)
    conn.execute("COMMIT")
    return answer({"accepted": len(rows)}, 202)


@app.get("/api/health")
def health():
    return answer({"status": "healthy"}, 200)
