"""The explorer and the people pages in real headless Chromium (Debian's): filter and chart,
an event, its person, the export, an admin's deletion, a viewer refused, the no-JavaScript
path; no JavaScript error and no request to another host in any of them."""

import json
import re
import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from app.store.common import utcnow
from app.sync.engine import run_sync

from . import test_browser
from .conftest import event

pytestmark = pytest.mark.browser


class Tab(test_browser.Tab):
    """A console tab (test_browser.Tab) that takes downloads and refuses (and records) every
    request to a host other than the live server's."""

    def __init__(self, browser, base_url, javascript=True):
        super().__init__(browser, base_url, javascript, accept_downloads=True)
        self.elsewhere = []
        self.context.route(re.compile(r"^(?!" + re.escape(base_url) + r"/)"), self._refuse)

    def _refuse(self, route):
        self.elsewhere.append(route.request.url)
        route.abort()

    def legend(self):
        return {el.get_attribute("data-type-total"): int(el.text_content().replace(",", ""))
                for el in self.page.locator("[data-type-total]").all()}

    def close(self):
        super().close()
        assert self.elsewhere == [], self.elsewhere


def dated(event_type, when, **data):
    item = event(event_type, **data)
    item["metadata"] = {"clientTimestamp": when.isoformat()}
    return item


@pytest.fixture
def people(send, store, app):
    """alice (profile, anonymous id, 3 viewed and 1 flipped two hours ago, 2 viewed three days
    ago) and bob (1 started an hour ago)."""
    now = utcnow()
    send([{"itemType": "identify", "eventId": f"id-{uuid.uuid4().hex[:8]}", "userId": "alice",
           "anonymousId": "anon-a", "traits": {"plan": "pro"}}], user_id="alice")
    send([dated("viewed", now - timedelta(hours=2), marker="alice-payload") for _ in range(3)]
         + [dated("flipped", now - timedelta(hours=2))]
         + [dated("viewed", now - timedelta(days=3)) for _ in range(2)], user_id="alice")
    send([dated("started", now - timedelta(hours=1))], user_id="bob")
    run_sync(store, app.config, source="manual")


def test_filter_chart_event_person_export_and_delete(browser, live_server, people, users,
                                                     erase_pending):
    def scenario(chromium):
        tab = Tab(chromium, live_server.url)
        tab.login("admin")
        page = tab.page
        tab.go("/console/events")
        page.evaluate("window.__sameDocument = true")
        assert tab.legend() == {"viewed": 3, "flipped": 1, "started": 1}
        # Filter by type: htmx swaps the chart and the events, and the URL follows.
        page.fill("input[name=type]", "viewed")
        page.press("input[name=type]", "Enter")
        page.wait_for_url(re.compile(r"type=viewed"))
        expect(page.locator("#event-results tbody tr")).to_have_count(3)
        assert tab.legend() == {"viewed": 3}
        counts = [int(r.get_attribute("data-count")) for r in
                  page.locator("svg rect[data-type=viewed]").all()]
        assert counts == [3]
        title = page.locator("svg g[data-total='3'] title").text_content()
        assert title.endswith(": 3 events — viewed 3")
        # A week, per day: the older two count in their own day.
        page.select_option("select[name=range]", "7d")
        page.wait_for_url(re.compile(r"range=7d"))
        expect(page.locator("#event-results tbody tr")).to_have_count(5)
        assert tab.legend() == {"viewed": 5}
        assert page.locator("[data-chart]").get_attribute("data-bucket") == "day"
        assert sorted(int(r.get_attribute("data-count")) for r in
                      page.locator("svg rect[data-type=viewed]").all()) == [2, 3]
        assert page.evaluate("window.__sameDocument") is True
        # An event, then its person.
        page.locator("#event-results tbody tr >> nth=0").locator("a").first.click()
        page.wait_for_url(re.compile(r"/console/events/testapp/"))
        expect(page.locator("[data-payload]")).to_contain_text("marker")
        page.locator("[data-fact=user] a").click()
        page.wait_for_url(re.compile(r"/console/people/alice\?app=testapp$"))
        expect(page.locator("[data-fact=anonymous-ids]")).to_contain_text("anon-a")
        assert page.locator("tr[data-kind=event]").count() == 6
        # The export downloads the person's document.
        with page.expect_download() as download_info:
            page.click("[data-export]")
        with open(download_info.value.path(), encoding="utf-8") as saved:
            document = json.load(saved)
        assert document["userId"] == "alice" and len(document["events"]) == 6
        # Delete, typing the userId to confirm.
        page.fill("#confirm-user", "alice")
        page.check("input[name=suppress]")
        page.click("[data-delete-form] button[type=submit]")
        page.wait_for_url(re.compile(r"deletion="))
        erase_pending()
        page.reload()
        expect(page.locator("[data-deletion]")).to_have_attribute("data-deletion", "done")
        assert page.locator("tr[data-kind]").count() == 0
        assert "anon-a" not in page.content()
        tab.go("/console/events")
        assert tab.legend() == {"started": 1}
        tab.close()

    browser.run(scenario)


def test_a_viewer_sees_no_delete_form_and_a_forged_post_is_refused(browser, live_server,
                                                                    people, users, store):
    def scenario(chromium):
        tab = Tab(chromium, live_server.url)
        tab.login("viewer")
        page = tab.page
        tab.go("/console/people/alice?app=testapp")
        assert page.locator("[data-delete-form]").count() == 0
        token = page.locator("input[name=csrf_token]").first.get_attribute("value")
        answer = page.request.post(f"{live_server.url}/console/people/delete", form={
            "csrf_token": token, "userId": "alice", "app": "testapp", "confirm": "alice"})
        assert answer.status == 403
        assert "may look but not act" in answer.text()
        tab.go("/console/people/alice?app=testapp")
        assert page.locator("tr[data-kind=event]").count() == 6
        # Typing a from time chooses the custom range, and htmx follows it.
        tab.go("/console/events?range=1h")
        assert tab.legend() == {}
        page.fill("input[name=from]", (utcnow() - timedelta(hours=3)).strftime(
            "%Y-%m-%dT%H:%M:%S"))
        page.wait_for_url(re.compile(r"range=custom"))
        expect(page.locator("[data-type-total=viewed]")).to_have_text("3")
        assert tab.legend() == {"viewed": 3, "flipped": 1, "started": 1}
        tab.close()

    browser.run(scenario)


def test_without_javascript_the_filters_are_a_plain_form(browser, live_server, people, users):
    def scenario(chromium):
        tab = Tab(chromium, live_server.url, javascript=False)
        tab.login("viewer")
        page = tab.page
        tab.go("/console/events")
        page.fill("input[name=user]", "bob")
        page.click("form[data-explorer] button[type=submit]")
        page.wait_for_url(re.compile(r"user=bob"))
        assert tab.legend() == {"started": 1}
        assert page.locator("#event-results tbody tr").count() == 1
        page.select_option("select[name=range]", "custom")
        page.fill("input[name=user]", "")
        start = (utcnow() - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%S")
        page.fill("input[name=from]", start)
        page.click("form[data-explorer] button[type=submit]")
        page.wait_for_url(re.compile(r"range=custom"))
        assert tab.legend() == {"viewed": 3, "flipped": 1, "started": 1}
        tab.close()

    browser.run(scenario)
