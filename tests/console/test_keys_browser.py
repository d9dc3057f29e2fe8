"""API keys in real headless Chromium: an admin creates a key, copies it with the copy button,
and the key read back from the clipboard works against the API; the secret is gone on reload,
Back and Forward."""

import json
import re
import urllib.request

import pytest
from playwright.sync_api import expect

from .test_browser import Tab

pytestmark = pytest.mark.browser


def track(base_url, raw_key):
    """The status of one real event sent over HTTP with the key."""
    body = json.dumps({"userId": "u-1", "eventType": "learning_module_viewed",
                       "eventData": {"moduleId": "m-1"}}).encode()
    request = urllib.request.Request(f"{base_url}/api/telemetry/track", data=body, headers={
        "Authorization": f"Bearer {raw_key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def test_admin_creates_a_key_copies_it_and_the_copy_works_against_the_api(browser, live_server,
                                                                          users, store):
    def scenario(chromium):
        tab = Tab(chromium, live_server.url, permissions=("clipboard-read", "clipboard-write"))
        tab.login("admin")
        page = tab.page
        page.click("nav >> text=Keys")
        page.wait_for_url(re.compile(r"/console/keys$"))
        form = page.locator("[data-create-key]")
        form.locator("input[name=app]").fill("quiz")
        form.locator("input[name=name]").fill("made in a browser")
        form.locator("input[name=scopes][value=read]").check()
        form.locator("button[type=submit]").click()
        page.wait_for_selector("[data-secret]")
        shown = page.text_content("[data-secret]").strip()
        copy = page.locator("[data-copy]")
        copy.click()
        # A locator waits without evaluating a string in the page, which the console's CSP
        # (no 'unsafe-eval') refuses once Playwright has to poll.
        expect(copy).to_have_text("Copied")
        copied = page.evaluate("navigator.clipboard.readText()")
        # The answer to the POST is no longer in the history: the entry is the key list.
        assert page.url == f"{live_server.url}/console/keys"
        pages = {}
        tab.go("/console/audit")
        page.go_back()
        page.wait_for_url(re.compile(r"/console/keys$"))
        pages["back"] = page.content()
        page.go_forward()
        page.go_back()
        pages["forward and back"] = page.content()
        page.reload()
        pages["reload"] = page.content()
        tab.close()
        return shown, copied, pages

    shown, copied, pages = browser.run(scenario)
    assert shown.startswith("pm_") and copied == shown
    [doc] = store.list_api_keys()  # reload and Back asked for the list, not the POST again
    assert (doc["appId"], doc["name"], doc["scopes"]) == ("quiz", "made in a browser",
                                                         ["ingest", "read"])
    for when, content in pages.items():
        assert doc["keyId"] in content, when
        assert copied not in content and "data-secret" not in content, when
    assert track(live_server.url, copied) == 202
