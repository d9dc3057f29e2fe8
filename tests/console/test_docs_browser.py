"""/api/docs in real headless Chromium: Swagger UI 5 (static/vendor/swagger-ui/) renders the
OpenAPI 3.1 document's operations, without a JavaScript error and without a request leaving
the server it came from."""

import json
import re
import urllib.request

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
# Set to a path to look at the page (the test writes a PNG there).
SCREENSHOT = None


def operation_count(live_server):
    """How many operations the served document has (one block each on the page)."""
    with urllib.request.urlopen(f"{live_server.url}/api/openapi.json") as answer:
        paths = json.load(answer)["paths"]
    return sum(1 for ops in paths.values() for method in ops if method != "parameters")


def test_api_docs_render_the_31_document_from_local_files_only(browser, live_server):
    def scenario(chromium):
        context = chromium.new_context()
        context.set_default_timeout(15_000)
        requests, errors = [], []
        # Anything for another host is recorded and refused, never sent.
        context.route(re.compile(r"^(?!" + re.escape(live_server.url) + r"/)"),
                      lambda route: (requests.append(route.request.url), route.abort()))
        page = context.new_page()
        page.on("request", lambda request: requests.append(request.url))
        page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
        # The page names no icon, so the browser asks for /favicon.ico, which the API does
        # not serve: that one 404 is the browser's, not the page's.
        page.on("console", lambda msg: msg.type == "error" and not msg.location.get(
            "url", "").endswith("/favicon.ico") and errors.append(msg.text))
        try:
            assert page.goto(f"{live_server.url}/api/docs").status == 200
            # Swagger UI 4 cannot read 3.1 ("Unable to render this definition"); 5 says OAS 3.1.
            expect(page.locator(".info")).to_contain_text("OAS 3.1")
            batch = page.locator("#operations-telemetry-sendBatch")
            expect(batch).to_be_visible()
            expect(page.locator(".opblock")).to_have_count(operation_count(live_server))
            batch.locator(".opblock-summary").first.click()
            body = batch.locator(".opblock-body")
            expect(body).to_contain_text("Request body")
            expect(body).to_contain_text("202")
            # The request body's example is drawn from the Batch schema; 202 shows its link.
            expect(body.locator(".opblock-section-request-body")).to_contain_text("batchId")
            expect(body.locator("tr.response[data-code='202'] td.response-col_links")) \
                .to_contain_text("BatchStatus")
            expect(body).not_to_contain_text("Could not render")
            if SCREENSHOT:
                page.screenshot(path=SCREENSHOT, full_page=False)
            page_text = page.content()
            assert "Unable to render this definition" not in page_text
        finally:
            context.close()
        return requests, errors

    requests, errors = browser.run(scenario)
    assert errors == [], errors
    assert requests, "the page made no request"
    elsewhere = [url for url in requests if not url.startswith(live_server.url + "/")]
    assert elsewhere == [], elsewhere
