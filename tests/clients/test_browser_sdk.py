"""The browser SDK in headless Chromium against the real server: offline, reloads, 503s, tabs."""

import json
import time

import pytest

pytestmark = pytest.mark.browser

SDK_PATH = "/static/js/telemetry.js"
TEST_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>SDK test</title>
<script src="/static/js/telemetry.js"></script></head>
<body><script>
const params = new URLSearchParams(location.search);
window.sdkEvents = [];
const telemetry = new TelemetryService({
  endpoint: location.origin,
  apiKey: params.get('apiKey'),
  userId: params.get('userId'),
  maxQueue: Number(params.get('maxQueue') || 500),
  storage: params.get('storage') || 'indexeddb',
});
const sync = new SyncService({
  telemetry,
  flushInterval: Number(params.get('flushInterval') || 500),
  flushDelay: Number(params.get('flushDelay') || 250),
});
for (const name of ['sync:start', 'sync:complete', 'sync:error', 'queue:dropped']) {
  telemetry.on(name, (payload) => window.sdkEvents.push({ name, payload }));
}
window.telemetry = telemetry;
window.sync = sync;
telemetry.initialize();
sync.start();
</script></body></html>
"""
NO_WEB_LOCKS = "Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined });"
CAPTURE = """async ([from, to, options]) => {
  const ids = [];
  for (let i = from; i < to; i += 1) {
    ids.push(telemetry.captureEvent('sdk_browser_test', { i }, options || {}));
  }
  await telemetry.persisted();
  return ids;
}"""


class SdkBrowser:
    """One browser context with the test page served same-origin by the live server."""

    def __init__(self, chromium, live_server, api_key, user_id, init_script=None):
        self.base = live_server.url
        self.query = f"?apiKey={api_key}&userId={user_id}"
        self.context = chromium.new_context()
        if init_script:
            self.context.add_init_script(init_script)
        self.errors = []
        self.batches = []
        self._sdk_body = None
        self.context.route(f"{self.base}/__sdk_test__*", self._page)
        self.context.route(f"{self.base}{SDK_PATH}", self._sdk)
        self.context.on("request", self._record)

    def _page(self, route):
        route.fulfill(status=200, content_type="text/html", body=TEST_PAGE)

    def _sdk(self, route):
        # Fetched from the server once; an offline reload gets the same bytes, as from a cache.
        if self._sdk_body is None:
            response = route.fetch()
            assert response.status == 200
            self._sdk_body = response.body()
        route.fulfill(status=200, content_type="text/javascript", body=self._sdk_body)

    def _record(self, request):
        if request.url.endswith("/api/telemetry/batch") and request.method == "POST":
            body = json.loads(request.post_data)
            ids = [item.get("eventId") or item["itemId"] for item in body["items"]]
            self.batches.append((body["batchId"], ids))

    def open(self, extra=""):
        page = self.context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.goto(f"{self.base}/__sdk_test__{self.query}{extra}")
        page.wait_for_function("() => window.telemetry && window.telemetry.storage")
        return page

    def close(self):
        self.context.close()
        assert not self.errors, f"page JavaScript errors: {self.errors}"


def capture(page, start, stop, **options):
    return page.evaluate(CAPTURE, [start, stop, options])


def sdk_events(page, name):
    return page.evaluate("(n) => sdkEvents.filter((e) => e.name === n).map((e) => e.payload)", name)


def wait_for_server(page, counts, user_id, expected, timeout=30.0):
    """Polls the store until it holds `expected` events for the user, then checks it stays so."""
    # page.wait_for_timeout, not time.sleep: Playwright serves route handlers only while waiting.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if counts.events([user_id])[0] >= expected:
            break
        page.wait_for_timeout(100)
    page.wait_for_timeout(500)  # anything sent twice would arrive now
    return counts.events([user_id])


def wait_queue_empty(page, timeout=10.0):
    deadline = time.monotonic() + timeout
    size = None
    while time.monotonic() < deadline:
        size = page.evaluate("telemetry.queueSize()")
        if size == 0:
            return 0
        page.wait_for_timeout(100)
    return size


@pytest.fixture
def sdk_browser(chromium, live_server, ingest_key, unique_user):
    browser = SdkBrowser(chromium, live_server, ingest_key, unique_user)
    yield browser
    browser.close()


def test_the_documented_snippet_syncs(sdk_browser, counts, unique_user):
    page = sdk_browser.open()
    page.evaluate(
        """() => new Promise((resolve) => {
          telemetry.on('sync:complete', (result) => resolve(result.successCount));
          telemetry.captureEvent('interview_completed', { score: 85, duration: 1800 });
        })"""
    )
    assert wait_for_server(page, counts, unique_user, 1) == (1, 1, 0)
    assert sdk_events(page, "sync:complete")[0]["successCount"] == 1
    assert not sdk_events(page, "sync:error")


def go_offline(sdk_browser, page):
    """Cut the network, and wait until the page knows it (the browser tells it a moment later)."""
    sdk_browser.context.set_offline(True)
    page.wait_for_function("() => navigator.onLine === false")


def test_offline_with_a_reload_then_online_delivers_each_event_once(
    sdk_browser, counts, unique_user
):
    page = sdk_browser.open()
    go_offline(sdk_browser, page)
    capture(page, 0, 150)
    page.reload()
    page.wait_for_function("() => window.telemetry && window.telemetry.storage")
    capture(page, 150, 300)
    assert page.evaluate("telemetry.queueSize()") == 300
    assert counts.events([unique_user])[0] == 0
    assert not sdk_browser.batches, "nothing may be sent while offline"

    sdk_browser.context.set_offline(False)

    assert wait_for_server(page, counts, unique_user, 300) == (300, 300, 0)
    assert wait_queue_empty(page) == 0
    assert sum(r["successCount"] for r in sdk_events(page, "sync:complete")) == 300


def test_server_503_with_retry_after_then_recovery(sdk_browser, counts, unique_user):
    refused = []

    def flaky(route):
        if len(refused) < 3:
            refused.append((time.monotonic(), json.loads(route.request.post_data)["batchId"]))
            route.fulfill(
                status=503,
                headers={"Retry-After": "1"},
                content_type="application/json",
                body=json.dumps({"error": "unavailable", "message": "store down", "fields": {}}),
            )
        else:
            route.continue_()

    sdk_browser.context.route(f"{sdk_browser.base}/api/telemetry/batch", flaky)
    page = sdk_browser.open()
    capture(page, 0, 300)

    assert wait_for_server(page, counts, unique_user, 300) == (300, 300, 0)
    assert wait_queue_empty(page) == 0
    assert len(refused) == 3
    # Retry-After: 1 was honoured between attempts, and the retried batch kept its batchId.
    gaps = [b[0] - a[0] for a, b in zip(refused, refused[1:], strict=False)]
    assert all(gap >= 0.95 for gap in gaps), gaps
    assert len({batch_id for _, batch_id in refused}) == 1
    retried = [b for b, _ in sdk_browser.batches if b == refused[0][1]]
    assert len(retried) == 4
    errors = sdk_events(page, "sync:error")
    assert len(errors) == 3 and all(e["willRetry"] for e in errors)


def test_two_tabs_share_one_queue_and_never_send_an_event_twice(sdk_browser, counts, unique_user):
    first = sdk_browser.open()
    second = sdk_browser.open()
    for start in range(0, 300, 50):
        capture(first if start % 100 == 0 else second, start, start + 50)

    assert wait_for_server(first, counts, unique_user, 300) == (300, 300, 0)
    assert wait_queue_empty(first) == 0
    # Each event went out in one batch only (a batch may be re-sent, under its own batchId).
    owner = {}
    for batch_id, event_ids in sdk_browser.batches:
        for event_id in event_ids:
            assert owner.setdefault(event_id, batch_id) == batch_id
    assert len(owner) == 300


def test_a_full_queue_drops_the_oldest_lowest_priority_events_and_says_so(
    sdk_browser, counts, unique_user
):
    page = sdk_browser.open("&maxQueue=50")
    go_offline(sdk_browser, page)
    low = capture(page, 0, 30, priority="low")
    normal = capture(page, 30, 70)

    dropped = sdk_events(page, "queue:dropped")
    assert sum(d["count"] for d in dropped) == 20
    assert [i for d in dropped for i in d["itemIds"]] == low[:20]
    assert page.evaluate("telemetry.queueSize()") == 50

    sdk_browser.context.set_offline(False)
    assert wait_for_server(page, counts, unique_user, 50) == (50, 50, 0)
    assert sorted(counts.event_ids([unique_user])) == sorted(low[20:] + normal)


def test_rejected_items_are_dropped_with_sync_error_and_the_rest_kept(
    sdk_browser, counts, unique_user
):
    page = sdk_browser.open()
    bad = page.evaluate(
        """async () => {
          telemetry.captureEvent('interview_completed', { score: 85, duration: 1800 });
          const bad = telemetry.captureEvent('interview_completed', { score: 500, duration: -1 });
          telemetry.captureEvent('interview_completed', { score: 10, duration: 60 });
          await telemetry.persisted();
          return bad;
        }"""
    )
    assert wait_for_server(page, counts, unique_user, 2) == (2, 2, 0)
    assert wait_queue_empty(page) == 0
    assert bad not in counts.event_ids([unique_user])
    errors = sdk_events(page, "sync:error")
    assert [i["itemId"] for e in errors for i in e.get("items", [])] == [bad]


def test_page_hide_sends_with_keepalive_and_a_later_visit_adds_nothing(
    sdk_browser, counts, unique_user
):
    # Timers far away: only the page-hide flush can send these before the page goes.
    page = sdk_browser.open("&flushDelay=600000&flushInterval=600000")
    page.evaluate("() => new Promise((resolve) => setTimeout(resolve, 300))")
    ids = capture(page, 0, 40)
    assert not sdk_browser.batches
    page.goto("about:blank")

    assert wait_for_server(page, counts, unique_user, 40) == (40, 40, 0)
    assert sorted(counts.event_ids([unique_user])) == sorted(ids)
    again = sdk_browser.open()
    assert wait_queue_empty(again) == 0
    assert counts.events([unique_user]) == (40, 40, 0)


def test_an_oversized_event_is_refused_at_capture(sdk_browser):
    page = sdk_browser.open()
    result = page.evaluate(
        "() => telemetry.captureEvent('sdk_browser_test', { blob: 'x'.repeat(40000) })"
    )
    assert result is None
    assert sdk_events(page, "sync:error")[0]["error"] == "item_too_large"


def test_without_web_locks_or_indexeddb_two_tabs_still_send_each_event_once(
    chromium, live_server, ingest_key, unique_user, counts
):
    # A browser without the Web Locks API, and the SDK forced onto localStorage.
    browser = SdkBrowser(
        chromium,
        live_server,
        ingest_key,
        unique_user,
        init_script=NO_WEB_LOCKS,
    )
    try:
        first = browser.open("&storage=localstorage")
        second = browser.open("&storage=localstorage")
        assert first.evaluate("telemetry.storage.kind") == "localstorage"
        assert first.evaluate("navigator.locks") is None
        for start in range(0, 200, 25):
            capture(first if start % 50 == 0 else second, start, start + 25)

        assert wait_for_server(first, counts, unique_user, 200) == (200, 200, 0)
        assert wait_queue_empty(second) == 0
        owner = {}
        for batch_id, event_ids in browser.batches:
            for event_id in event_ids:
                assert owner.setdefault(event_id, batch_id) == batch_id
        assert len(owner) == 200
    finally:
        browser.close()


def test_retry_after_accepts_seconds_and_http_dates(sdk_browser):
    page = sdk_browser.open()
    seconds, date, junk = page.evaluate(
        """() => {
          const parse = PrepMateTelemetry.parseRetryAfter;
          const inTwoSeconds = new Date(Date.now() + 2000).toUTCString();
          return [parse('3'), parse(inTwoSeconds), parse('soon')];
        }"""
    )
    assert seconds == 3000
    assert 0 < date <= 2000
    assert junk is None


def test_a_refused_key_keeps_the_queue(chromium, live_server, unique_user, counts):
    browser = SdkBrowser(chromium, live_server, "not-a-key", unique_user)
    try:
        page = browser.open()
        capture(page, 0, 5)
        page.wait_for_function("() => sdkEvents.some((e) => e.name === 'sync:error')")
        error = sdk_events(page, "sync:error")[0]
        assert error["status"] == 401 and error["retryInMs"] >= 60_000
        assert page.evaluate("telemetry.queueSize()") == 5
        assert counts.events([unique_user])[0] == 0
    finally:
        browser.close()


def test_records_save_and_pull(records_api, sdk_browser, counts, unique_user, apply_queue):
    page = sdk_browser.open()
    page.evaluate(
        """async () => {
          telemetry.saveRecord('user_settings', 's1', { theme: 'dark' });
          telemetry.saveRecord('user_settings', 's1', { theme: 'light' });
          await telemetry.persisted();
        }"""
    )
    deadline = time.monotonic() + 10
    query = "SELECT COUNT(*) FROM sync_queue WHERE itemType = 'user_settings' AND userId = ?"
    while counts.query(query, (unique_user,))[0][0] < 2 and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert wait_queue_empty(page) == 0
    apply_queue()

    pulled = page.evaluate("telemetry.pullRecords('user_settings')")
    assert [(r["recordId"], r["version"], r["data"]) for r in pulled] == [
        ("s1", 2, {"theme": "light"})
    ]
    assert page.evaluate("telemetry.knownVersion('user_settings', 's1')") == 2
    assert page.evaluate("telemetry.pullRecords('user_settings')") == []


MODULE_PAGE = """<!doctype html><html><head><meta charset="utf-8"></head><body>
<script type="module">
import { TelemetryService, SyncService } from '/static/js/telemetry.mjs';
window.moduleOk = typeof TelemetryService === 'function' && typeof SyncService === 'function'
  && TelemetryService === window.TelemetryService;
</script></body></html>"""


def test_the_es_module_exports_the_same_classes(sdk_browser):
    sdk_browser.context.route(
        f"{sdk_browser.base}/__sdk_module_test__",
        lambda route: route.fulfill(status=200, content_type="text/html", body=MODULE_PAGE),
    )
    page = sdk_browser.context.new_page()
    page.on("pageerror", lambda exc: sdk_browser.errors.append(str(exc)))
    page.goto(f"{sdk_browser.base}/__sdk_module_test__")
    page.wait_for_function("() => window.moduleOk !== undefined")
    assert page.evaluate("window.moduleOk") is True
