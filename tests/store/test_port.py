"""The storage port holds: both adapters offer exactly the operations of `Store`, with the same
parameters, and the code above the store asks for nothing else.

An adapter's helper is private (a leading underscore); a store-specific fast path is an optional
capability, named in the adapter's CAPABILITIES and asked for with `capability(kind)`.
"""

import ast
import inspect
from pathlib import Path

import pytest

from app.store.mongo import MongoStore
from app.store.port import CAPABILITY_KINDS, Store
from app.store.sqlite import SqliteStore

ADAPTERS = (SqliteStore, MongoStore)
APP = Path(__file__).resolve().parents[2] / "app"


def operations(protocol):
    """{name: function} of the operations a Protocol class (and its bases) declares."""
    found = {}
    for klass in reversed(protocol.__mro__):
        if klass is object or not getattr(klass, "_is_protocol", False):
            continue
        for name, value in vars(klass).items():
            if not name.startswith("_") and inspect.isfunction(value):
                found[name] = value
    return found


def public_methods(adapter):
    return {name for name in dir(adapter)
            if not name.startswith("_") and inspect.isfunction(getattr(adapter, name))}


def shape(function):
    """A signature's parameter names, kinds and defaults, without annotations."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


PORT = operations(Store)


def test_every_operation_says_what_it_does():
    undocumented = sorted(name for name, fn in PORT.items() if not inspect.getdoc(fn))
    assert not undocumented


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda a: a.__name__)
def test_adapter_offers_exactly_the_port(adapter):
    methods = public_methods(adapter)
    assert sorted(set(PORT) - methods) == [], "operations the adapter lacks"
    assert sorted(methods - set(PORT)) == [], "public methods outside the port (make them _private)"


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda a: a.__name__)
def test_adapter_takes_the_ports_parameters(adapter):
    differ = {name: (shape(fn), shape(getattr(adapter, name))) for name, fn in PORT.items()
              if shape(fn) != shape(getattr(adapter, name))}
    assert differ == {}


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda a: a.__name__)
def test_capabilities_are_port_protocols_with_their_signature(adapter):
    for kind, attr in adapter.CAPABILITIES.items():
        assert kind in CAPABILITY_KINDS
        declared = vars(kind)["__call__"]  # a capability is one callable
        assert shape(declared)[1:] == shape(getattr(adapter, attr))[1:], (kind, attr)
        assert kind not in Store.__mro__, "a capability is optional, never part of Store"


STORE_NAMES = {"store", "the_store", "_store"}


def calls_on_a_store(tree):
    """(line, operation) for each `store.op(...)`, `the_store().op(...)` or `self.store.op(...)`."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        target = node.func.value
        if isinstance(target, ast.Call):
            target = target.func
        name = (target.id if isinstance(target, ast.Name)
                else target.attr if isinstance(target, ast.Attribute) else None)
        if name in STORE_NAMES:
            yield node.lineno, node.func.attr


def test_code_above_the_store_asks_only_for_port_operations():
    # The Flask extension that hands out the store, and its store commands' calls (restore
    # takes the store unopened, then has the next get() open it anew).
    allowed = set(PORT) | {"get", "init_app", "schema_state", "upgrade", "unopened", "forget"}
    outside = []
    for path in APP.rglob("*.py"):
        if "store" in path.relative_to(APP).parts[:1]:
            continue
        tree = ast.parse(path.read_text(), str(path))
        outside += [f"{path.relative_to(APP)}:{line} {op}"
                    for line, op in calls_on_a_store(tree) if op not in allowed]
    assert outside == []


def test_a_persons_reads_are_part_of_the_port():
    from app.store.port.person import PersonDataStore

    assert PersonDataStore in Store.__mro__
    assert set(operations(PersonDataStore)) == {
        "person_queue_items", "person_records", "person_record_versions", "person_conflicts",
        "person_batch_logs"}
