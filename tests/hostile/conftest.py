"""The hostile suites' shared world: one app per store, filled once, with a signed-in admin.

It is a package fixture on purpose: the corpus and the property tests send thousands of requests,
and each reads or is refused or acts on nothing, so one app per store serves them all (a fresh
app per case would cost a second each). The autouse check for logged tracebacks still runs per
test.
"""

import re
import uuid
from types import SimpleNamespace
from urllib.parse import urljoin, urlsplit

import pytest

from app.accounts.keys import create_key
from app.accounts.users import create_user
from app.extensions import store as store_ext
from app.ingest.queue import enqueue
from app.sync.engine import run_sync
from tests.conftest import STORE_KINDS, close_app, make_app
from tests.console.conftest import (  # noqa: F401 (console and users: fixtures, used by name)
    PASSWORD,
    Console,
    console,
    event,
    record,
    users,
)
from tests.store.helpers import queue_item

SITE = "http://127.0.0.1/"
LIST_PAGES = ["/console/queue", "/console/batches", "/console/errors", "/console/conflicts",
              "/console/audit"]
# What browsers strip from both ends of a URL before parsing it.
C0_AND_SPACE = "".join(map(chr, range(0x21)))


@pytest.fixture(scope="package", params=STORE_KINDS)
def world(request, tmp_path_factory):
    """One app per store with a signed-in admin, queue items in every state that matters,
    client and sync batch logs, an open conflict and audit entries."""
    app = make_app(tmp_path_factory.mktemp(request.param), request.param)
    with app.app_context():
        store = store_ext.get(app)
        create_user(store, "admin", "admin", PASSWORD)
        raw, _ = create_key(store, "testapp", ["ingest", "read", "admin"])
    api = app.test_client()

    def send(items):
        body = {"batchId": f"b-{uuid.uuid4().hex[:12]}", "userId": "user-1", "items": items}
        answer = api.post("/api/telemetry/batch", json=body,
                          headers={"Authorization": f"Bearer {raw}"})
        assert answer.status_code == 202, answer.get_json()
        return answer.get_json()

    for data in ({"title": "t", "level": 1}, {"title": "server", "level": 2}):
        send([record("r-1", 0 if data["title"] == "t" else 1, data)])
        run_sync(store, app.config, source="manual")
    send([record("r-1", 1, {"title": "client", "level": 3}, conflictResolution="manual")])
    run_sync(store, app.config, source="manual")
    [conflict] = store.list_conflicts(status="open", values=False)
    pending = send([event(), event()])["results"][0]["itemId"]
    for item_id, status in (("dead-1", "dead"), ("failed-1", "failed")):
        item = queue_item(item_id, app_id="testapp")
        item["status"] = status
        enqueue(store, "testapp", [item])
    admin = Console(app.test_client())
    assert admin.login("admin").status_code == 303
    yield SimpleNamespace(
        app=app, store=store, admin=admin, conflict=conflict["id"],
        pending=store.get_queue_item("testapp", pending)["id"],
        cursors={"/console/queue": pending, "/console/errors": "dead-1",
                 "/console/conflicts": conflict["id"], "/console/audit": None,
                 "/console/batches": None},
        counts=store.console_queue_counts())
    close_app(app)


def short(value):
    """A test id that names a value without spelling out ten thousand characters."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:30]}…({len(text)} chars)"


def fragment(hx):
    """The headers of an htmx fragment request when `hx`, else none."""
    return {"HX-Request": "true"} if hx else {}


def assert_refused(response, status, words):
    """The console's own error page (or the page itself for a form), naming the problem."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    body = response.get_data(as_text=True)
    assert words in body, body[:2000]
    assert response.headers["Content-Security-Policy"]


def on_site(location):
    """True when browsers following `location` stay here: a path under one "/", with no scheme
    and no host, however a browser cleans it up (tabs and newlines dropped, backslashes read as
    slashes) before resolving it."""
    if not location.startswith("/") or location[1:2] in ("/", "\\"):
        return False
    if urlsplit(location).scheme or urlsplit(location).netloc:
        return False
    cleaned = re.sub(r"[\t\n\r]", "", location).replace("\\", "/").strip(C0_AND_SPACE)
    return all(urlsplit(urljoin(SITE, form)).netloc == "127.0.0.1"
               for form in (location, cleaned))


def unchanged(world):
    """Nothing in the queue or the conflict changed."""
    assert world.store.console_queue_counts() == world.counts
    assert world.store.get_conflict(None, world.conflict)["status"] == "open"
