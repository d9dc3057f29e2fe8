"""Shared fixtures: the real app on a temporary SQLite file, its store, keys, and a live server."""

import threading
from contextlib import contextmanager

import pytest
from werkzeug.serving import make_server

from app import create_app
from app.accounts.keys import create_key
from app.extensions import store as store_ext


def make_app(tmp_path, **overrides):
    """A testing app on its own SQLite file; the scheduler stays off unless asked for."""
    config = {"APP_ENV": "testing", "SQLITE_PATH": str(tmp_path / "prepmate.sqlite3"),
              "ENABLE_SCHEDULED_SYNC": False}
    config.update(overrides)
    return create_app(config)


@pytest.fixture
def app_config():
    """Settings a test module may override for the `app` fixture."""
    return {}


@pytest.fixture
def app(tmp_path, app_config):
    app = make_app(tmp_path, **app_config)
    yield app
    with app.app_context():
        store_ext.get(app).close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def store(app):
    """The app's store; emptied after the test."""
    the_store = store_ext.get(app)
    yield the_store
    the_store.reset()


@pytest.fixture
def api_key(store):
    """A factory: api_key(scopes="ingest,read", app_name="testapp") -> plaintext key."""

    def make(scopes="ingest,read", app_name="testapp"):
        raw, _doc = create_key(store, app_name, scopes.split(","))
        return raw

    return make


@pytest.fixture
def auth(api_key):
    """Headers with a key of app "testapp" holding every scope."""
    return {"Authorization": f"Bearer {api_key('ingest,read,admin')}"}


class LiveServer:
    """The real app served over HTTP on 127.0.0.1 in a background thread."""

    def __init__(self, app):
        self.app = app
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._thread.join(timeout=10)


@contextmanager
def serving(app):
    server = LiveServer(app).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def live_server(app, store):
    with serving(app) as server:
        yield server
