"""The console's Sync now: a run in the background whose progress, then summary, the page
shows, with htmx (a polled panel) and without JavaScript (a page that refreshes itself)."""

import re

import pytest

from app.sync.runs import lease_holder
from tests.sync.helpers import edit, held_runs
from tests.waiting import wait_for

from .conftest import event

pytestmark = pytest.mark.both_stores

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
HTMX = {"HX-Request": "true"}


@pytest.fixture
def app_config():
    # Two items a batch: a few items make a run of several batches.
    return {"SYNC_BATCH_SIZE": 2}


def audit_actions(store):
    return [(e["actor"], e["action"]) for e in store.list_audit(limit=100)]


def poll(session, url, text, headers=None):
    """GET `url` until its page holds `text`; returns the last response."""
    answers = []

    def shows():
        answers.append(session.get(url, headers=headers or {}))
        assert answers[-1].status_code == 200
        return text in answers[-1].get_data(as_text=True)

    assert wait_for(shows, 10), answers[-1].get_data(as_text=True)
    return answers[-1]


def test_without_javascript_the_run_page_shows_progress_then_the_summary(app, console, send,
                                                                          store):
    send([event() for _ in range(3)])
    session = console("operator")
    with held_runs(app) as held:
        started = session.post("/console/sync", {"next": "/console/"})
        assert started.status_code == 303
        url = started.headers["Location"]
        assert re.fullmatch(r"/console/sync/[0-9a-f-]{36}", url), url
        assert held.reached.wait(5)
        page = session.get(url).get_data(as_text=True)
        assert "Sync running… 1 batch, 2 items so far (2 applied, 0 failed); 1 pending" in page
        # It refreshes itself (no script: the CSP forbids inline script, and htmx may be off).
        assert '<noscript><meta http-equiv="refresh" content="1"></noscript>' in page
        assert "<html" in page and not INLINE_SCRIPT.search(page)
        held.release()
        done = poll(session, url, "Sync finished: 3 items, 3 applied, 0 failed")
    page = done.get_data(as_text=True)
    assert 'http-equiv="refresh"' not in page and "hx-get" not in page
    assert session.get("/console/sync/no-such-run").status_code == 404
    assert store.console_queue_counts()["done"] == 3
    # Audited with its totals once it has ended.
    assert wait_for(lambda: ("operator", "sync.run") in audit_actions(store))


def test_with_htmx_the_panel_shows_progress_then_the_summary(app, client, api_key, console,
                                                            send, store):
    send([event() for _ in range(3)])
    # Another app's item: operators are told of every app's.
    other = {"Authorization": f"Bearer {api_key('ingest', 'otherapp')}"}
    assert client.post("/api/telemetry/batch", headers=other, json={
        "batchId": "b-other", "userId": "u2", "items": [edit("b-bad", "n1", 7, {"t": 2})]},
    ).status_code == 202
    session = console("operator")
    with held_runs(app) as held:
        panel = session.post("/console/sync", headers=HTMX)
        assert held.reached.wait(5)
        body = panel.get_data(as_text=True)
        assert 'id="sync-panel"' in body and "<html" not in body
        url = re.search(r'hx-get="(/console/sync/[0-9a-f-]+)" hx-trigger="every 1s"', body)
        assert url, body
        going = session.get(url.group(1), headers=HTMX)
        assert "Sync running… 1 batch, 2 items so far" in going.get_data(as_text=True)
        assert "HX-Trigger" not in going.headers
        held.release()
        done = poll(session, url.group(1), "Sync finished: 4 items, 3 applied, 1 failed", HTMX)
    assert done.headers["HX-Trigger"] == "sync-finished"
    assert "<html" not in done.get_data(as_text=True)
    assert store.console_queue_counts()["done"] == 3
    # Audited with its totals once it has ended.
    assert wait_for(lambda: ("operator", "sync.run") in audit_actions(store))


def test_sync_now_while_a_run_goes_follows_that_run(app, client, auth, console, send, store):
    send([event() for _ in range(3)])
    session = console("operator")
    with held_runs(app) as held:
        api_run = client.post("/api/telemetry/sync", headers=auth).get_json()["runId"]
        assert held.reached.wait(5)
        panel = session.post("/console/sync", headers=HTMX).get_data(as_text=True)
        assert "Another sync was already running: this is its progress." in panel
        assert f'hx-get="/console/sync/{api_run}"' in panel
        plain = session.post("/console/sync", {"next": "/console/"})
        assert plain.headers["Location"] == f"/console/sync/{api_run}"
        held.release()
        poll(session, f"/console/sync/{api_run}", "Sync finished: 3 items, 3 applied")
    assert wait_for(lambda: lease_holder(store) is None)
    assert store.console_queue_counts()["done"] == 3
