"""analytics.js (@segment/analytics-next's standalone build), unmodified, in headless Chromium:
Segment's snippet with only its CDN host changed loads the library, its settings and its code
chunks from this service and sends every call here. The page is served from a second loopback
origin, so every call is a cross-origin request (CORS); any request to another host fails the
test."""

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from .segment_helpers import event_counts, profile, queued, sync_now

pytestmark = pytest.mark.browser

N = 12
EVENT = "Lesson Viewed"
LOOPBACK = {"127.0.0.1"}

# The app's page: Segment's analytics.js snippet (5.2.0) as its docs give it, with the CDN host
# changed (the script comes from `analytics._cdn`, which also tells the library where its settings
# and chunks are) and __KEY__ and __CDN__ filled in by the test.
PAGE = Path(__file__).with_name("segment_page.html").read_text()


class PageServer:
    """The app's own site: a loopback HTTP server of its own (a second origin) serving the
    page. A real server rather than a Playwright route, so Chromium places the page in the
    loopback address space, as a site on the same machine is (a page it cannot place is public,
    and Chromium's local network access rules block its requests to 127.0.0.1)."""

    def __init__(self, body):
        page = body.encode()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args):
                pass

            def do_GET(self):  # noqa: N802 - the name http.server calls
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


class SegmentPage:
    """A browser context whose page, on its own loopback origin, runs the snippet."""

    def __init__(self, chromium, server_url, write_key, options=None):
        self.server = server_url
        self.site = PageServer(PAGE.replace("__KEY__", write_key).replace("__CDN__", server_url)
                               .replace("__OPTIONS__", json.dumps(options or {})))
        self.origin = self.site.origin
        self.context = chromium.new_context()
        self.foreign = []
        self.requests = []  # (method, url) of every request the page made
        self.answers = []  # (method, path, status) of the answers from the service
        self.context.route("**/*", self._guard)
        self.context.on("request", lambda r: self.requests.append((r.method, r.url)))
        self.context.on("response", self._answer)
        self.page = self.context.new_page()
        self.console = []
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))

    def _guard(self, route):
        if urlsplit(route.request.url).hostname not in LOOPBACK:
            self.foreign.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    def _answer(self, response):
        if response.url.startswith(self.server):
            self.answers.append((response.request.method, urlsplit(response.url).path,
                                 response.status))

    def open(self):
        self.page.goto(f"{self.origin}/shop.html")
        try:
            self.page.wait_for_function(
                "() => window.analytics && window.analytics.initialized", timeout=15000)
        except Exception as exc:
            raise AssertionError(f"analytics.js did not load: {self.console} {self.answers} "
                                 f"{self.requests} {self.foreign}") from exc

    def posts(self, path):
        return [a for a in self.answers if a[0] == "POST" and a[1] == path]

    def wait(self, condition, timeout=30.0):
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; answers so far: {self.answers}")
            # Not time.sleep: Playwright serves route handlers only while it waits.
            self.page.wait_for_timeout(100)

    def close(self):
        self.context.close()
        self.site.stop()
        assert self.foreign == [], f"requests to other hosts: {self.foreign}"
        assert all(urlsplit(url).hostname in LOOPBACK for _m, url in self.requests)


@pytest.fixture
def segment_page(chromium, compat_server):
    made = []

    def make(write_key=None, options=None):
        page = SegmentPage(chromium, compat_server.url, write_key or compat_server.key, options)
        made.append(page)
        return page

    yield make
    for page in made:
        page.close()


JOURNEY = """async ([n, userId, event]) => {
  const sent = [];
  for (let i = 0; i < n / 2; i += 1) sent.push(analytics.track(event, { i, $price: 1.5 }));
  await Promise.all(sent);
  const anonymousId = analytics.user().anonymousId();
  await analytics.identify(userId, { plan: 'pro', email: userId + '@example.com' });
  await analytics.alias(userId, anonymousId);
  const more = [];
  for (let i = n / 2; i < n; i += 1) more.push(analytics.track(event, { i }));
  await Promise.all(more);
  return anonymousId;
}"""


def settled(store, app_id, count):
    return lambda: len(queued(store, app_id)) >= count


def test_the_snippet_loads_everything_from_this_host_and_every_call_lands_once(
        segment_page, compat_server):
    browser = segment_page()
    browser.open()
    user_id = f"user-{uuid.uuid4().hex[:10]}"
    anonymous_id = browser.page.evaluate(JOURNEY, [N, user_id, EVENT])
    # N tracks, the snippet's page view, identify and alias: each its own cross-origin POST.
    browser.wait(settled(compat_server.store, compat_server.app_id, N + 3))
    paths = {a[1] for a in browser.answers}
    assert f"/v1/projects/{compat_server.key}/settings" in paths
    assert f"/analytics.js/v1/{compat_server.key}/analytics.min.js" in paths
    assert {p for p in paths if p.startswith("/v1/") and len(p) == 5} == {
        "/v1/t", "/v1/p", "/v1/i", "/v1/a"}
    assert all(status == 200 for _m, path, status in browser.answers if path.startswith("/v1/"))
    sync_now(compat_server.url, compat_server.key)
    assert event_counts(compat_server.url, compat_server.key) == {EVENT: N, "page_viewed": 1}
    [page_view] = [row for row in queued(compat_server.store, compat_server.app_id, "event")
                   if row["itemData"]["eventType"] == "page_viewed"]
    assert page_view["itemData"]["eventData"]["name"] == "Home"
    assert page_view["itemData"]["metadata"]["context"]["page"]["url"].startswith(browser.origin)
    person = profile(compat_server.url, compat_server.key, user_id)
    assert person is not None and person["traits"]["plan"] == "pro"
    assert anonymous_id in person["anonymousIds"]


def test_the_batching_delivery_strategy_posts_to_v1_b_and_every_call_lands_once(
        segment_page, compat_server):
    batching = {"strategy": "batching", "config": {"size": 5, "timeout": 200}}
    browser = segment_page(options={"integrations": {"Segment.io": {
        "deliveryStrategy": batching}}})
    browser.open()
    browser.page.evaluate("""([n, event]) => {
      for (let i = 0; i < n; i += 1) analytics.track(event, { i });
    }""", [N, EVENT])
    browser.wait(settled(compat_server.store, compat_server.app_id, N + 1))
    posts = [path for method, path, _s in browser.answers if method == "POST"]
    assert set(posts) == {"/v1/b"} and len(posts) < N
    sync_now(compat_server.url, compat_server.key)
    assert event_counts(compat_server.url, compat_server.key) == {EVENT: N, "page_viewed": 1}


def test_503s_are_retried_by_the_library_and_each_event_still_lands_once(
        segment_page, compat_server):
    browser = segment_page()
    refused = []

    def flaky(route):
        if route.request.method == "POST" and len(refused) < 3:
            refused.append(json.loads(route.request.post_data)["messageId"])
            route.fulfill(status=503, content_type="application/json", body="{}",
                          headers={"Access-Control-Allow-Origin": browser.origin})
        else:
            route.continue_()

    browser.context.route(f"{compat_server.url}/v1/t", flaky)
    browser.open()
    browser.page.evaluate("""([n, event]) => {
      for (let i = 0; i < n; i += 1) analytics.track(event, { i });
    }""", [N, EVENT])
    browser.wait(lambda: len(queued(compat_server.store, compat_server.app_id, "event"))
                 >= N + 1)
    assert len(refused) == 3
    # Each retried message is a duplicate of itself, not a variant of its id.
    assert all(row["conflictOf"] is None
               for row in queued(compat_server.store, compat_server.app_id))
    # Let any late retry arrive before counting.
    browser.page.wait_for_timeout(1500)
    sync_now(compat_server.url, compat_server.key)
    assert event_counts(compat_server.url, compat_server.key) == {EVENT: N, "page_viewed": 1}


def test_a_wrong_key_is_refused_once_per_event_and_never_retried(segment_page, compat_server):
    browser = segment_page("not-a-key")
    browser.open()
    browser.page.evaluate("""([event]) => Promise.all(
      [0, 1, 2].map((i) => analytics.track(event, { i })))""", [EVENT])
    browser.wait(lambda: len(browser.posts("/v1/t")) >= 3)
    browser.page.wait_for_timeout(3000)  # retries, were there any, come within a second
    assert [status for _m, _p, status in browser.posts("/v1/t")] == [401, 401, 401]
    assert queued(compat_server.store, compat_server.app_id) == []
