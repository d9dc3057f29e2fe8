"""posthog-js (the pinned package's array.js, served by this service from /static/) in headless
Chromium, on a page of a second loopback origin, so every request it makes is cross-origin and
CORS is exercised. Nothing may be fetched from any host but 127.0.0.1.

At start posthog-js loads /array/<token>/config.js (its remote config; /array/<token>/config
as a fallback) and asks /flags/?v=2 after an identify; it sends batches to /e/ as gzip with
Content-Type text/plain and no Content-Encoding (the config says gzip-js is supported), as JSON
with compression off, and as base64 form data through sendBeacon with compression off. It
counts only a 200 as sent, retries other answers below 400 and 5xx with a backoff of about 3 s,
6 s, ..., and drops a request answered 4xx.
"""

import threading
import time
import uuid
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from .posthog_helpers import event_counts, posthog_key, posthog_logs, profile, queued, sync_now

pytestmark = pytest.mark.browser

N = 12
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Lesson page</title>
<script src="{server}/static/array.js"></script></head>
<body><p>PostHog compatibility test page</p><script>
posthog.init({key!r}, {{
  api_host: {server!r},
  capture_pageleave: false,
  // posthog-js drops the events of a browser driven by automation (navigator.webdriver) as a
  // bot's; its option for end-to-end tests keeps them.
  opt_out_useragent_filter: true,
  request_queue_config: {{ flush_interval_ms: 300 }},
  {extra}
}});
</script></body></html>
"""


@contextmanager
def page_origin(html):
    """A second loopback origin serving `html` at / (and nothing else)."""
    body = html.encode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args):
            pass

        def do_GET(self):
            if self.path.split("?")[0] != "/":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


class Traffic:
    """Every request the page made: (method, url, content type, first body bytes), the answers
    (url, status, Access-Control-Allow-Origin), failures, and any host other than loopback."""

    def __init__(self, page):
        self.requests, self.answers, self.failed, self.foreign = [], [], [], []
        page.on("request", self._request)
        page.on("response", lambda r: self.answers.append(
            (r.url, r.status, r.headers.get("access-control-allow-origin"))))
        page.on("requestfailed", lambda r: self.failed.append((r.url, r.failure)))

    def _request(self, request):
        body = request.post_data_buffer or b""
        self.requests.append((request.method, request.url,
                              request.headers.get("content-type"), body[:2]))

    def to(self, path):
        return [r for r in self.requests if urlsplit(r[1]).path == path]


def open_page(chromium, served, key=None, extra="", route=None):
    """A page of the second origin running posthog-js against the server; (page, traffic,
    context, stop)."""
    context = chromium.new_context()
    foreign = []

    def guard(r):
        if urlsplit(r.request.url).hostname != "127.0.0.1":
            foreign.append(r.request.url)
            r.abort()
        elif route is not None:
            route(r)
        else:
            r.continue_()

    context.route("**/*", guard)
    page = context.new_page()
    traffic = Traffic(page)
    traffic.foreign = foreign
    html = PAGE.format(server=served.url, key=key or served.key, extra=extra)
    origin = page_origin(html)
    url = origin.__enter__()
    page.goto(url)
    page.wait_for_function("() => window.posthog && window.posthog.__loaded")

    def stop():
        context.close()
        origin.__exit__(None, None, None)

    return page, traffic, stop


def wait_for(page, condition, timeout=30):
    """Poll `condition` until it holds; the page's events (and routes) are served meanwhile,
    which Playwright's sync API does only inside its own calls."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        page.wait_for_timeout(200)
    return condition()


CALLS = """([user, n]) => {
  for (let i = 0; i < n / 2; i += 1) posthog.capture('lesson_done', { i, 'score.max': 10 });
  posthog.identify(user, { plan: 'pro' }, { signup: 'ads' });
  for (let i = n / 2; i < n; i += 1) posthog.capture('lesson_done', { i, 'score.max': 10 });
  return posthog.get_property('$device_id');
}"""
# posthog-js sends its requests concurrently, so an alias made right after the identify can
# arrive first; before either id has a profile the alias alone cannot say which id is the
# person (posthog-js names the person first, posthog-python last). The page aliases once the
# identify is in, as an app does at a later step of its flow.
ALIAS = "(alias) => posthog.alias(alias)"


@pytest.mark.parametrize("mode", ["gzip-js", "json"])
def test_captures_identity_and_page_view_land_once(chromium, compat_server, mode):
    served = compat_server
    user, other = f"user-{uuid.uuid4().hex[:10]}", f"other-{uuid.uuid4().hex[:10]}"
    extra = "disable_compression: true," if mode == "json" else ""
    page, traffic, stop = open_page(chromium, served, extra=extra)
    try:
        device = page.evaluate(CALLS, [user, N])
        assert wait_for(page, lambda: queued(served.store, served.app_id, "identify"))
        page.evaluate(ALIAS, other)
        if mode == "json":  # and base64 form data, which sendBeacon uses without gzip
            page.evaluate("() => posthog.capture('lesson_beacon', {}, {transport: 'sendBeacon'})")
        expected = N + 1 + (mode == "json")  # the page view posthog-js captured at start
        assert wait_for(page, lambda: sum(
            1 for row in queued(served.store, served.app_id, "event")) >= expected)
        assert wait_for(page, lambda: queued(served.store, served.app_id, "alias"))
        page.wait_for_timeout(1000)  # anything more would arrive now
        events = queued(served.store, served.app_id, "event")
        assert len(events) == expected
        assert traffic.foreign == [] and traffic.failed == []
        sent = traffic.to("/e/")
        assert sent
        for _method, _url, content_type, start in sent:
            if mode == "gzip-js":
                assert (content_type, start) == ("text/plain", b"\x1f\x8b")
            elif "compression=base64" in _url:
                assert content_type == "application/x-www-form-urlencoded"
            else:
                assert content_type == "application/json"
        if mode == "json":
            assert any("compression=base64" in url for _m, url, _c, _s in sent)
        # Cross-origin, answered with CORS: every answer of the server allows the page.
        origin = page.evaluate("() => location.origin")
        # (sendBeacon's answers are opaque to the page: left out)
        assert {allow for url, _status, allow in traffic.answers
                if url.startswith(served.url) and "/static/" not in url
                and "compression=base64" not in url} == {origin}
        assert {status for url, status, _ in traffic.answers if "/e/" in url} == {200}
    finally:
        stop()

    by_user = {e["itemData"]["eventData"].get("i"): e for e in events
               if e["itemData"]["eventType"] == "lesson_done"}
    assert sorted(by_user) == list(range(N))
    assert by_user[0]["userId"] == device  # anonymous: its device id is the queue key
    assert by_user[0]["itemData"].get("anonymousId") == device
    assert by_user[N - 1]["userId"] == user
    assert by_user[N - 1]["itemData"]["eventData"][posthog_key("score.max")] == 10
    assert by_user[N - 1]["itemData"]["metadata"]["source"] == "posthog"

    sync_now(served.url, served.key)
    counts = event_counts(served.url, served.key)
    assert counts["lesson_done"] == N and counts["page_viewed"] == 1
    person = profile(served.url, served.key, user)
    assert person is not None
    assert person["traits"]["plan"] == "pro" and person["traits"]["signup"] == "ads"
    # posthog.alias(other) after identify: $create_alias from the user to `other`, linked
    # to the user, whose profile it is.
    assert device in person["anonymousIds"] and other in person["anonymousIds"]
    assert person["eventCount"] == expected  # the anonymous history is the user's


def test_it_starts_on_this_host_alone_without_feature_flags(chromium, compat_server):
    served = compat_server
    page, traffic, stop = open_page(chromium, served)
    try:
        page.evaluate("() => posthog.identify('someone')")
        assert wait_for(page, lambda: traffic.to("/flags/"))
        flags = page.evaluate("""() => new Promise((done) => {
          posthog.onFeatureFlags((flags) => done(flags));
        })""")
        assert flags == []
        assert {status for url, status, _ in traffic.answers
                if urlsplit(url).path == "/flags/"} == {200}
        assert page.evaluate("() => posthog.isFeatureEnabled('anything')") in (False, None)
        paths = {urlsplit(url).path for _m, url, _c, _s in traffic.requests}
        assert f"/array/{served.key}/config.js" in paths
        assert traffic.foreign == [] and traffic.failed == []
    finally:
        stop()


def test_503s_are_retried_by_the_library_and_nothing_is_stored_twice(chromium, compat_server):
    served = compat_server
    refused = []

    def flaky(route):
        if urlsplit(route.request.url).path == "/e/" and len(refused) < 2:
            refused.append(route.request.url)
            route.fulfill(status=503, body="{}", headers={
                "Access-Control-Allow-Origin": "*", "Content-Type": "application/json"})
        else:
            route.continue_()

    page, traffic, stop = open_page(chromium, served, route=flaky)
    try:
        page.evaluate("""(n) => {
          for (let i = 0; i < n; i += 1) posthog.capture('lesson_done', { i });
        }""", N)
        assert wait_for(page, lambda: len(queued(served.store, served.app_id, "event")) >= N + 1,
                        timeout=60)
        page.wait_for_timeout(1000)
        events = queued(served.store, served.app_id, "event")
        assert len(refused) == 2
        assert sorted(e["itemData"]["eventData"].get("i", -1) for e in events) == [
            -1, *range(N)]
        assert traffic.foreign == []
    finally:
        stop()


def test_refused_requests_are_not_retried(chromium, compat_server):
    served = compat_server
    page, traffic, stop = open_page(chromium, served, key="phc_not_a_key_of_this_service")
    try:
        assert wait_for(page, lambda: traffic.to("/e/"))  # the page view, refused 401
        page.wait_for_timeout(5000)  # past the first retry's backoff
        assert [status for url, status, _ in traffic.answers if "/e/" in url] == [401]
        assert queued(served.store, served.app_id) == []
        assert traffic.foreign == []
    finally:
        stop()

    page, traffic, stop = open_page(chromium, served)
    try:
        page.evaluate("() => posthog.capture('x'.repeat(101), {}, {send_instantly: true})")
        assert wait_for(page, lambda: [status for url, status, _ in traffic.answers
                                       if "/e/" in url and status == 400])
        page.wait_for_timeout(5000)
        statuses = [status for url, status, _ in traffic.answers if "/e/" in url]
        assert statuses.count(400) == 1
        assert any(log["status"] == "error" for log in posthog_logs(served.store))
    finally:
        stop()
