"""The baseline bench/ingest compares against: a bare hand-written Flask + marshmallow + SQLite
batch endpoint (no auth, no dedupe answer, no queue indexes), served the same way."""

import os
import sqlite3

from flask import Flask, jsonify, request
from marshmallow import EXCLUDE, Schema, fields

app = Flask(__name__)
PATH = os.environ["BARE_SQLITE_PATH"]


class EventSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    itemType = fields.String()
    eventId = fields.String(required=True)
    eventType = fields.String(required=True)
    eventData = fields.Dict()
    metadata = fields.Dict()


EVENTS = EventSchema(many=True)
_conn = {}


def connection():
    if os.getpid() not in _conn:
        conn = sqlite3.connect(PATH, isolation_level=None, timeout=10)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, "
                     "eventId TEXT UNIQUE, userId TEXT, eventType TEXT, body TEXT)")
        _conn[os.getpid()] = conn
    return _conn[os.getpid()]


@app.post("/api/telemetry/batch")
def batch():
    body = request.get_json()
    events = EVENTS.load(body["items"])
    conn = connection()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT OR IGNORE INTO events (eventId, userId, eventType, body) VALUES (?, ?, ?, ?)",
        [(e["eventId"], body.get("userId"), e["eventType"], repr(e["eventData"]))
         for e in events])
    conn.execute("COMMIT")
    return jsonify({"accepted": len(events)}), 202


@app.get("/api/health")
def health():
    return {"status": "healthy"}
