"""Shared fixtures: the real app on a temporary store, its store, keys, and a live server.

Every test that uses a store (the `store_kind`, `app`, `client`, `store` or `live_server`
fixtures, or anything built on them) runs twice: on SQLite and on the Mongo adapter (mongomock,
or the real MongoDB named by TEST_MONGODB_URI), through the same `app` fixture. The exceptions,
each with its reason:

- a test marked `multiprocess` needs several processes (gunicorn workers, kill -9, cross-worker
  throttling), which mongomock cannot share: it runs on SQLite, and on MongoDB too when
  TEST_MONGODB_URI is set;
- tests/store/test_sqlite_*.py test SQLite itself (its schema, checkpoints, files);
- a test marked `only_on("sqlite" | "mongo", reason="...")` runs on that store only;
- a module says why in a module-level `STORE_SPECIFIC`: `{"sqlite": "why"}` runs its tests on
  the stores named, a plain "why" string when it picks its stores itself.

Tests reach a store through its port operations; tests/stored.py has the few helpers that read
or arrange data the same way on both (ids are opaque strings or integers: never int(...) them).

At collection, `store_parity` compares the tests run per store and refuses any difference none of
these explains; the terminal summary prints how many tests ran on each store. The `both_stores`
marker is kept, and does nothing: it is the default. Any test whose app logs an unhandled
exception fails, unless it is marked `logs_errors` (it provokes one on purpose).
"""

import logging
import os
import threading
import uuid
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import pytest
from hypothesis import settings
from werkzeug.serving import make_server

from app import create_app
from app.accounts.keys import create_key
from app.extensions import scheduler
from app.extensions import store as store_ext
from app.sync.scheduling import start_scheduler
from tests import store_parity

# CI draws the same examples on every run, so a red run can be reproduced; a developer's run
# draws new ones each time, and so keeps looking.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

STORE_KINDS = store_parity.STORE_KINDS


def store_settings(kind, tmp_path):
    """The settings that put an app on a fresh store of this kind."""
    if kind == "sqlite":
        return {"SQLITE_PATH": str(tmp_path / "prepmate.sqlite3")}
    name = f"prepmate_{uuid.uuid4().hex[:10]}"
    real = os.environ.get("TEST_MONGODB_URI")
    if real:
        return {"MONGODB_URI": urlunsplit(urlsplit(real)._replace(path=f"/{name}")),
                "MONGODB_WRITE_CONCERN": "1"}
    return {"MONGODB_URI": f"mongomock://localhost/{name}"}


def make_app(tmp_path, store_kind="sqlite", **overrides):
    """A testing app on a fresh store of its own; the scheduler stays off unless asked for."""
    config = {"APP_ENV": "testing", "SQLITE_PATH": str(tmp_path / "prepmate.sqlite3"),
              "ENABLE_SCHEDULED_SYNC": False, **store_settings(store_kind, tmp_path)}
    config.update(overrides)
    return create_app(config)


def close_app(app):
    """Close the app's store; a database made on a real MongoDB server is dropped."""
    with app.app_context():
        # As it is, opened or not (a test may leave a store the app refused to open).
        the_store = app.extensions["prepmate.store"]["store"]
        uri = app.config.get("MONGODB_URI") or ""
        if uri and not uri.startswith("mongomock://"):
            the_store.db.client.drop_database(the_store.db.name)
        the_store.close()


def pytest_addoption(parser):
    parser.addoption("--store-ids", metavar="PATH",
                     help="write the ids of the tests run on each store to PATH (JSON)")


def pytest_generate_tests(metafunc):
    if ("store_kind" in metafunc.fixturenames
            and not store_parity.parametrizes_store_kind(metafunc.definition)):
        metafunc.parametrize("store_kind", store_parity.kinds_for(metafunc), indirect=True)


def pytest_collection_modifyitems(config, items):
    store_parity.check(config, items)


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session):
    store_parity.count(session.config, session.items)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    store_parity.from_worker(node.config, getattr(node, "workeroutput", {}))


def pytest_terminal_summary(terminalreporter, config):
    store_parity.summary(terminalreporter, config)


@pytest.fixture
def store_kind(request):
    """The kind of store the `app` fixture runs on: each kind in turn (see the module's doc)."""
    return getattr(request, "param", "sqlite")


@pytest.fixture
def app_config():
    """Settings a test module may override for the `app` fixture."""
    return {}


@pytest.fixture
def app(tmp_path, app_config, store_kind):
    app = make_app(tmp_path, store_kind, **app_config)
    yield app
    close_app(app)


@pytest.fixture
def running_scheduler(app):
    """The app's scheduler started with its jobs (turn ENABLE_SCHEDULED_SYNC on in app_config),
    stopped at the end."""
    assert start_scheduler(app)
    yield scheduler
    scheduler.remove_all_jobs()
    scheduler.shutdown(wait=True)


class UnhandledErrors(logging.Handler):
    """Collects what the app logged as an error with a traceback."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records = []

    def emit(self, record):
        if record.exc_info:
            self.records.append(record)


@pytest.fixture(autouse=True)
def no_unhandled_errors(request):
    """Fail a test whose app logged an exception, unless it is marked `logs_errors`."""
    handler = UnhandledErrors()
    logger = logging.getLogger("prepmate")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
    if handler.records and request.node.get_closest_marker("logs_errors") is None:
        lines = [f"{r.name}: {r.getMessage()}\n{logging.Formatter().formatException(r.exc_info)}"
                 for r in handler.records]
        pytest.fail("the app logged unhandled errors:\n" + "\n".join(lines), pytrace=False)


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


# Debian's Chromium, headless, with the flags that keep it off the network.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium, headless, shared by the browser tests of one run (Playwright's sync
    API allows one running instance per thread, so every package's browser tests share it;
    the console's run theirs in a thread of their own)."""
    from playwright import sync_api as playwright_api

    if not os.path.exists(CHROMIUM):
        pytest.fail("the browser tests need Debian's chromium at /usr/bin/chromium "
                    "(scripts/setup --dev installs it)")
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()

