"""The browser SDK in headless Chromium against the real server: offline, reloads, 503s, tabs."""

import gzip
import json
import time
from urllib.parse import urlsplit

import pytest
import requests

from prepmate_telemetry import timestamp_problem

from .conftest import CLIENT_TIMES

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
  context: params.get('context') !== '0',
  optOutByDefault: params.get('optOutByDefault') === '1',
});
const sync = new SyncService({
  telemetry,
  flushInterval: Number(params.get('flushInterval') || 500),
});
for (const name of ['sync:start', 'sync:complete', 'sync:error', 'queue:dropped']) {
  telemetry.on(name, (payload) => window.sdkEvents.push({ name, payload }));
}
window.telemetry = telemetry;
window.sync = sync;
telemetry.initialize();
sync.start();
if (params.get('leave')) {
  // The app's own handlers, added after the SDK's.
  addEventListener('pagehide', () => telemetry.captureEvent('page_leave', {}));
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') telemetry.captureEvent('page_hidden', {});
  });
}
</script></body></html>
"""
BLANK_PAGE = "<!doctype html><title>another page of the origin</title>"
# Another tab of the origin holding a transaction on the SDK's database until told to stop.
HOLD_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>holder</title></head><body><script>
window.holding = false;
window.release = false;
const open = indexedDB.open('prepmate-telemetry');
open.onsuccess = () => {
  const db = open.result;
  const store = db.transaction(['queue', 'meta'], 'readwrite').objectStore('meta');
  const spin = () => {
    if (window.release) {
      db.close();
      window.released = true;
      return;
    }
    store.get('hold').onsuccess = () => {
      window.holding = true;
      spin();
    };
  };
  spin();
};
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
# Captures without waiting for IndexedDB, as an app does right before the page goes.
CAPTURE_NOW = """([from, to, options]) => {
  const ids = [];
  for (let i = from; i < to; i += 1) {
    ids.push(telemetry.captureEvent('sdk_browser_test', { i }, options || {}));
  }
  return ids;
}"""
JOURNAL_SIZE = """() => Object.keys(localStorage)
  .filter((key) => key.startsWith('prepmate-telemetry:j:')).length"""


def batch_body(request):
    """A batch request's JSON body, gzipped (Content-Encoding: gzip) or not."""
    data = request.post_data_buffer
    if (request.headers.get("content-encoding") or "").lower() == "gzip":
        data = gzip.decompress(data)
    return json.loads(data)


class SdkBrowser:
    """One browser context with the test page served same-origin by the live server.

    Every request must stay on 127.0.0.1: close() fails the test otherwise.
    """

    def __init__(self, chromium, live_server, api_key, user_id, init_script=None):
        self.base = live_server.url
        self.query = f"?apiKey={api_key}" + (f"&userId={user_id}" if user_id else "")
        self.context = chromium.new_context()
        if init_script:
            self.context.add_init_script(init_script)
        self.errors = []
        self.batches = []
        # The batch request bodies (decoded) and whether each came gzipped.
        self.bodies = []
        self.statuses = []
        self.foreign = []
        self._sdk_body = None
        self.context.route(f"{self.base}/__sdk_test__*", self._page)
        self.context.route(
            f"{self.base}/__sdk_hold__",
            lambda route: route.fulfill(status=200, content_type="text/html", body=HOLD_PAGE),
        )
        self.context.route(
            f"{self.base}/__sdk_blank__",
            lambda route: route.fulfill(status=200, content_type="text/html", body=BLANK_PAGE),
        )
        self.context.route(f"{self.base}{SDK_PATH}", self._sdk)
        self.context.on("request", self._record)
        self.context.on("response", self._answer)

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
        parts = urlsplit(request.url)
        if parts.scheme not in ("about", "data", "blob") and parts.hostname != "127.0.0.1":
            self.foreign.append(request.url)
        if request.url.endswith("/api/telemetry/batch") and request.method == "POST":
            body = batch_body(request)
            ids = [item.get("eventId") or item["itemId"] for item in body["items"]]
            self.batches.append((body["batchId"], ids))
            gzipped = (request.headers.get("content-encoding") or "").lower() == "gzip"
            self.bodies.append((body, gzipped))

    def _answer(self, response):
        if response.url.endswith("/api/telemetry/batch") and response.request.method == "POST":
            self.statuses.append(response.status)

    def hold_database(self):
        """Another tab that holds a transaction on the SDK's database until release()."""
        holder = self.context.new_page()
        holder.goto(f"{self.base}/__sdk_hold__")
        holder.wait_for_function("() => window.holding")
        return holder

    @staticmethod
    def release(holder):
        holder.evaluate("() => { window.release = true; }")
        holder.wait_for_function("() => window.released")
        holder.close()

    def open(self, extra=""):
        page = self.context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.goto(f"{self.base}/__sdk_test__{self.query}{extra}")
        page.wait_for_function("() => window.telemetry && window.telemetry.storage")
        return page

    def close(self):
        self.context.close()
        assert not self.errors, f"page JavaScript errors: {self.errors}"
        assert not self.foreign, f"requests left 127.0.0.1: {self.foreign}"


def capture(page, start, stop, **options):
    return page.evaluate(CAPTURE, [start, stop, options])


def capture_now(page, start, stop, **options):
    return page.evaluate(CAPTURE_NOW, [start, stop, options])


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
            refused.append((time.monotonic(), batch_body(route.request)["batchId"]))
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
    page = sdk_browser.open("&flushInterval=600000")
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
        # The id of the refused request, as the server answered it (and logged it).
        assert len(error["requestId"]) == 32 and int(error["requestId"], 16) >= 0
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
    while (len(counts.queued(unique_user, "user_settings")) < 2
           and time.monotonic() < deadline):
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


# --- Page close, reload, storage changes: exact counts in the server's store ---


def test_a_reload_while_another_tab_holds_the_database_keeps_all_300(
    sdk_browser, counts, unique_user
):
    page = sdk_browser.open()
    holder = sdk_browser.hold_database()
    go_offline(sdk_browser, page)
    ids = capture_now(page, 0, 300)
    # IndexedDB cannot take them (the other tab's transaction): the journal has each one.
    assert page.evaluate(JOURNAL_SIZE) == 300
    page.reload()
    page.wait_for_function("() => window.telemetry")
    assert counts.events([unique_user])[0] == 0

    sdk_browser.release(holder)
    sdk_browser.context.set_offline(False)
    assert wait_for_server(page, counts, unique_user, 300) == (300, 300, 0)
    assert sorted(counts.event_ids([unique_user])) == sorted(ids)
    assert wait_queue_empty(page) == 0
    assert page.evaluate(JOURNAL_SIZE) == 0
    assert set(sdk_browser.statuses) == {202}


def test_closing_the_page_at_once_sends_all_250_at_page_hide(sdk_browser, counts, unique_user):
    # Timers far away: only page hide sends before the page goes. Without the automatic context
    # (some 400 bytes an event here: the user agent, this page's long URL), 250 small events fit
    # the browser's 64 KiB keepalive budget; with it, what does not fit goes with the next page.
    page = sdk_browser.open("&flushInterval=600000&context=0")
    page.evaluate("() => new Promise((resolve) => setTimeout(resolve, 300))")
    ids = capture_now(page, 0, 250)
    page.close()

    waiter = sdk_browser.context.new_page()  # not at the origin: it sends nothing
    assert wait_for_server(waiter, counts, unique_user, 250) == (250, 250, 0)
    assert sorted(counts.event_ids([unique_user])) == sorted(ids)
    # In requests of at most 100 (the batch size), together within the keepalive budget.
    sizes = [log["itemCount"] for log in counts.batch_logs_of(unique_user)]
    assert sorted(sizes) == [50, 100, 100]

    again = sdk_browser.open()
    assert wait_queue_empty(again) == 0
    assert wait_for_server(again, counts, unique_user, 250) == (250, 250, 0)
    # A batch sent again by the next page (its answer came too late) keeps its batchId and
    # items: the server answers as before (no new batch), never 409.
    assert 409 not in sdk_browser.statuses
    assert len(counts.batch_logs_of(unique_user)) == 3
    assert again.evaluate(JOURNAL_SIZE) == 0


def test_events_captured_in_the_apps_own_page_hide_handlers_arrive_once_per_visit(
    sdk_browser, counts, unique_user
):
    page = sdk_browser.open("&leave=1&flushInterval=600000")
    for _ in range(4):
        page.goto(f"{sdk_browser.base}/__sdk_test__{sdk_browser.query}&leave=1")
        page.wait_for_function("() => window.telemetry && window.telemetry.storage")
    page.goto("about:blank")

    assert wait_for_server(page, counts, unique_user, 10) == (10, 10, 0)
    types = sorted(item["eventType"] for item in counts.event_items([unique_user]))
    assert types == ["page_hidden"] * 5 + ["page_leave"] * 5
    again = sdk_browser.open()
    assert wait_queue_empty(again) == 0
    assert counts.events([unique_user]) == (10, 10, 0)


UPGRADE = """async () => {
  const current = await new Promise((resolve) => {
    const req = indexedDB.open('prepmate-telemetry');
    req.onsuccess = () => { const v = req.result.version; req.result.close(); resolve(v); };
  });
  return new Promise((resolve, reject) => {
    const req = indexedDB.open('prepmate-telemetry', current + 1);
    req.onupgradeneeded = () => req.result.createObjectStore('app_cache');
    req.onsuccess = () => { req.result.close(); resolve(current + 1); };
    req.onerror = () => reject(req.error);
  });
}"""
STREAM = """([count, gapMs]) => new Promise((resolve) => {
  const ids = [];
  window.streamed = ids;
  const timer = setInterval(() => {
    ids.push(telemetry.captureEvent('sdk_browser_test', { i: ids.length }));
    if (ids.length === count) {
      clearInterval(timer);
      resolve(ids);
    }
  }, gapMs);
})"""


def test_another_tab_upgrading_the_database_mid_stream_loses_nothing(
    sdk_browser, counts, unique_user
):
    page = sdk_browser.open()
    other = sdk_browser.context.new_page()
    other.goto(f"{sdk_browser.base}/__sdk_blank__")
    page.evaluate(f"() => {{ window.stream = ({STREAM})([150, 10]); }}")
    page.wait_for_function("() => window.streamed.length >= 50")
    assert other.evaluate(UPGRADE) == 2
    ids = page.evaluate("() => window.stream")
    assert len(ids) == 150

    assert wait_for_server(page, counts, unique_user, 150) == (150, 150, 0)
    assert sorted(counts.event_ids([unique_user])) == sorted(ids)
    assert wait_queue_empty(page) == 0
    # The upgraded database is the one the tab writes to now.
    assert page.evaluate("telemetry.storage.db.version") == 2
    capture(page, 150, 160)
    assert wait_for_server(page, counts, unique_user, 160) == (160, 160, 0)


def test_a_steady_stream_goes_out_in_few_requests(sdk_browser, counts, unique_user):
    page = sdk_browser.open("&flushInterval=1000")
    ids = page.evaluate(STREAM, [300, 12])

    assert wait_for_server(page, counts, unique_user, 300) == (300, 300, 0)
    assert sorted(counts.event_ids([unique_user])) == sorted(ids)
    assert len(sdk_browser.batches) <= 10, [len(b) for _, b in sdk_browser.batches]


def test_the_journal_keeps_max_queue_while_indexeddb_is_held(sdk_browser, counts, unique_user):
    page = sdk_browser.open("&maxQueue=50")
    holder = sdk_browser.hold_database()
    go_offline(sdk_browser, page)
    low = capture_now(page, 0, 30, priority="low")
    normal = capture_now(page, 30, 70)

    dropped = sdk_events(page, "queue:dropped")
    assert [i for d in dropped for i in d["itemIds"]] == low[:20]
    assert page.evaluate(JOURNAL_SIZE) == 50
    page.reload()
    page.wait_for_function("() => window.telemetry")
    sdk_browser.release(holder)
    sdk_browser.context.set_offline(False)

    assert wait_for_server(page, counts, unique_user, 50) == (50, 50, 0)
    assert sorted(counts.event_ids([unique_user])) == sorted(low[20:] + normal)
    assert wait_queue_empty(page) == 0


FILL_LOCAL_STORAGE = """() => {
  // Fill the origin's localStorage to its quota, as other code on the page may.
  let chunk = 'x'.repeat(1 << 20);
  for (let i = 0; chunk.length > 0; i += 1) {
    try {
      localStorage.setItem('filler:' + i, chunk);
    } catch (err) {
      chunk = chunk.slice(0, chunk.length >> 1);
    }
  }
}"""


def test_with_local_storage_full_capture_says_so_and_nothing_is_lost_silently(
    sdk_browser, counts, unique_user
):
    page = sdk_browser.open()
    holder = sdk_browser.hold_database()
    go_offline(sdk_browser, page)
    journaled = capture_now(page, 0, 10)
    page.evaluate(FILL_LOCAL_STORAGE)
    unjournaled = capture_now(page, 10, 20)

    errors = [e for e in sdk_events(page, "sync:error") if e["error"] == "journal_full"]
    assert [i["itemId"] for e in errors for i in e["items"]] == unjournaled
    assert "QuotaExceededError" in errors[0]["message"]
    # The page goes before IndexedDB could take anything: the journaled ten survive; the
    # other ten are lost, and capture said so for each.
    page.reload()
    page.wait_for_function("() => window.telemetry")
    sdk_browser.release(holder)
    sdk_browser.context.set_offline(False)
    assert wait_for_server(page, counts, unique_user, 10) == (10, 10, 0)
    assert sorted(counts.event_ids([unique_user])) == sorted(journaled)

    # Full again (the journal gave its room back), with IndexedDB free: said so again, and
    # all of them arrive.
    page.evaluate(FILL_LOCAL_STORAGE)
    later = capture(page, 20, 40)
    errors = [e for e in sdk_events(page, "sync:error") if e["error"] == "journal_full"]
    assert [i["itemId"] for e in errors for i in e["items"]] == later
    assert wait_for_server(page, counts, unique_user, 30) == (30, 30, 0)


def test_a_callers_client_timestamp_is_kept_and_a_bad_one_refused_at_capture(
    sdk_browser, counts, unique_user
):
    page = sdk_browser.open()
    kept = ["2020-02-29T23:59:59.123456+05:30", "0001-01-01T00:00:00Z", "1999-12-31T23:00:00-01:00"]
    refused = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "2026-02-30T00:00:00Z",
               "2026-01-01T12:00:00", "yesterday", 1767225600]
    results = page.evaluate(
        """async ([kept, refused]) => {
          const capture = (ts) => telemetry.captureEvent('sdk_browser_test', {},
            { metadata: { clientTimestamp: ts, source: 'import' } });
          const ids = kept.map(capture);
          const nulls = refused.map(capture);
          await telemetry.persisted();
          return [ids, nulls];
        }""",
        [kept, refused],
    )
    ids, nulls = results
    assert nulls == [None] * len(refused) and None not in ids
    errors = sdk_events(page, "sync:error")
    assert [e["error"] for e in errors] == ["invalid_item"] * len(refused)
    assert all("metadata.clientTimestamp" in e["fields"] for e in errors)

    assert wait_for_server(page, counts, unique_user, 3) == (3, 3, 0)
    stored = {item["eventId"]: item["metadata"] for item in counts.event_items([unique_user])}
    assert [stored[i]["clientTimestamp"] for i in ids] == kept
    assert all(stored[i]["source"] == "import" for i in ids)


def test_flush_resolves_with_what_it_delivered(sdk_browser, counts, unique_user):
    page = sdk_browser.open("&flushInterval=600000")
    go_offline(sdk_browser, page)
    capture(page, 0, 5)
    offline = page.evaluate("sync.flush()")
    assert (offline["delivered"], offline["pending"], offline["reason"]) == (False, 5, "offline")

    sdk_browser.context.set_offline(False)
    online = page.evaluate("sync.flush()")
    assert (online["delivered"], online["pending"]) == (True, 0)
    assert counts.events([unique_user]) == (5, 5, 0)

    # Another tab holds the send lock: flush waits for it, then sends what is left.
    other = sdk_browser.open("&flushInterval=600000")
    other.evaluate(
        """() => { window.held = new Promise((held) => navigator.locks.request(
             'prepmate-telemetry-sync',
             () => { held(); return new Promise((r) => setTimeout(r, 1000)); })); }"""
    )
    other.evaluate("() => window.held")
    capture(page, 5, 8)
    waited = page.evaluate("sync.flush()")
    assert (waited["delivered"], waited["pending"]) == (True, 0)
    assert counts.events([unique_user]) == (8, 8, 0)


def test_both_sdks_refuse_the_same_client_timestamps_and_the_server_takes_the_rest(
    sdk_browser, live_server, ingest_key, counts, unique_user
):
    values = [value for value, _ in CLIENT_TIMES]
    page = sdk_browser.open()
    browser_says = page.evaluate(
        "(values) => values.map((v) => PrepMateTelemetry.timestampProblem(v))", values
    )
    assert browser_says == [timestamp_problem(value) for value in values]
    assert [problem is None for problem in browser_says] == [valid for _, valid in CLIENT_TIMES]

    taken = [value for value, valid in CLIENT_TIMES if valid]
    answer = requests.post(
        f"{live_server.url}/api/telemetry/batch",
        json={"batchId": f"b-{unique_user}", "userId": unique_user, "items": [
            {"itemType": "event", "eventId": f"e-{unique_user}-{i}", "eventType": "sdk_test",
             "eventData": {}, "metadata": {"clientTimestamp": value}}
            for i, value in enumerate(taken)]},
        headers={"Authorization": f"Bearer {ingest_key}"},
        timeout=10,
    )
    assert answer.status_code == 202 and answer.json()["accepted"] == len(taken)
