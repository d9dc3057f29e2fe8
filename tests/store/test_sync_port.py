"""Both adapters' sync and runs operations are exactly those of the port (SyncPort, RunsPort),
with the same parameters; anything else an adapter has is private (`_`)."""

import inspect

import pytest

from app.store.mongo.runs import MongoRuns
from app.store.mongo.sync import MongoSync
from app.store.port.runs import RunsPort
from app.store.port.sync import SyncPort
from app.store.sqlite.runs import SqliteRuns
from app.store.sqlite.sync import SqliteSync


def operations(cls):
    """{name: [(parameter, default)]} of a class's public methods."""
    return {name: [(p.name, p.default) for p in inspect.signature(member).parameters.values()]
            for name, member in vars(cls).items()
            if callable(member) and not name.startswith("_")}


@pytest.mark.parametrize(("port", "mixin"), [
    (SyncPort, SqliteSync), (SyncPort, MongoSync), (RunsPort, SqliteRuns), (RunsPort, MongoRuns),
])
def test_an_adapter_offers_exactly_the_ports_operations(port, mixin):
    assert operations(mixin) == operations(port)


@pytest.mark.parametrize("port", [SyncPort, RunsPort])
def test_every_operation_says_what_it_does(port):
    for name in operations(port):
        assert inspect.getdoc(getattr(port, name)), name
