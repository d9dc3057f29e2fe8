"""Every query the Mongo adapter issues on a request path is served by an index it creates.

Mongo-only: this checks the Mongo adapter's own queries (their filters, sorts and the indexes
its upgrade steps make), which SQLite lacks; SQLite's query plans are its adapter's business.
The request paths (API reads, console pages and actions, event metrics, the Prometheus scrape)
are driven through the real app on mongomock with every query recorded (mongo_queries.py), and
each must be served by an index: equality keys first, then the sort, with the range fields in
the index too. No path may read a whole collection (a find with neither an equality nor a limit,
an aggregation with neither a $match nor an indexed $sort). With TEST_MONGODB_URI set, the same
queries are also explained on the real server, and no winning plan may contain a COLLSCAN
(mongomock has no explain).
"""

import os
from datetime import UTC, datetime, timedelta

import pytest

from app.accounts.keys import create_key
from app.accounts.users import create_user
from app.config import load_config
from app.extensions import store as store_ext
from app.sync.engine import run_sync
from tests.api.helpers import batch, event_item, record_item
from tests.conftest import close_app, make_app
from tests.console.conftest import PASSWORD, Console

from .mongo_queries import (
    Query,
    adapter_indexes,
    explain,
    record_queries,
    uncovered,
    winning_plan_scans,
)

STORE_SPECIFIC = ("checks the Mongo adapter's own queries against the indexes it makes; it "
                  "builds its own Mongo app")

SETTINGS = load_config({"APP_ENV": "testing"})
REAL_SERVER = bool(os.environ.get("TEST_MONGODB_URI"))


@pytest.fixture
def mongo_app(tmp_path):
    app = make_app(tmp_path, "mongo")
    yield app
    close_app(app)


def fill(app):
    """Two apps' events and records through the API, applied by a sync run; then items left
    failed and dead, a conflict and a second run: a few hundred documents in all."""
    store = store_ext.get(app)
    client = app.test_client()
    keys = {}
    for app_id in ("app1", "app2"):
        raw, _doc = create_key(store, app_id, ["ingest", "read", "admin"])
        keys[app_id] = {"Authorization": f"Bearer {raw}"}
        for n, user_id in enumerate(("ann", "bob", "cat")):
            items = [event_item(event_type=("lesson_viewed", "quiz_started")[i % 2])
                     for i in range(20)]
            items.append(record_item(f"{app_id}-rec-{n}", record_id=f"settings-{n}"))
            response = client.post("/api/telemetry/batch", headers=keys[app_id],
                                   json=batch(items, batch_id=f"{app_id}-b{n}", user_id=user_id))
            assert response.status_code == 202, response.get_json()
    run_sync(store, SETTINGS)
    client.post("/api/telemetry/batch", headers=keys["app1"],
                json=batch([event_item() for _ in range(5)], batch_id="late", user_id="ann"))
    pending = store.queue_page({"appId": "app1"}, status="pending")
    now = datetime.now(UTC)
    store.finish_items([{"id": pending[0]["id"], "status": "failed", "attempts": 1,
                         "nextAttemptAt": now + timedelta(hours=1), "lastError": "boom"},
                        {"id": pending[1]["id"], "status": "dead", "attempts": 5,
                         "lastError": "gave up"}], now)
    store.add_conflict({
        "appId": "app1", "itemId": "app1-rec-0", "kind": "record", "recordType": "user_settings",
        "recordId": "settings-0", "base": {"theme": "dark"}, "server": {"theme": "light"},
        "client": {"theme": "blue"}, "fields": ["theme"], "strategy": "manual",
        "status": "open", "resolution": None, "resolvedBy": None, "resolvedAt": None,
        "createdAt": now})
    create_user(store, "admin", "admin", PASSWORD)
    return keys


# The events API's reads: pages by each filter, and exports.
EVENT_READS = (
    "/api/telemetry/events", "/api/telemetry/events?userId=ann",
    "/api/telemetry/events?userId=ann&anonymousId=a-ann&eventType=quiz_started",
    "/api/telemetry/events?eventType=quiz_started&eventType=lesson_viewed",
    "/api/telemetry/events?from=2020-01-01T00:00:00Z&to=2099-01-01T00:00:00Z",
    "/api/telemetry/events/export?userId=ann", "/api/telemetry/events/export?format=csv",
)


def drive(app, keys):
    """Every read path of the API, the console and /metrics, and the console's actions."""
    store = store_ext.get(app)
    api = app.test_client()
    headers = keys["app1"]
    for url in ("/api/health", "/api/telemetry/status", "/api/telemetry/status?userId=ann",
                "/api/telemetry/batch/app1-b0", "/api/telemetry/conflicts",
                "/api/telemetry/conflicts?status=open", "/api/telemetry/metrics",
                "/api/telemetry/metrics?from=2020-01-01T00:00:00Z&to=2099-01-01T00:00:00Z",
                "/api/telemetry/records", "/api/telemetry/records?recordType=user_settings",
                "/api/telemetry/records/user_settings/settings-0", "/metrics",
                *EVENT_READS):
        assert api.get(url, headers=headers).status_code == 200, url
    # Ingest for an app with a suppression and a tombstone (its ids looked up at each call),
    # and the suppression operations.
    store.add_suppression("app1", "0" * 64, datetime.now(UTC))
    store.add_tombstones("app1", "event", ["0" * 64], datetime.now(UTC))
    sent = api.post("/api/telemetry/batch", headers=headers, json=batch(
        [event_item(), record_item("app1-rec-late")], user_id="ann"))
    assert sent.status_code == 202, sent.get_json()
    for call in (api.get, api.delete):
        assert call("/api/telemetry/suppressions?userId=ann", headers=headers).status_code == 200
    # A person's export, read to its end (it is streamed as it is read).
    for url in ("/api/telemetry/people/ann/export", "/api/telemetry/people/export?userId=bob"):
        exported = api.get(url, headers=headers).get_json()
        assert exported["records"] and exported["recordVersions"] and exported["batches"], url
    first = api.get("/api/telemetry/events?limit=2", headers=headers).get_json()["nextCursor"]
    assert api.get(f"/api/telemetry/events?cursor={first}", headers=headers).status_code == 200
    for filters in ({}, {"appId": "app1"}, {"appId": "app1", "userIds": ["ann"]},
                    {"eventTypes": ["quiz_started"], "since": datetime(2020, 1, 1, tzinfo=UTC),
                     "until": datetime(2099, 1, 1, 0, 30, tzinfo=UTC)}):
        for bucket in ("hour", "day"):
            store.event_histogram(filters, bucket)
    event = store.event_page({"appId": "app1"}, limit=1)[0]
    assert store.event_detail("app1", event["eventId"])["queueItem"] is not None
    conflict = api.get("/api/telemetry/conflicts", headers=headers).get_json()["conflicts"][0]
    assert api.get(f"/api/telemetry/conflicts/{conflict['id']}",
                   headers=headers).status_code == 200

    console = Console(app.test_client())
    console.login("admin")
    failed = store.queue_page({}, status="failed")[0]
    dead = store.queue_page({}, status="dead")[0]
    runs = store.sync_logs()
    urls = ["/console/", "/console/queue", "/console/queue?status=pending",
            "/console/queue?app=app1", "/console/queue?app=app1&status=done",
            "/console/queue?app=app1&user=ann", "/console/queue?app=app1&user=ann&status=done",
            "/console/queue?status=pending&type=event", "/console/queue?app=app1&type=event",
            "/console/queue?q=ann", "/console/queue?q=app1-b0", f"/console/queue/{failed['id']}",
            "/console/batches", "/console/batches?source=client",
            "/console/batches?status=success", "/console/batches?source=manual&status=success",
            f"/console/batches/{runs[0]['id']}", "/console/errors", "/console/errors?status=dead",
            "/console/errors?app=app1", "/console/errors/bulk?action=retry&app=app1",
            "/console/events", "/console/audit", "/console/conflicts",
            "/console/conflicts?status=resolved", f"/console/conflicts/{conflict['id']}",
            "/metrics"]
    client_batch = store.get_batch_log("app1", "app1-b0")
    urls.append(f"/console/batches/{client_batch['id']}")
    # The next pages, through each list's cursor.
    first = store.queue_page({}, limit=2)
    urls.append(f"/console/queue?before={first[-1]['id']}")
    log = store.batch_page(datetime.now(UTC) - timedelta(days=1), limit=2)[-1]
    after = f"{log['startTime'].timestamp()!r}:{log['id']}"
    urls += [f"/console/batches?before={after}", f"/console/batches?source=client&before={after}",
             f"/console/conflicts?before={conflict['id']}"]
    assert api.get(f"/api/telemetry/conflicts?cursor={conflict['id']}",
                   headers=headers).status_code == 200
    for url in urls:
        assert console.get(url).status_code == 200, url
    for path in (f"/console/queue/{failed['id']}/retry", f"/console/queue/{dead['id']}/discard"):
        assert console.post(path).status_code == 303, path
    assert console.post("/console/errors/bulk", data={"action": "retry", "app": "app1"}
                        ).status_code == 303


def test_request_paths_are_served_by_indexes(mongo_app):
    store = store_ext.get(mongo_app)
    with mongo_app.app_context():
        keys = fill(mongo_app)
    # Outside the app context: each request gets its own (and its own `g`), as in production.
    with record_queries(store) as log:
        drive(mongo_app, keys)
    queries = list(log.queries)
    # The paths this test is about were driven (so it cannot pass by recording nothing).
    ops = {(q.collection, q.op) for q in queries}
    assert {("telemetry", "aggregate"), ("batch_logs", "aggregate"),
            ("conflicts", "aggregate"), ("sync_queue", "count_documents"),
            ("sync_queue", "find"), ("batch_logs", "find"), ("conflicts", "find"),
            ("records", "find")} <= ops
    indexes = adapter_indexes(store.db)
    problems = [f"{q}\n    {why}" for q in queries if (why := uncovered(q, indexes))]
    assert not problems, "queries no index serves:\n" + "\n".join(problems)
    if REAL_SERVER:
        scans = [str(q) for q in queries if winning_plan_scans(explain(store.db, q))]
        assert not scans, "queries the server answers with a collection scan:\n" + "\n".join(
            scans)


COUNT_PATHS = ("/metrics", "/api/telemetry/metrics", "/api/telemetry/status",
               "/api/telemetry/status?userId=ann", "/api/health",
               "/api/telemetry/metrics?from=2020-01-01T00:00:00Z&to=2099-01-01T00:00:00Z")
COUNT_PAGES = ("/console/", "/console/events")


def test_counts_and_metrics_are_counted_by_the_server(mongo_app):
    """The paths that count (Prometheus, event metrics, status, the dashboard) read no
    documents to add them up: they aggregate or count, and any find has a limit."""
    store = store_ext.get(mongo_app)
    with mongo_app.app_context():
        keys = fill(mongo_app)
    api = mongo_app.test_client()
    console = Console(mongo_app.test_client())
    console.login("admin")
    with record_queries(store) as log:
        for url in COUNT_PATHS:
            assert api.get(url, headers=keys["app1"]).status_code == 200, url
        for url in COUNT_PAGES:
            assert console.get(url).status_code == 200, url
    read = [str(q) for q in log.queries if q.op == "find" and not q.limit]
    assert not read, "documents read to be counted in Python:\n" + "\n".join(read)
    assert {"aggregate", "count_documents"} <= {q.op for q in log.queries}


# The rule itself, on queries written by hand: each case is one way a query can miss its index.
INDEXES = {"sync_queue": [([("_id", 1)], True), ([("appId", 1), ("itemId", 1)], True),
                          ([("status", 1), ("_id", -1)], False),
                          ([("appId", 1), ("userId", 1), ("status", 1)], False)],
           "telemetry": [([("_id", 1)], True),
                         ([("appId", 1), ("eventType", 1), ("timestamp", 1)], False)]}


@pytest.mark.parametrize("query, served", [
    (Query("sync_queue", "find", {"status": "dead"}, [("_id", -1)], 50), True),
    (Query("sync_queue", "find", {"status": {"$in": ["failed", "dead"]}}, [("_id", 1)]), True),
    (Query("sync_queue", "find", {}, [("_id", -1)], 50), True),
    (Query("sync_queue", "find", {"appId": {"$in": ["a", "b"]}, "itemId": "x"},
           [("_id", -1)], 50), True),
    (Query("sync_queue", "count_documents", {"appId": "a", "userId": "u",
                                              "status": {"$in": ["pending"]}}), True),
    (Query("telemetry", "aggregate", {"appId": "a", "timestamp": {"$gte": 0}}), True),
    (Query("telemetry", "aggregate", {}, [("appId", 1), ("eventType", 1)]), True),
    # A whole collection read in Python, or aggregated without an index.
    (Query("sync_queue", "find", {}), False),
    (Query("telemetry", "aggregate", {}), False),
    (Query("sync_queue", "count_documents", {}), False),
    # An unindexed filter, with or without a sort.
    (Query("sync_queue", "find", {"itemType": "event"}, [("_id", -1)], 50), False),
    (Query("telemetry", "find", {"eventType": "x"}), False),
    # The sort the index cannot give.
    (Query("sync_queue", "find", {"appId": "a"}, [("_id", -1)], 50), False),
    (Query("sync_queue", "find", {"status": "dead"}, [("createdAt", -1)], 50), False),
    # A branch of an $or that no index serves.
    (Query("sync_queue", "find", {"$or": [{"status": "dead"}, {"userId": "u"}]}), False),
])
def test_the_index_rule(query, served):
    assert (uncovered(query, INDEXES) is None) is served


COLLSCAN = {"stage": "COLLSCAN", "filter": {}, "direction": "forward"}
IXSCAN = {"stage": "IXSCAN", "keyPattern": {"status": 1, "_id": -1}}


@pytest.mark.parametrize("output, scans", [
    # find / distinct, classic engine.
    ({"queryPlanner": {"winningPlan": {"stage": "LIMIT", "inputStage": {
        "stage": "FETCH", "inputStage": IXSCAN}}, "rejectedPlans": [COLLSCAN]}}, 0),
    ({"queryPlanner": {"winningPlan": {"stage": "SORT", "inputStage": COLLSCAN},
                       "rejectedPlans": []}}, 1),
    # An aggregate whose later stages run apart from the query layer.
    ({"stages": [{"$cursor": {"queryPlanner": {"winningPlan": {
        "stage": "PROJECTION_SIMPLE", "inputStage": COLLSCAN}}}}, {"$group": {}}]}, 1),
    # The slot-based engine: the tree under queryPlan, the slot plan as text beside it.
    ({"queryPlanner": {"winningPlan": {"queryPlan": {"stage": "GROUP", "inputStage": IXSCAN},
                                       "slotBasedPlan": {"stages": "[1] scan s1 COLLSCAN"}}}},
     0),
    ({"queryPlanner": {"winningPlan": {"queryPlan": {"stage": "GROUP",
                                                     "inputStage": COLLSCAN}}}}, 1),
    # A sharded cluster: one winning plan per shard, and an $or's branches.
    ({"queryPlanner": {"winningPlan": {"stage": "SHARD_MERGE", "shards": [
        {"shardName": "a", "winningPlan": {"stage": "OR", "inputStages": [IXSCAN, COLLSCAN]}},
        {"shardName": "b", "winningPlan": IXSCAN}]}}}, 1),
])
def test_collection_scans_are_found_in_every_explain_shape(output, scans):
    assert len(winning_plan_scans(output)) == scans


# explain needs a real server (mongomock has none): with TEST_MONGODB_URI this test exists and
# runs; without it there is nothing it could check, so it is not collected (not skipped).
if REAL_SERVER:
    def test_explain_sees_a_collection_scan_on_the_real_server(mongo_app):
        store = store_ext.get(mongo_app)
        with mongo_app.app_context():
            store.db.sync_queue.insert_many([{"appId": "a", "itemId": f"i{n}", "itemType": "event",
                                              "n": n} for n in range(3)])
            store.db.telemetry.insert_many([{"appId": "a", "eventId": f"e{n}", "eventType": "x"}
                                            for n in range(3)])
            unindexed = Query("sync_queue", "find", {"itemType": "event"}, [("n", 1)], 5)
            indexed = Query("sync_queue", "count_documents", {"status": "dead"})
            grouped = Query("telemetry", "aggregate", {}, pipeline=[
                {"$group": {"_id": "$eventType", "n": {"$sum": 1}}}])
            assert winning_plan_scans(explain(store.db, unindexed))
            assert winning_plan_scans(explain(store.db, grouped))
            assert not winning_plan_scans(explain(store.db, indexed))


class FakeServer:
    """Stands in for a database: notes the explain commands and cursors it is asked for."""

    def __init__(self):
        self.asked = []

    def command(self, name, value, **options):
        self.asked.append(({name: value}, options))
        return {}

    def __getitem__(self, collection):
        server = self

        class Cursor:
            def __init__(self, query_filter):
                self.steps = [("find", collection, query_filter)]

            def sort(self, spec):
                self.steps.append(("sort", spec))
                return self

            def limit(self, n):
                self.steps.append(("limit", n))
                return self

            def explain(self):
                server.asked.append(self.steps)
                return {}

        return type("Collection", (), {"find": staticmethod(Cursor)})()


def test_explain_asks_for_the_plan_the_adapter_would_run():
    server = FakeServer()
    pipeline = [{"$match": {"appId": "a"}}, {"$group": {"_id": "$eventType"}}]
    explain(server, Query("telemetry", "aggregate", {"appId": "a"}, pipeline=pipeline))
    explain(server, Query("sync_queue", "count_documents", {"status": "dead"}))
    explain(server, Query("sync_queue", "distinct", {}, key="appId"))
    explain(server, Query("sync_queue", "find", {"status": "dead"}, [("_id", -1)], 51))
    explain(server, Query("sync_queue", "update_many", {"status": {"$in": ["dead"]}}))
    plan = {"verbosity": "queryPlanner"}
    assert server.asked == [
        ({"explain": {"aggregate": "telemetry", "pipeline": pipeline, "cursor": {}}}, plan),
        ({"explain": {"aggregate": "sync_queue", "cursor": {}, "pipeline": [
            {"$match": {"status": "dead"}}, {"$group": {"_id": 1, "n": {"$sum": 1}}}]}}, plan),
        ({"explain": {"distinct": "sync_queue", "key": "appId", "query": {}}}, plan),
        [("find", "sync_queue", {"status": "dead"}), ("sort", [("_id", -1)]), ("limit", 51)],
        [("find", "sync_queue", {"status": {"$in": ["dead"]}})],
    ]


def test_and_with_or_inside_is_checked_branch_by_branch():
    both = {"$and": [{"appId": "a"}, {"$or": [{"status": "dead"}, {"userId": "u"}]}]}
    served = {"sync_queue": [([("_id", 1)], True), ([("appId", 1), ("status", 1)], False),
                             ([("appId", 1), ("userId", 1)], False)]}
    assert uncovered(Query("sync_queue", "count_documents", both), served) is None
    assert uncovered(Query("sync_queue", "count_documents", both),
                     {"sync_queue": served["sync_queue"][:-1]}) is not None


def test_step_5_makes_the_indexes_of_a_persons_rows(mongo_app):
    store = store_ext.get(mongo_app)
    indexes = adapter_indexes(store.db)
    person = [("appId", 1), ("userId", 1), ("_id", -1)]
    for collection in ("conflicts", "record_versions", "records", "batch_logs"):
        assert (person, False) in indexes[collection], collection
    assert ([("appId", 1), ("userId", 1), ("timestamp", -1), ("_id", -1)], False) in \
        indexes["telemetry"]
    assert ([("appId", 1), ("subject", 1)], True) in indexes["suppressions"]
    assert ([("appId", 1), ("kind", 1), ("hash", 1)], True) in indexes["tombstones"]
    assert ([("status", 1), ("requestedAt", 1)], False) in indexes["deletions"]
