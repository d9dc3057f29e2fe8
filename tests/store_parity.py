"""Which stores each test runs on, and the check that nothing is SQLite-only without a reason.

Every test that uses a store runs on SQLite and on the Mongo adapter (tests/conftest.py says how).
A test may run on one store only for one of these reasons, and no other:

- it is marked `multiprocess`: it needs several processes (gunicorn workers, kill -9,
  cross-worker throttling) and mongomock lives inside one process; it runs on SQLite, and on
  MongoDB too when TEST_MONGODB_URI names a real server;
- it lives in tests/store/test_sqlite_*.py: it tests SQLite itself;
- it is marked `only_on("sqlite" | "mongo", reason="...")`;
- its module says why in a module-level `STORE_SPECIFIC`: a string when the module picks its
  stores itself (e.g. one about MongoDB's indexes, building its own app), or a dict naming the
  stores its tests run on, each with the reason
  (`STORE_SPECIFIC = {"sqlite": "compares SQLite's fast path with the portable path"}`).

`check` runs at collection and fails it, naming each test, when a test runs on one store only and
none of these explains it. `summary` prints how many tests ran on each store.
"""

import json
import os
from collections import Counter, defaultdict
from fnmatch import fnmatch
from pathlib import Path

import pytest

STORE_KINDS = ("sqlite", "mongo")
REAL_MONGODB = bool(os.environ.get("TEST_MONGODB_URI"))
# What a store parameter's value means: the app fixture's "mongo" is mongomock, or the real
# server when TEST_MONGODB_URI is set; the store contract suites name both.
LABELS = {"sqlite": "sqlite", "mongo": "mongodb" if REAL_MONGODB else "mongomock",
          "mongomock": "mongomock", "mongodb": "mongodb"}
FAMILY = {"sqlite": "sqlite", "mongomock": "mongo", "mongodb": "mongo"}
SQLITE_FILES = "tests/store/test_sqlite_*.py"

_COUNTS = pytest.StashKey[dict]()


def only_on(definition):
    """The store an `only_on` marker names, checked, or None."""
    marker = definition.get_closest_marker("only_on")
    if marker is None:
        return None
    kind = marker.args[0] if marker.args else None
    if kind not in STORE_KINDS or not marker.kwargs.get("reason"):
        raise pytest.UsageError(f"{definition.nodeid}: only_on takes a store "
                                f"({' or '.join(STORE_KINDS)}) and reason=\"why\"")
    return kind


def _is_sqlite_file(path):
    return fnmatch(Path(path).as_posix(), f"*/{SQLITE_FILES}")


def kinds_for(metafunc):
    """The stores a test using `store_kind` runs on."""
    definition = metafunc.definition
    if definition.get_closest_marker("multiprocess"):
        return STORE_KINDS if REAL_MONGODB else ("sqlite",)
    if _is_sqlite_file(definition.path):
        return ("sqlite",)
    kind = only_on(definition)
    if kind:
        return (kind,)
    spec = getattr(metafunc.module, "STORE_SPECIFIC", None)
    if isinstance(spec, dict):
        return tuple(kind for kind in STORE_KINDS if kind in spec)
    return STORE_KINDS


def parametrizes_store_kind(definition):
    """True when the test parametrizes `store_kind` itself (the check still sees its stores)."""
    for marker in definition.iter_markers("parametrize"):
        names = marker.args[0] if marker.args else marker.kwargs.get("argnames", "")
        if isinstance(names, str):
            names = [name.strip() for name in names.split(",")]
        if "store_kind" in names:
            return True
    return False


def store_of(item):
    """(parameter name, store label) of a test run on a store, else (None, None)."""
    callspec = getattr(item, "callspec", None)
    for name, value in (callspec.params.items() if callspec else ()):
        if isinstance(value, str) and value in LABELS:
            return name, LABELS[value]
    return None, None


def reason_for(item):
    """Why this test may run on one store only, or None."""
    if item.get_closest_marker("multiprocess"):
        return "multiprocess"
    if _is_sqlite_file(item.path):
        return SQLITE_FILES
    if item.get_closest_marker("only_on"):
        only_on(item)
        return f"only_on: {item.get_closest_marker('only_on').kwargs['reason']}"
    module = getattr(item, "module", None)
    why = getattr(module, "STORE_SPECIFIC", None)
    if isinstance(why, dict):
        why = "; ".join(f"{kind}: {reason}" for kind, reason in why.items() if reason)
    if isinstance(why, str) and why.strip():
        return f"STORE_SPECIFIC: {why.strip()}"
    return None


def _selects_one_parameter(config):
    """True when the command line names parametrized test ids: then one store is expected."""
    return any("[" in str(arg) for arg in config.args)


def check(config, items):
    """Fail collection when a test runs on one store only, unexplained."""
    groups = defaultdict(dict)
    for item in items:
        name, label = store_of(item)
        if label is None:
            continue
        ids = list(getattr(item.callspec, "_idlist", [item.callspec.id]))
        value = item.callspec.params[name]
        others = tuple(ids[:ids.index(value)] + ids[ids.index(value) + 1:]) if value in ids \
            else item.callspec.id.replace(value, "", 1)
        groups[(item.nodeid.partition("[")[0], others)].setdefault(FAMILY[label], item)
    one_store, unexplained = Counter(), []
    for families in groups.values():
        if len(families) == 2:
            continue
        [(family, item)] = families.items()
        why = reason_for(item)
        if why is None:
            unexplained.append(f"  {item.nodeid} (on {family} only)")
        else:
            one_store[f"{family} only, {why.split(':')[0]}"] += 1
    config.stash[_COUNTS] = {"one_store": dict(one_store)}
    if unexplained and not _selects_one_parameter(config):
        message = (
            "these tests run on one store only, and nothing says why:\n"
            + "\n".join(unexplained)
            + "\nA test that uses a store runs on SQLite and on the Mongo adapter. Mark it "
            "`multiprocess` (it needs several processes), move it to tests/store/test_sqlite_*.py "
            "(it tests SQLite itself), mark it `only_on(\"sqlite\", reason=\"...\")`, or give its "
            "module `STORE_SPECIFIC = \"why\"` (see tests/store_parity.py).")
        if not hasattr(config, "workerinput"):
            raise pytest.UsageError(message)
        # An xdist worker cannot stop the run cleanly: the run's first test fails instead.
        items.insert(0, Unexplained.from_parent(items[0].session, name="store_parity",
                                                message=message))


class Unexplained(pytest.Item):
    """Fails with the collection check's message (under xdist, where collection cannot)."""

    def __init__(self, *, message, **kwargs):
        super().__init__(**kwargs)
        self.message = message

    def runtest(self):
        raise pytest.UsageError(self.message)

    def repr_failure(self, excinfo):
        return self.message

    def reportinfo(self):
        return Path(__file__), None, "store parity"


def count(config, items):
    """Count the selected tests per store; an xdist worker hands the counts to the controller."""
    counts = config.stash.get(_COUNTS, {"one_store": {}})
    per_store = Counter(store_of(item)[1] or "no store" for item in items)
    counts["per_store"] = dict(per_store)
    counts["ids"] = defaultdict(list)
    for item in items:
        counts["ids"][store_of(item)[1] or "no store"].append(item.nodeid)
    config.stash[_COUNTS] = counts
    if hasattr(config, "workeroutput"):
        config.workeroutput["store_counts"] = json.dumps(counts)


def from_worker(config, workeroutput):
    """Keep the counts a worker collected (every worker collects the same tests)."""
    if "store_counts" in workeroutput and _COUNTS not in config.stash:
        config.stash[_COUNTS] = json.loads(workeroutput["store_counts"])


def summary(terminalreporter, config):
    """The per-store counts, and the ids per store to a file with --store-ids=PATH."""
    counts = config.stash.get(_COUNTS, None)
    if not counts or "per_store" not in counts:
        return
    per_store = counts["per_store"]
    terminalreporter.write_sep("-", "tests per store")
    terminalreporter.write_line(", ".join(f"{label}: {per_store[label]}"
                                          for label in sorted(per_store)))
    for what, n in sorted(counts["one_store"].items()):
        terminalreporter.write_line(f"  {what}: {n}")
    path = config.getoption("store_ids", None)
    if path:
        Path(path).write_text(json.dumps(counts["ids"], indent=1, sort_keys=True))
        terminalreporter.write_line(f"  test ids per store written to {path}")
