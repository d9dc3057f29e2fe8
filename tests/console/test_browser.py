"""The console in real headless Chromium: an operator's day, and no JavaScript errors."""

import re

import pytest
from playwright.sync_api import expect

from app.sync.engine import run_sync
from tests.sync.helpers import held_runs

from .conftest import PASSWORD, event, record, set_status

pytestmark = pytest.mark.browser

# What the browser and htmx log when the server refuses a request (the viewer's case).
REFUSED_RESOURCE = re.compile(r"Failed to load resource: the server responded with a status of "
                              r"403|Response Status Error Code 403 from ")


class Tab:
    """A page in a fresh browser context that records every JavaScript error it sees."""

    def __init__(self, browser, base_url, javascript=True, permissions=(), **options):
        self.context = browser.new_context(java_script_enabled=javascript,
                                           permissions=list(permissions), **options)
        self.context.set_default_timeout(10_000)
        self.page = self.context.new_page()
        self.base_url = base_url
        self.errors = []
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        self.page.on("console", lambda msg: msg.type == "error" and self.errors.append(
            f"console: {msg.text}"))

    def go(self, path):
        response = self.page.goto(self.base_url + path)
        return response

    def login(self, username):
        self.go("/console/login")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(re.compile(r"/console/$"))

    def count(self, state):
        return self.page.text_content(f'[data-count="{state}"]').strip()

    def close(self, allow_refusals=False):
        errors = [e for e in self.errors if not (allow_refusals and REFUSED_RESOURCE.search(e))]
        self.context.close()
        assert errors == [], errors


def test_operator_sees_pending_items_and_syncs_without_a_reload(browser, live_server, send,
                                                                 users):
    send([event() for _ in range(3)], user_id="alice")

    def scenario(chromium):
        tab = Tab(chromium, live_server.url)
        tab.login("operator")
        page = tab.page
        assert tab.count("pending") == "3"
        assert tab.count("done") == "0"
        page.evaluate("window.__sameDocument = true")
        page.click("button[data-sync-now]")
        page.wait_for_selector("#sync-panel [data-sync-result]")
        assert "Sync finished: 3 items, 3 applied" in page.text_content("#sync-panel")
        expect(page.locator("[data-count=done]")).to_have_text("3")
        assert tab.count("pending") == "0"
        assert page.evaluate("window.__sameDocument") is True
        # The live counters can be paused and resumed by the user.
        polls = []
        page.on("request", lambda r: r.url.endswith("/console/") and r.headers.get(
            "hx-request") and polls.append(r.url))
        toggle = page.locator("[data-live-toggle]")
        toggle.click()
        assert toggle.get_attribute("aria-pressed") == "true"
        page.wait_for_timeout(5_600)
        assert polls == []
        toggle.click()
        assert toggle.get_attribute("aria-pressed") == "false"
        page.wait_for_timeout(5_600)
        assert polls
        # Every page loads without a JavaScript error; the queue search swaps its results.
        for path in ("/console/queue", "/console/batches", "/console/errors",
                     "/console/conflicts", "/console/events", "/console/audit"):
            assert tab.go(path).status == 200, path
        tab.go("/console/queue")
        page.fill("input[name=q]", "alice")
        page.wait_for_url(re.compile(r"q=alice"))
        expect(page.locator("#queue-results tbody tr")).to_have_count(3)
        tab.close()

    browser.run(scenario)


@pytest.mark.parametrize("app_config", [{"SYNC_BATCH_SIZE": 2}])
def test_without_javascript_sync_now_shows_the_run_until_its_summary(browser, live_server, app,
                                                                     send, users, store):
    send([event() for _ in range(3)])

    def scenario(chromium, held):
        tab = Tab(chromium, live_server.url, javascript=False)
        tab.login("operator")
        page = tab.page
        page.click("button[data-sync-now]")
        page.wait_for_url(re.compile(r"/console/sync/[0-9a-f-]+$"))
        # The run may not have noted its first batch yet: the page refreshes itself until it has.
        expect(page.locator("#sync-panel")).to_contain_text(
            "Sync running… 1 batch, 2 items so far", timeout=15_000)
        held.release()
        # The page refreshes itself until the run has ended.
        page.wait_for_selector("#sync-panel [data-sync-result]")
        assert "Sync finished: 3 items, 3 applied" in page.text_content("#sync-panel")
        tab.close()

    with held_runs(app) as held:
        browser.run(scenario, held)
    assert store.console_queue_counts()["done"] == 3


def test_resolve_a_conflict_field_by_field(browser, live_server, send, store, app, users):
    send([record("r-7", 0, {"title": "t", "level": 1, "notes": "n"})])
    run_sync(store, app.config, source="manual")
    send([record("r-7", 1, {"title": "server title", "level": 2, "notes": "n"})])
    run_sync(store, app.config, source="manual")
    send([record("r-7", 1, {"title": "client title", "level": 3, "notes": "n"},
                 conflictResolution="manual")])
    run_sync(store, app.config, source="manual")

    def scenario(chromium):
        tab = Tab(chromium, live_server.url)
        tab.login("admin")
        page = tab.page
        tab.go("/console/conflicts")
        page.click("#conflict-results tbody a >> nth=0")
        page.wait_for_selector("tr.differs[data-field=title]")
        assert page.locator("tr.differs").count() == 2
        page.check('input[name="pick:title"][value=client]')
        page.check('input[name="pick:level"][value=server]')
        page.click("button[value=fields]")
        page.wait_for_selector("[data-resolution]")
        assert page.text_content("[data-resolution]").strip() == "merged"
        record_text = page.text_content("[data-record]")
        assert '"client title"' in record_text and '"level": 2' in record_text
        tab.close()

    browser.run(scenario)
    assert store.get_record("testapp", "user_settings", "r-7")["data"] == {
        "title": "client title", "level": 2, "notes": "n"}


def test_retry_a_dead_item_in_place(browser, live_server, send, store, users):
    answer = send([event(), event()])
    dead, other = (r["itemId"] for r in answer["results"])
    set_status(store, dead, "dead")
    set_status(store, other, "failed")

    def scenario(chromium):
        tab = Tab(chromium, live_server.url)
        tab.login("operator")
        page = tab.page
        tab.go("/console/errors?status=dead")
        page.evaluate("window.__sameDocument = true")
        row = page.locator("#error-results tbody tr", has_text=dead)
        row.locator("button", has_text="Retry").click()
        page.wait_for_selector(f"text=Item {dead} is pending again.")
        assert page.locator("#error-results tbody tr", has_text=dead).count() == 0
        assert page.evaluate("window.__sameDocument") is True
        tab.close()

    browser.run(scenario)
    assert store.get_queue_item(None, dead)["status"] == "pending"
    assert store.get_queue_item(None, other)["status"] == "failed"


def test_bulk_discard_by_filter_after_confirming_the_count(browser, live_server, send, store,
                                                          users):
    for user_id, n in (("alice", 5), ("bob", 2)):
        for result in send([event() for _ in range(n)], user_id=user_id)["results"]:
            set_status(store, result["itemId"], "dead")

    def scenario(chromium):
        tab = Tab(chromium, live_server.url)
        tab.login("operator")
        page = tab.page
        tab.go("/console/errors")
        page.fill("input[name=user]", "alice")
        expect(page.locator("#error-results tbody tr")).to_have_count(5)
        page.click("text=Discard all…")
        page.wait_for_selector("[data-count=bulk]")
        assert page.text_content("[data-count=bulk]").strip() == "5"
        page.click("#bulk-confirm button[type=submit]")
        page.wait_for_selector("text=5 items discarded (status failed or dead, user alice).")
        tab.close()

    browser.run(scenario)
    assert store.console_queue_counts()["dead"] == 2


def test_without_javascript_a_retry_still_works(browser, live_server, send, store, users):
    [result] = send([event()])["results"]
    set_status(store, result["itemId"], "dead")

    def scenario(chromium):
        tab = Tab(chromium, live_server.url, javascript=False)
        tab.login("operator")
        tab.go("/console/errors")
        tab.page.locator("#error-results tbody tr button", has_text="Retry").click()
        tab.page.wait_for_selector(f"text=Item {result['itemId']} is pending again.")
        tab.close()

    browser.run(scenario)
    assert store.get_queue_item(None, result["itemId"])["status"] == "pending"


def test_a_viewer_finds_every_action_refused(browser, live_server, send, store, app, users):
    answer = send([event(), event()])
    for result in answer["results"]:
        set_status(store, result["itemId"], "dead")
    send([record("r-9", 0, {"a": 1})])
    run_sync(store, app.config, source="manual")
    send([record("r-9", 1, {"a": 2})])
    run_sync(store, app.config, source="manual")
    send([record("r-9", 1, {"a": 3}, conflictResolution="manual")])
    run_sync(store, app.config, source="manual")
    [conflict] = store.list_conflicts(status="open", values=False)

    def scenario(chromium):
        tab = Tab(chromium, live_server.url)
        tab.login("viewer")
        page = tab.page
        assert "Read-only" in page.text_content(".readonly-note")
        # htmx actions: the refusal is shown, nothing is swapped.
        page.click("button[data-sync-now]")
        page.wait_for_selector("#toast:not([hidden])")
        assert "may look but not act" in page.text_content("#toast")
        tab.go("/console/errors")
        page.locator("#error-results tbody tr button", has_text="Retry").first.click()
        page.wait_for_selector("text=may look but not act")
        page.locator("#error-results tbody tr button", has_text="Discard").first.click()
        page.wait_for_selector("text=may look but not act")
        # Plain form posts answer the 403 page.
        tab.go("/console/errors/bulk?action=discard")
        page.click("#bulk-confirm button[type=submit]")
        page.wait_for_selector("text=may look but not act")
        tab.go(f"/console/conflicts/{conflict['id']}")
        page.click("button[value=client]")
        page.wait_for_selector("text=may look but not act")
        tab.close(allow_refusals=True)

    browser.run(scenario)
    assert store.console_queue_counts()["dead"] == 2
    assert store.conflict_counts() == {"open": 1}
