"""The store contract fixture: every test here runs on SQLite, on mongomock, and on a real
MongoDB when TEST_MONGODB_URI is set."""

import os
import uuid
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import pytest

from app.store import create_store, schema

BACKENDS = ["sqlite", "mongomock"] + (["mongodb"] if os.environ.get("TEST_MONGODB_URI") else [])


def make_store(kind, tmp_path):
    if kind == "sqlite":
        return create_store({"SQLITE_PATH": str(tmp_path / "contract.sqlite3")})
    if kind == "mongomock":
        return create_store({"MONGODB_URI": "mongomock://localhost/contract"})
    # A fresh database per test on the real server, dropped afterwards.
    from flask import Flask

    parts = urlsplit(os.environ["TEST_MONGODB_URI"])
    uri = urlunsplit(parts._replace(path=f"/contract_{uuid.uuid4().hex[:8]}"))
    app = Flask(__name__)
    return create_store({"MONGODB_URI": uri, "MONGODB_WRITE_CONCERN": "1"}, app)


@contextmanager
def made_store(kind, tmp_path):
    """A store of this kind, not opened yet; closed (a real server's database dropped) after."""
    the_store = make_store(kind, tmp_path)
    try:
        yield the_store
    finally:
        if kind == "mongodb":
            the_store.db.client.drop_database(the_store.db.name)
        the_store.close()


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path):
    """A fresh, empty store of each kind."""
    with made_store(request.param, tmp_path) as the_store:
        schema.open_store(the_store)
        yield the_store
        the_store.reset()
