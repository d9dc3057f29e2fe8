"""A recorder of the Mongo adapter's queries, and the rules an index must meet to serve one.

`record_queries(store)` puts a `QueryLog` between the adapter and its database: every find,
find_one, aggregate, count_documents, distinct, update and delete is logged (collection, filter,
sort, limit) and then passed on unchanged. `uncovered(query, indexes)` says why no index serves
a logged query (None when one does), and `winning_plan_scans(explain)` finds COLLSCAN stages in
a real server's explain output.
"""

from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import product

import mongomock
from pymongo.collection import Collection

COLLECTION_TYPES = (Collection, mongomock.Collection)
# Operators that compare with one value or a list of them: the index seeks each.
EQUALITY_OPERATORS = {"$eq", "$in"}
# Fields an index need not hold: filtered on what the index's equality prefix found. A queue
# item's type narrows little (nearly every item is an event), so no index is worth its upkeep.
# An event's type, beside a person's ids: filtered on the person's events the (appId, userId |
# anonymousId, timestamp, _id) index finds, rather than a further index per id and type.
UNINDEXED_FIELDS = {"sync_queue": {"itemType"}, "telemetry": {"eventType"}}
WRITE_FILTERS = ("update_one", "update_many", "delete_one", "delete_many",
                 "find_one_and_update", "find_one_and_delete", "replace_one")


@dataclass
class Query:
    """One logged query: what the adapter asked of which collection."""

    collection: str
    op: str
    filter: dict
    sort: list = field(default_factory=list)
    limit: int = 0
    pipeline: list | None = None
    key: str | None = None

    def __str__(self):
        text = f"{self.collection}.{self.op}({self.filter!r}"
        if self.sort:
            text += f", sort={self.sort!r}"
        if self.limit:
            text += f", limit={self.limit}"
        if self.key:
            text += f", key={self.key!r}"
        if self.pipeline is not None:
            text += f", pipeline={self.pipeline!r}"
        return text + ")"


def _sort_spec(key_or_list, direction=None):
    if isinstance(key_or_list, str):
        return [(key_or_list, direction if direction is not None else 1)]
    if isinstance(key_or_list, dict):
        return list(key_or_list.items())
    return [(k, d) for k, d in key_or_list]


class RecordingCursor:
    """A cursor that notes its sort and limit in its Query."""

    def __init__(self, cursor, query):
        self._cursor = cursor
        self._query = query

    def sort(self, key_or_list, direction=None):
        self._query.sort = _sort_spec(key_or_list, direction)
        self._cursor = self._cursor.sort(key_or_list, direction) if direction is not None \
            else self._cursor.sort(key_or_list)
        return self

    def limit(self, n):
        self._query.limit = n
        self._cursor = self._cursor.limit(n)
        return self

    def __iter__(self):
        return iter(self._cursor)

    def __getattr__(self, name):
        return getattr(self._cursor, name)


class RecordingCollection:
    """A collection whose reads (and writes' filters) are logged before they run."""

    def __init__(self, collection, log):
        self._collection = collection
        self._log = log

    def _note(self, op, query_filter, **extra):
        query = Query(self._collection.name, op, dict(query_filter or {}), **extra)
        self._log.queries.append(query)
        return query

    def find(self, *args, **kwargs):
        sort = kwargs.get("sort")
        query = self._note("find", _filter(args, kwargs), sort=_sort_spec(sort) if sort else [],
                           limit=kwargs.get("limit", 0))
        return RecordingCursor(self._collection.find(*args, **kwargs), query)

    def find_one(self, *args, **kwargs):
        sort = kwargs.get("sort")
        self._note("find", _filter(args, kwargs), sort=_sort_spec(sort) if sort else [], limit=1)
        return self._collection.find_one(*args, **kwargs)

    def aggregate(self, pipeline, *args, **kwargs):
        pipeline = list(pipeline)
        first = pipeline[0] if pipeline else {}
        sort_stage = next((s["$sort"] for s in pipeline[:2] if "$sort" in s), None)
        self._note("aggregate", first.get("$match", {}),
                   sort=_sort_spec(sort_stage) if sort_stage else [], pipeline=pipeline)
        return self._collection.aggregate(pipeline, *args, **kwargs)

    def count_documents(self, *args, **kwargs):
        self._note("count_documents", _filter(args, kwargs))
        return self._collection.count_documents(*args, **kwargs)

    def distinct(self, key, *args, **kwargs):
        self._note("distinct", _filter(args, kwargs), key=key)
        return self._collection.distinct(key, *args, **kwargs)

    def __getattr__(self, name):
        attr = getattr(self._collection, name)
        if name in WRITE_FILTERS:
            def write(*args, **kwargs):
                self._note(name, _filter(args, kwargs))
                return attr(*args, **kwargs)
            return write
        return attr


def _filter(args, kwargs):
    """The filter of a pymongo call, given first or as `filter=`."""
    return args[0] if args else kwargs.get("filter")


class QueryLog:
    """Stands in for the adapter's database: collections come back wrapped, queries logged."""

    def __init__(self, db):
        self._db = db
        self.queries = []

    def __getitem__(self, name):
        return RecordingCollection(self._db[name], self)

    def __getattr__(self, name):
        attr = getattr(self._db, name)
        if isinstance(attr, COLLECTION_TYPES):
            return RecordingCollection(attr, self)
        return attr


@contextmanager
def record_queries(store):
    """Log every query the Mongo adapter `store` issues inside the block."""
    real = store.db
    log = QueryLog(real)
    store.db = log
    try:
        yield log
    finally:
        store.db = real


def adapter_indexes(db):
    """By collection, the (keys, unique) of every index a query may use: partial indexes (which
    only a query implying their filter can use) are left out."""
    found = {}
    for collection in db.list_collection_names():
        found[collection] = [
            ([(key, int(direction)) for key, direction in info["key"]],
             bool(info.get("unique")) or name == "_id_")
            for name, info in db[collection].index_information().items()
            if "partialFilterExpression" not in info]
    return found


def _shapes(query_filter):
    """The filter as conjunctions, each {field: "eq" | "range"}; $or and $and are expanded."""
    shapes = [{}]
    for key, value in query_filter.items():
        if key == "$or":
            branches = [s for branch in value for s in _shapes(branch)]
            shapes = [_merge(a, b) for a, b in product(shapes, branches)]
            continue
        if key == "$and":
            for part in value:
                shapes = [_merge(a, b) for a, b in product(shapes, _shapes(part))]
            continue
        if isinstance(value, dict) and value and all(k.startswith("$") for k in value):
            kind = "eq" if set(value) <= EQUALITY_OPERATORS else "range"
        else:
            kind = "eq"
        shapes = [_merge(s, {key: kind}) for s in shapes]
    return shapes


def _merge(a, b):
    merged = dict(a)
    for key, kind in b.items():
        merged[key] = "eq" if "eq" in (kind, merged.get(key)) else kind
    return merged


def _served(shape, sort, keys, unique, unindexed=frozenset()):
    """Why the index `keys` does not serve one conjunction with this sort (None when it does).

    The rule (MongoDB's equality-sort-range): the index's leading keys are fields the query
    compares for equality; next come the sort's keys in order (each direction the same, or
    each reversed); the range fields are keys of the index too. Only a field of `unindexed`
    may be left out of the index, to be filtered on what an equality prefix found. A unique
    index whose every key is compared for equality finds at most one document per value
    compared, so it needs no sort.
    """
    fields = [k for k, _ in keys]
    eq = {f for f, kind in shape.items() if kind == "eq"}
    lead = 0
    while lead < len(fields) and fields[lead] in eq:
        lead += 1
    if unique and set(fields) <= eq:
        return None
    order = [(f, d) for f, d in sort if f not in eq]
    if order:
        seg = keys[lead:lead + len(order)]
        if [f for f, _ in seg] != [f for f, _ in order]:
            return "does not give the sort"
        same = all(d == sd for (_, d), (_, sd) in zip(seg, order, strict=True))
        reversed_ = all(d == -sd for (_, d), (_, sd) in zip(seg, order, strict=True))
        if not (same or reversed_):
            return "gives the sort in mixed directions"
    elif lead == 0 and not (fields and shape.get(fields[0]) == "range"):
        return "narrows nothing"
    residual = set(shape) - set(fields)
    if residual - unindexed or (residual and lead == 0):
        return f"is not on {sorted(residual)}"
    return None


def uncovered(query, indexes):
    """Why no index of the collection serves `query`, or None when every conjunction of its
    filter (with its sort) is served by one."""
    keys = indexes.get(query.collection, [])
    sort = query.sort
    if query.op == "distinct":
        # The distinct values come from an index led by the key (after the filter's equalities).
        sort = [(query.key, 1)]
    if query.op == "aggregate" and not query.filter and not sort:
        return "aggregates a whole collection"
    for shape in _shapes(query.filter):
        reasons = [_served(shape, sort, k, unique, UNINDEXED_FIELDS.get(query.collection, set()))
                   for k, unique in keys]
        if all(reasons):
            return f"no index serves {shape} with sort {sort}: " + "; ".join(
                f"{k}: {r}" for (k, _u), r in zip(keys, reasons, strict=True))
    if query.op == "find" and not query.limit and not any(
            kind == "eq" for s in _shapes(query.filter) for kind in s.values()):
        return "reads documents without an equality or a limit"
    return None


def explain(db, query):
    """A real server's explain output (queryPlanner) for a logged query."""
    collection = db[query.collection]
    if query.op == "aggregate":
        return db.command("explain", {"aggregate": query.collection, "pipeline": query.pipeline,
                                      "cursor": {}}, verbosity="queryPlanner")
    if query.op == "count_documents":
        # What pymongo's count_documents runs.
        pipeline = [{"$match": query.filter}, {"$group": {"_id": 1, "n": {"$sum": 1}}}]
        return db.command("explain", {"aggregate": query.collection, "pipeline": pipeline,
                                      "cursor": {}}, verbosity="queryPlanner")
    if query.op == "distinct":
        return db.command("explain", {"distinct": query.collection, "key": query.key,
                                      "query": query.filter}, verbosity="queryPlanner")
    # A find, or a write's filter: the write finds its documents the same way.
    cursor = collection.find(query.filter)
    if query.sort:
        cursor = cursor.sort(query.sort)
    if query.limit:
        cursor = cursor.limit(query.limit)
    return cursor.explain()


def winning_plan_scans(output):
    """The COLLSCAN stages of every winning plan in an explain output.

    The winning plan sits under queryPlanner.winningPlan (find, distinct, an aggregate whose
    pipeline runs in the query layer), under stages[0].$cursor.queryPlanner for an aggregate
    whose later stages run apart, and once per shard under shards; with the slot-based engine
    its tree is winningPlan.queryPlan. Each is a tree of {"stage", "inputStage" | "inputStages"}.
    Rejected plans are not looked at.
    """
    found = []

    def plans(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "winningPlan":
                    found.extend(_stages(value))
                elif key != "rejectedPlans":
                    plans(value)
        elif isinstance(node, list):
            for value in node:
                plans(value)

    plans(output)
    return [stage for stage in found if stage == "COLLSCAN"]


def _stages(node):
    if isinstance(node, dict):
        if isinstance(node.get("stage"), str):
            yield node["stage"]
        for key, value in node.items():
            if key != "slotBasedPlan":
                yield from _stages(value)
    elif isinstance(node, list):
        for value in node:
            yield from _stages(value)
