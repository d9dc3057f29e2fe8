"""Both SDKs take `suppressed` as a final answer, and a status they do not know too (SPEC §12).

The server answers `suppressed` for a suppressed person's items (arranged through the port, as
an erasure with suppress=true records it): each SDK drops them from its queue, says so
(`sync:error` with `error`/`code` `suppressed` and the itemIds, willRetry false), counts them in
flush()'s result and never sends them again. A status a release does not know is the server's
answer too: the item leaves the queue (`unknown_status`) rather than being resent for ever. The
real server cannot answer an unknown status, so those two tests stub the answer.
"""

import gzip
import json
import logging

import pytest
import requests
from requests.adapters import HTTPAdapter

from app.accounts.keys import hash_key
from app.accounts.privacy import person_hash
from app.store.common import utcnow

from .test_browser_sdk import SdkBrowser, batch_body, capture, sdk_events


def suppress(live_server, store, ingest_key, user_id):
    app_id = store.find_api_key(hash_key(ingest_key))["appId"]
    store.add_suppression(app_id, person_hash(live_server.app.config, app_id, user_id), utcnow())
    return app_id


# --- browser ---------------------------------------------------------------------------------


@pytest.fixture
def sdk_browser(chromium, live_server, ingest_key, unique_user):
    browser = SdkBrowser(chromium, live_server, ingest_key, unique_user)
    yield browser
    browser.close()


@pytest.mark.browser
def test_browser_drops_suppressed_items_says_so_and_never_resends_them(
        sdk_browser, live_server, store, ingest_key, counts, unique_user):
    app_id = suppress(live_server, store, ingest_key, unique_user)
    page = sdk_browser.open("&flushInterval=600000")
    # The start-up send (which takes whatever waits once the queue opens) is over before the
    # captures: only the flush() calls below send, so their counts are all of it.
    page.evaluate("sync.flush()")
    ids = capture(page, 0, 3)
    result = page.evaluate("sync.flush()")
    assert (result["delivered"], result["pending"], result["suppressed"],
            result["successCount"], result["failureCount"]) == (True, 0, 3, 0, 0)
    [error] = sdk_events(page, "sync:error")
    assert (error["error"], error["itemIds"], error["willRetry"]) == ("suppressed", ids, False)
    [complete] = sdk_events(page, "sync:complete")
    assert complete["suppressed"] == 3
    # Never sent again: another flush and the timer's sweep find nothing to send.
    page.evaluate("sync.flush()")
    page.wait_for_timeout(700)
    assert len(sdk_browser.batches) == 1
    assert counts.events([unique_user]) == (0, 0, 0)

    # Lifted, the person's new events are taken.
    store.lift_suppression(app_id, person_hash(live_server.app.config, app_id, unique_user))
    capture(page, 3, 5)
    result = page.evaluate("sync.flush()")
    assert (result["delivered"], result["successCount"], result["suppressed"]) == (True, 2, 0)
    assert counts.events([unique_user]) == (2, 2, 0)


@pytest.mark.browser
def test_browser_takes_an_unknown_status_as_final(sdk_browser, counts, unique_user):
    def answer(route):
        body = batch_body(route.request)
        results = [{"index": n, "itemId": item["eventId"], "status": "deferred"}
                   for n, item in enumerate(body["items"])]
        route.fulfill(status=202, content_type="application/json", body=json.dumps({
            "batchId": body["batchId"], "accepted": 0, "duplicates": 0, "rejected": 0,
            "results": results}))

    page = sdk_browser.open("&flushInterval=600000")
    # The start-up send (which takes whatever waits once the queue opens) is over before the
    # captures: only the flush() calls below send, so their counts are all of it.
    page.evaluate("sync.flush()")
    sdk_browser.context.route(f"{sdk_browser.base}/api/telemetry/batch", answer)
    ids = capture(page, 0, 2)
    result = page.evaluate("sync.flush()")
    assert (result["delivered"], result["pending"], result["failureCount"]) == (True, 0, 2)
    [error] = sdk_events(page, "sync:error")
    assert (error["error"], error["itemIds"], error["willRetry"]) == ("unknown_status", ids,
                                                                      False)
    assert [item["status"] for item in error["items"]] == ["deferred", "deferred"]
    page.evaluate("sync.flush()")
    page.wait_for_timeout(700)
    assert len(sdk_browser.batches) == 1


# --- Python ----------------------------------------------------------------------------------


@pytest.fixture
def make_client(live_server, ingest_key, unique_user, tmp_path):
    from prepmate_telemetry import TelemetryClient

    clients = []

    def make(**options):
        options.setdefault("user_id", unique_user)
        options.setdefault("queue_path", str(tmp_path / "client-queue.sqlite3"))
        options.setdefault("flush_interval", 0.2)
        client = TelemetryClient(live_server.url, ingest_key, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.shutdown(timeout=2)


class Recording(HTTPAdapter):
    """Counts the batch requests; with `status`, answers each item with it instead of the
    server."""

    def __init__(self, status=None):
        super().__init__()
        self.status = status
        self.requests = 0

    def send(self, request, **kwargs):
        self.requests += 1
        if self.status is None:
            return super().send(request, **kwargs)
        body = json.loads(gzip.decompress(request.body))
        response = requests.Response()
        response.status_code = 202
        response.headers["Content-Type"] = "application/json"
        response._content = json.dumps({"batchId": body["batchId"], "results": [
            {"index": n, "itemId": item["eventId"], "status": self.status}
            for n, item in enumerate(body["items"])]}).encode()
        response.request, response.url = request, request.url
        return response


def test_python_drops_suppressed_items_counts_them_and_logs_once(
        make_client, live_server, store, ingest_key, counts, unique_user, caplog):
    suppress(live_server, store, ingest_key, unique_user)
    client = make_client()
    adapter = Recording()
    client._session.mount(live_server.url, adapter)
    errors = []
    client.on("sync:error", errors.append)
    caplog.set_level(logging.DEBUG, logger="prepmate_telemetry")
    ids = [client.capture_event("sdk_python_test", {"i": i}) for i in range(3)]
    result = client.flush(timeout=10)
    assert (result.delivered, result.pending, result.suppressed) == (True, 0, 3)
    assert [(e["code"], e["itemIds"], e["willRetry"]) for e in errors] == [
        ("suppressed", ids, False)]
    more = client.capture_event("sdk_python_test", {"i": 3})
    result = client.flush(timeout=10)
    assert (result.delivered, result.suppressed) == (True, 1)
    assert errors[-1]["itemIds"] == [more]
    client.flush(timeout=1)
    assert adapter.requests == 2  # one batch per flush, neither sent again
    assert counts.events([unique_user]) == (0, 0, 0)
    said = [r for r in caplog.records if "suppressed" in r.getMessage()]
    assert [r.levelno for r in said] == [logging.WARNING, logging.DEBUG]


def test_python_takes_an_unknown_status_as_final(make_client, live_server, caplog):
    client = make_client()
    adapter = Recording(status="deferred")
    client._session.mount(live_server.url, adapter)
    errors = []
    client.on("sync:error", errors.append)
    ids = [client.capture_event("sdk_python_test", {"i": i}) for i in range(2)]
    result = client.flush(timeout=10)
    assert (result.delivered, result.pending, result.suppressed) == (True, 0, 0)
    assert [(e["code"], e["itemIds"], e["willRetry"]) for e in errors] == [
        ("unknown_status", ids, False)]
    client.flush(timeout=1)
    assert adapter.requests == 1
    assert any("deferred" in r.getMessage() for r in caplog.records)
