"""Versioned stores (app/store/schema.py) on both adapters: a new store is made at the latest
version, an older one is upgraded step by step (or refused without STORE_AUTO_UPGRADE), a newer
one is refused, and each step is taken once however many processes open the store at once."""

import inspect
import threading
import zlib

import pytest

from app.store import schema
from app.store.mongo import MongoStore
from app.store.mongo import upgrades as mongo_upgrades
from app.store.sqlite import SqliteStore
from app.store.sqlite import upgrades as sqlite_upgrades
from app.version import __version__
from tests.upgrade.fixtures import FIXTURES, LAST_UNVERSIONED

from .conftest import BACKENDS, made_store

ADAPTER_STEPS = {"sqlite": sqlite_upgrades.STEPS, "mongodb": mongo_upgrades.STEPS}


@pytest.fixture(params=BACKENDS)
def new_store(request, tmp_path):
    """A store of each kind, never opened."""
    with made_store(request.param, tmp_path) as the_store:
        yield the_store


def test_every_step_is_implemented_by_both_adapters_and_says_what_it_does():
    for steps in ADAPTER_STEPS.values():
        assert sorted(steps) == sorted(schema.STEPS) == list(range(1, schema.LATEST + 1))
        for version, function in steps.items():
            assert inspect.getdoc(function).startswith(f"{version}: "), function


def test_a_new_store_is_made_at_the_latest_version(new_store):
    assert new_store.schema_version() is None
    done = schema.open_store(new_store, auto_upgrade=False)
    assert [step["version"] for step in done] == list(schema.STEPS)
    assert new_store.schema_version() == schema.LATEST
    history = new_store.schema_history()
    assert [(s["version"], s["name"], s["release"]) for s in history] == [
        (v, name, __version__) for v, name in schema.STEPS.items()]
    assert all(s["appliedAt"].tzinfo is not None for s in history)
    # Opened again, nothing is taken.
    assert schema.open_store(new_store, auto_upgrade=False) == []
    new_store.close()


def test_an_earlier_version_is_upgraded_only_when_allowed(new_store):
    assert new_store.upgrade_step(1, schema.STEPS[1], "0.1.9", schema.utcnow())
    assert new_store.schema_version() == 1
    with pytest.raises(schema.UpgradeNeeded) as refused:
        schema.open_store(new_store, auto_upgrade=False)
    message = str(refused.value)
    assert "schema version 1" in message and "flask --app wsgi store upgrade" in message
    assert new_store.schema_version() == 1  # refused: nothing changed
    assert [s["version"] for s in schema.open_store(new_store)] == list(range(2, schema.LATEST + 1))
    assert [s["release"] for s in new_store.schema_history()] == (
        ["0.1.9"] + [__version__] * (schema.LATEST - 1))
    new_store.close()


def test_a_step_taken_already_is_not_taken_again(store):
    assert store.upgrade_step(schema.LATEST, "again", "0.0.0", schema.utcnow()) is False
    assert [s["name"] for s in store.schema_history()] == list(schema.STEPS.values())


@pytest.fixture
def a_later_release(store, monkeypatch):
    """A release that knows one more step than this one, and has taken it on `store`."""
    later = schema.LATEST + 1
    for steps in ADAPTER_STEPS.values():
        monkeypatch.setitem(steps, later, lambda *args: None)
    assert store.upgrade_step(later, "A step of a later release", "9.9.9", schema.utcnow())
    for steps in ADAPTER_STEPS.values():
        monkeypatch.delitem(steps, later)
    return later


def test_a_store_of_a_later_release_is_refused_with_what_to_do(store, a_later_release):
    for auto in (True, False):
        with pytest.raises(schema.StoreTooNew) as refused:
            schema.open_store(store, auto_upgrade=auto)
        message = str(refused.value)
        assert f"schema version {a_later_release}, written by release 9.9.9" in message
        assert f"release {__version__} knows versions up to {schema.LATEST}" in message
    with pytest.raises(schema.StoreTooNew):
        schema.upgrade(store)
    assert store.schema_version() == a_later_release  # nothing was undone


def test_processes_opening_an_old_store_at_once_take_each_step_once(new_store):
    assert new_store.upgrade_step(1, schema.STEPS[1], __version__, schema.utcnow())
    start = threading.Barrier(4)
    taken = []

    def open_it():
        start.wait()
        taken.extend(step["version"] for step in schema.open_store(new_store))

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == list(range(2, schema.LATEST + 1))
    assert [s["version"] for s in new_store.schema_history()] == list(schema.STEPS)
    new_store.close()


def test_step_1_is_what_releases_before_versioned_stores_made(store):
    """Step 1 stays as those releases shipped it: a change to the schema is a new step."""
    release = LAST_UNVERSIONED
    if store.kind == "sqlite":
        scripts = sqlite_upgrades.baseline_scripts(SqliteStore)
        # Those releases marked each file with this checksum of the scripts they ran.
        checksum = zlib.crc32("\n".join(scripts).encode()) & 0x7FFFFFFF
        stamp = (FIXTURES / release / "sqlite.sql").read_text().splitlines()[0]
        assert stamp == f"PRAGMA user_version = {checksum};"
    else:
        from bson import json_util

        made = json_util.loads((FIXTURES / release / "mongo.json").read_text())
        shipped = {(name, tuple(map(tuple, index["key"])), index.get("unique", False))
                   for name, content in made.items() for index in content["indexes"]}
        ours = {(name, tuple(keys), options.get("unique", False))
                for name, keys, options in mongo_upgrades.baseline_indexes(MongoStore)}
        assert ours == shipped
