"""Make a store fixture with the code of a release, for tests/upgrade/test_fixture_stores.py.

    .venv/bin/python tests/upgrade/make_fixture.py --code DIR --out tests/upgrade/fixtures/NAME

DIR holds the release's code (for a past commit: `git archive REV | tar -x -C DIR`). The script
builds that release's app on a new SQLite file and on a mongomock database, and drives each
through the interfaces every release has (SPEC.md: the `keys`, `users` and `sync run` commands
and the HTTP API): two apps' keys, a console user, events (one a duplicate, one rejected),
records and their edits, conflicts (one resolved by hand, one left open), a record item that can
never apply, a batch left pending and two sync runs. It then asks every API read it can name and
writes, in --out:

- `sqlite.sql`: the SQLite file as SQL (`iterdump`), after its `PRAGMA user_version`;
- `mongo.json`: every collection's documents and indexes (MongoDB extended JSON, canonical);
- `reads.json`: the keys, and per store each read (method, path, key) with its status and body.

Only public interfaces are used, so the script runs with the code of any release.
"""

import argparse
import json
import sqlite3
import sys
import tempfile
from pathlib import Path

STORES = ("sqlite", "mongo")
CLIENT_TIME = "2026-11-30T09:00:00Z"


def event(event_id, event_type, **data):
    return {"itemType": "event", "eventId": event_id, "eventType": event_type,
            "eventData": data, "metadata": {"clientTimestamp": CLIENT_TIME}}


def record(item_id, record_id, base_version, resolution=None, **data):
    item = {"itemType": "user_settings", "itemId": item_id, "recordId": record_id,
            "baseVersion": base_version, "data": data, "clientTimestamp": CLIENT_TIME}
    if resolution:
        item["conflictResolution"] = resolution
    return item


def build_app(code, kind, folder):
    from app import create_app

    settings = {"APP_ENV": "testing", "ENABLE_SCHEDULED_SYNC": False,
                "INSTANCE_PATH": str(folder), "SYNC_EAGER_DELAY_SECONDS": 3600,
                "SQLITE_PATH": str(folder / "fixture.sqlite3")}
    if kind == "mongo":
        settings["MONGODB_URI"] = "mongomock://localhost/prepmate_fixture"
    return create_app(settings)


def command(app, *args, stdin=None):
    result = app.test_cli_runner().invoke(args=list(args), input=stdin)
    if result.exit_code != 0:
        raise SystemExit(f"{' '.join(args)} failed: {result.output}")
    return result.output.strip().splitlines()[-1]


def drive(app):
    """The scenario; returns the keys and the reads to record."""
    keys = {name: command(app, "keys", "create", "--app", name, "--scopes",
                          "ingest,read,admin", "--name", f"{name} key")
            for name in ("fixture-app", "other-app")}
    command(app, "users", "create", "operator", "--role", "admin", "--password-stdin",
            stdin="a long enough password\n")
    client = app.test_client()

    def post(key, path, body):
        answer = client.post(path, json=body, headers={"Authorization": f"Bearer {keys[key]}"})
        if answer.status_code >= 300:
            raise SystemExit(f"POST {path} answered {answer.status_code}: {answer.get_data()}")
        return answer.get_json()

    post("fixture-app", "/api/telemetry/track", {
        "eventId": "evt-track-1", "userId": "u1", "eventType": "learning_module_viewed",
        "eventData": {"moduleId": "graphs", "seconds": 42},
        "metadata": {"clientTimestamp": CLIENT_TIME, "sentAt": "2026-11-30T09:00:05Z"}})
    post("fixture-app", "/api/telemetry/batch", {
        "batchId": "batch-1", "userId": "u1", "clientId": "phone-1",
        "sentAt": "2026-11-30T09:01:00Z", "items": [
            event("evt-1", "interview_completed", score=85, duration=1800),
            event("evt-2", "practice_question_answered", questionId="q-7", correct=True),
            event("evt-3", "custom_thing", note="ünïcødé ✓ 𝄞", nested={"a": [1, 2.5, None]}),
            event("evt-4", "interview_completed", score=101, duration=10),  # rejected
            record("rec-1", "settings-u1", 0, theme="dark", fontSize=14),
            record("rec-2", "settings-u2", 0, theme="light"),
        ]})
    post("fixture-app", "/api/telemetry/batch", {
        "batchId": "batch-1b", "userId": "u2", "items": [
            event("evt-1", "interview_completed", score=85, duration=1800),  # same id, new app
            event("evt-5", "mentor_session_started", mentorId="m-1")]})
    post("other-app", "/api/telemetry/batch", {
        "batchId": "batch-1", "userId": "x1", "items": [
            event("evt-1", "assessment_submitted", score=60)]})
    command(app, "sync", "run")
    post("fixture-app", "/api/telemetry/batch", {
        "batchId": "batch-2", "userId": "u1", "items": [
            record("rec-3", "settings-u1", 1, theme="solarized", fontSize=14),
            record("rec-4", "settings-u1", 1, "manual", theme="black", fontSize=16),
            record("rec-5", "settings-u2", 0, "manual", theme="sepia"),
            record("rec-6", "settings-u3", 7, theme="never"),  # ahead of the server: dead
            event("evt-1", "interview_completed", score=90, duration=1800),  # payload conflict
        ]})
    command(app, "sync", "run")
    open_conflicts = client.get("/api/telemetry/conflicts?status=open",
                                headers={"Authorization": f"Bearer {keys['fixture-app']}"})
    conflicts = sorted(open_conflicts.get_json()["conflicts"], key=lambda c: c["itemId"])
    post("fixture-app", f"/api/telemetry/conflicts/{conflicts[0]['id']}/resolve",
         {"resolution": "merged", "data": {"theme": "black", "fontSize": 15}})
    post("fixture-app", "/api/telemetry/batch", {
        "batchId": "batch-3", "userId": "u3", "items": [
            event("evt-6", "weakness_detected", skill="dp"),
            record("rec-7", "settings-u3", 0, theme="pending")]})
    return keys, reads(client, keys)


def reads(client, keys):
    """Every API read of the stored data, as (method, path, key name) with its answer."""
    paths = [("GET", "/api/health", None)]
    for key in keys:
        auth = {"Authorization": f"Bearer {keys[key]}"}
        paths += [("GET", path, key) for path in (
            "/api/telemetry/status", "/api/telemetry/status?userId=u1",
            "/api/telemetry/batch/batch-1", "/api/telemetry/batch/batch-1b",
            "/api/telemetry/batch/batch-2", "/api/telemetry/batch/batch-3",
            "/api/telemetry/records", "/api/telemetry/records?recordType=user_settings&since=0",
            "/api/telemetry/records?since=1&limit=1",
            "/api/telemetry/records/user_settings/settings-u1",
            "/api/telemetry/records/user_settings/settings-u2",
            "/api/telemetry/records/user_settings/settings-u3",
            "/api/telemetry/conflicts", "/api/telemetry/conflicts?status=open",
            "/api/telemetry/conflicts?status=resolved", "/api/telemetry/conflicts?limit=1",
            "/api/telemetry/metrics",
            "/api/telemetry/metrics?from=2026-01-01T00:00:00Z&to=2030-01-01T00:00:00Z",
        )]
        listed = client.get("/api/telemetry/conflicts", headers=auth).get_json()
        for conflict in listed.get("conflicts", []):
            paths.append(("GET", f"/api/telemetry/conflicts/{conflict['id']}", key))
        if listed.get("nextCursor"):
            paths.append(("GET", f"/api/telemetry/conflicts?cursor={listed['nextCursor']}", key))
    answers = []
    for method, path, key in paths:
        headers = {"Authorization": f"Bearer {keys[key]}"} if key else {}
        answer = client.open(path, method=method, headers=headers)
        answers.append({"method": method, "path": path, "key": key,
                        "status": answer.status_code, "body": answer.get_json()})
    return answers


def dump_sqlite(path):
    conn = sqlite3.connect(path)
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    lines = [f"PRAGMA user_version = {version};"]
    lines += [line for line in conn.iterdump()]
    conn.close()
    return "\n".join(lines) + "\n"


def dump_mongo(db):
    from bson import json_util

    collections = {}
    for name in sorted(db.list_collection_names()):
        indexes = [{"key": list(spec["key"]), **{k: v for k, v in spec.items()
                                                  if k not in ("key", "v", "ns")},
                    "name": name_}
                   for name_, spec in sorted(db[name].index_information().items())
                   if name_ != "_id_"]
        collections[name] = {"indexes": indexes,
                             "documents": list(db[name].find({}).sort("_id", 1))}
    return json_util.dumps(collections, indent=1, sort_keys=True,
                           json_options=json_util.CANONICAL_JSON_OPTIONS) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", required=True, type=Path, help="the release's code")
    parser.add_argument("--out", required=True, type=Path, help="the fixture's folder")
    args = parser.parse_args()
    sys.path.insert(0, str(args.code.resolve()))
    from app.extensions import store

    args.out.mkdir(parents=True, exist_ok=True)
    recorded = {"keys": None, "reads": {}}
    for kind in STORES:
        folder = Path(tempfile.mkdtemp(prefix=f"prepmate-fixture-{kind}-"))
        app = build_app(args.code, kind, folder)
        with app.app_context():
            keys, answers = drive(app)
            recorded["keys"] = recorded["keys"] or {}
            recorded["keys"][kind] = keys
            recorded["reads"][kind] = answers
            if kind == "sqlite":
                (args.out / "sqlite.sql").write_text(dump_sqlite(folder / "fixture.sqlite3"))
            else:
                (args.out / "mongo.json").write_text(dump_mongo(store.get(app).db))
    (args.out / "reads.json").write_text(
        json.dumps(recorded, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    print(f"fixture written to {args.out}")


if __name__ == "__main__":
    main()
