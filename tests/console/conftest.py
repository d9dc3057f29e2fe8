"""Console fixtures: users of each role, signed-in clients, and data made through the ingest API."""

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.accounts.users import create_user
from tests.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.stored import put_in_state

PASSWORD = "correct horse battery"


@pytest.fixture
def users(store):
    """One user per role, named after it."""
    for role in ("admin", "operator", "viewer"):
        create_user(store, role, role, PASSWORD)
    return PASSWORD


def csrf_token(client):
    """The CSRF token of the client's session, as a form on any page carries it."""
    page = client.get("/console/login").get_data(as_text=True)
    marker = 'name="csrf_token" value="'
    start = page.index(marker) + len(marker)
    return page[start:page.index('"', start)]


class Console:
    """A test client signed in as one user; `post` adds the CSRF token as the forms do."""

    def __init__(self, client):
        self.client = client
        self.token = None

    def login(self, username, password=PASSWORD):
        response = self.client.post("/console/login", data={
            "username": username, "password": password, "csrf_token": csrf_token(self.client)})
        # Signing in starts a new session, and with it a new CSRF token.
        self.token = csrf_token(self.client)
        return response

    def get(self, url, **kwargs):
        return self.client.get(url, **kwargs)

    def post(self, url, data=None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", self.token)
        return self.client.post(url, data=data, **kwargs)


@pytest.fixture
def console(app, users):
    """sign in: console("admin") -> a Console signed in as that user."""

    def make(username="operator"):
        session = Console(app.test_client())
        response = session.login(username)
        assert response.status_code == 303, response.get_data(as_text=True)
        return session

    return make


@pytest.fixture
def send(client, auth):
    """send(items, userId=...) posts one batch through the real ingest API; returns its answer."""

    def post(items, user_id="user-1", batch_id=None):
        body = {"batchId": batch_id or f"b-{uuid.uuid4().hex[:12]}", "userId": user_id,
                "items": items}
        response = client.post("/api/telemetry/batch", json=body, headers=auth)
        assert response.status_code == 202, response.get_json()
        return response.get_json()

    return post


def event(event_type="learning_module_viewed", **data):
    """An event item with a fresh eventId."""
    return {"itemType": "event", "eventId": f"ev-{uuid.uuid4().hex[:12]}",
            "eventType": event_type, "eventData": data or {"moduleId": "m-1"}}


def set_status(store, item_id, status, error="the store timed out"):
    """Put a queue item in a state the sync engine would have left it in."""
    put_in_state(store, item_id, status, error)


def record(record_id, base_version, data, record_type="user_settings", **extra):
    """A record edit item."""
    return {"itemType": record_type, "itemId": f"edit-{uuid.uuid4().hex[:12]}",
            "recordId": record_id, "baseVersion": base_version, "data": data, **extra}


class BrowserWorker:
    """Headless Chromium driven from a thread of its own.

    Playwright's sync API allows one running instance per thread, and other test packages keep
    theirs open for the whole session; a dedicated thread lets both run in one pytest process.
    """

    def __init__(self):
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="console-browser")
        self._playwright = None
        self._browser = None

    def _launch(self):
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(executable_path=CHROMIUM,
                                                         args=CHROMIUM_ARGS)

    def run(self, scenario, *args, timeout=90):
        """Run scenario(browser, *args) in the browser's thread; its exceptions come back."""

        def call():
            if self._browser is None:
                self._launch()
            return scenario(self._browser, *args)

        return self._pool.submit(call).result(timeout=timeout)

    def close(self):
        def stop():
            if self._browser is not None:
                self._browser.close()
                self._playwright.stop()

        self._pool.submit(stop).result(timeout=30)
        self._pool.shutdown()


@pytest.fixture(scope="session")
def browser():
    """browser.run(scenario, ...) drives Chromium (Debian's, headless) in its own thread."""
    worker = BrowserWorker()
    yield worker
    worker.close()



@pytest.fixture
def erase_pending(store, app):
    """erase_pending() runs the deletions asked for until none is left open (the scheduler's
    job, called directly as the tests keep the scheduler off)."""
    from app.privacy.erasure import run_deletions

    def run():
        for _ in range(20):
            if not run_deletions(store, app.config, budget=10.0):
                return
        raise AssertionError("deletions still open after 20 runs")

    return run
