"""Console fixtures: users of each role, signed-in clients, and data made through the ingest API."""

import uuid

import pytest

from app.console.auth import create_user

PASSWORD = "correct horse battery"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


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
    with store.transaction() as conn:
        conn.execute("UPDATE sync_queue SET status = ?, lastError = ?, attempts = 3 "
                     "WHERE itemId = ?", (status, error, item_id))


def record(record_id, base_version, data, record_type="user_settings", **extra):
    """A record edit item."""
    return {"itemType": record_type, "itemId": f"edit-{uuid.uuid4().hex[:12]}",
            "recordId": record_id, "baseVersion": base_version, "data": data, **extra}
