"""The collection check: a test that runs on one store only must say why (tests/store_parity.py)."""

from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

from tests import store_parity

ROOT = Path("/repo")


class Item:
    """Just enough of a collected pytest item for the check."""

    def __init__(self, where, store, marks=(), module=None, case="a"):
        path, name = where.split("::")
        self.path = ROOT / path
        self.nodeid = f"{where}[{store}-{case}]"
        self.callspec = SimpleNamespace(params={"store_kind": store, "case": case},
                                        _idlist=[store, case], id=f"{store}-{case}")
        self.module = module or ModuleType("m")
        self._marks = {mark.name: mark for mark in marks}

    def get_closest_marker(self, name):
        return self._marks.get(name)


def check(*items):
    config = SimpleNamespace(stash={}, args=[])
    store_parity.check(config, list(items))
    return config.stash


def test_tests_on_both_stores_pass_and_one_store_needs_a_reason():
    check(Item("tests/api/test_a.py::test_x", "sqlite"),
          Item("tests/api/test_a.py::test_x", "mongo"))
    with pytest.raises(pytest.UsageError, match=r"test_a.py::test_x\[sqlite-b\] \(on sqlite only"):
        check(Item("tests/api/test_a.py::test_x", "sqlite"),
              Item("tests/api/test_a.py::test_x", "mongo"),
              Item("tests/api/test_a.py::test_x", "sqlite", case="b"))
    with pytest.raises(pytest.UsageError, match=r"on mongo only"):
        check(Item("tests/api/test_a.py::test_y", "mongo"))


def test_the_documented_reasons_explain_a_one_store_test():
    module = ModuleType("m")
    module.STORE_SPECIFIC = "compares SQLite's fast path with the portable path"
    stash = check(
        Item("tests/api/test_a.py::test_x", "sqlite", marks=[pytest.mark.multiprocess.mark]),
        Item("tests/store/test_sqlite_schema.py::test_x", "sqlite"),
        Item("tests/sync/test_b.py::test_x", "sqlite",
             marks=[pytest.mark.only_on("sqlite", reason="why").mark]),
        Item("tests/sync/test_fast.py::test_x", "sqlite", module=module))
    assert stash[store_parity._COUNTS]["one_store"] == {
        "sqlite only, multiprocess": 1, "sqlite only, tests/store/test_sqlite_*.py": 1,
        "sqlite only, only_on": 1, "sqlite only, STORE_SPECIFIC": 1}


def test_only_on_needs_a_store_and_a_reason():
    with pytest.raises(pytest.UsageError, match="reason"):
        check(Item("tests/api/test_a.py::test_x", "sqlite",
                   marks=[pytest.mark.only_on("sqlite").mark]))


def test_which_stores_a_test_runs_on(monkeypatch):
    def kinds(where, marks=(), module=None):
        item = Item(where, "sqlite", marks=marks)
        return store_parity.kinds_for(SimpleNamespace(definition=item,
                                                      module=module or ModuleType("m")))

    assert kinds("tests/api/test_a.py::test_x") == ("sqlite", "mongo")
    assert kinds("tests/store/test_sqlite_schema.py::test_x") == ("sqlite",)
    assert kinds("tests/api/test_a.py::test_x", [pytest.mark.multiprocess.mark]) == ("sqlite",)
    module = ModuleType("m")
    module.STORE_SPECIFIC = {"mongo": "about MongoDB's indexes"}
    assert kinds("tests/store/test_m.py::test_x", module=module) == ("mongo",)
    monkeypatch.setattr(store_parity, "REAL_MONGODB", True)
    assert kinds("tests/api/test_a.py::test_x", [pytest.mark.multiprocess.mark]) == (
        "sqlite", "mongo")
