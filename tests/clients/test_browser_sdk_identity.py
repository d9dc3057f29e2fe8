"""The browser SDK's tracking verbs in headless Chromium against the real server: identify,
alias, group, page, screen, the anonymous id, reset, register, opt-out, beforeSend, gzip."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from .test_browser_sdk import SdkBrowser, go_offline, sdk_events

pytestmark = pytest.mark.browser

LIBRARY = "prepmate-telemetry-js"


@pytest.fixture
def visitor(chromium, live_server, ingest_key):
    """A browser whose page names no user: who it is comes from the SDK's own state."""
    browser = SdkBrowser(chromium, live_server, ingest_key, None)
    yield browser
    browser.close()


def reopen(page):
    page.reload()
    page.wait_for_function("() => window.telemetry && window.telemetry.storage")


def flush(page):
    """telemetry.flush(): true when everything queued was delivered."""
    return page.evaluate("telemetry.flush()")


def stored(counts, user_id, item_type="event"):
    """The items queued on the server under one queue userId, as stored."""
    return [counts.payload(row) for row in counts.queued(user_id, item_type)]


@pytest.fixture
def person(live_server, ingest_key, apply_queue):
    """A person's profile as GET /api/telemetry/people/<userId> answers it, after a sync run."""

    def read(user_id):
        apply_queue()
        answer = requests.get(f"{live_server.url}/api/telemetry/people/{user_id}",
                              headers={"Authorization": f"Bearer {ingest_key}"}, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()

    return read


def test_each_verb_reaches_the_server_as_the_contract_says(
    visitor, counts, unique_user, person
):
    page = visitor.open()
    anonymous = page.evaluate("telemetry.anonymousId")
    ids = page.evaluate(
        """(user) => {
          const ids = {};
          telemetry.register({ plan: 'free', source: 'landing' });
          ids.before = telemetry.captureEvent('signup_started', { source: 'ad' });
          ids.page = telemetry.page('Pricing', { tier: 'pro' }, { category: 'Docs' });
          ids.identify = telemetry.identify(user, { email: 'a@example.org' },
                                            { traitsOnce: { firstPlan: 'free' } });
          ids.alias = telemetry.alias(user, 'crm-17');
          ids.group = telemetry.group('acme', { seats: 12 });
          ids.screen = telemetry.screen({ step: 2 });
          telemetry.unregister('source');
          ids.after = telemetry.track('signup_completed', { plan: 'pro' });
          return ids;
        }""",
        unique_user,
    )
    assert None not in ids.values()
    assert flush(page) is True
    page.wait_for_timeout(300)  # anything sent twice would arrive now

    # Before identify: under the anonymous id, with the registered properties under the event's.
    before = stored(counts, anonymous)
    assert [e["eventId"] for e in before] == [ids["before"], ids["page"]]
    assert before[0]["eventData"] == {"plan": "free", "source": "ad"}
    assert before[0]["anonymousId"] == anonymous and before[0]["userId"] is None
    view = before[1]
    assert view["eventType"] == "page_viewed"
    assert {k: view["eventData"][k] for k in ("name", "category", "tier", "plan", "path")} == {
        "name": "Pricing", "category": "Docs", "tier": "pro", "plan": "free",
        "path": "/__sdk_test__"}
    assert view["eventData"]["url"] == page.url

    (identify,) = stored(counts, unique_user, "identify")
    assert identify["eventId"] == ids["identify"]
    assert (identify["userId"], identify["anonymousId"]) == (unique_user, anonymous)
    assert identify["traits"] == {"email": "a@example.org"}
    assert identify["traitsOnce"] == {"firstPlan": "free"}
    (alias,) = stored(counts, unique_user, "alias")
    assert (alias["eventId"], alias["previousId"], alias["userId"]) == (
        ids["alias"], "crm-17", unique_user)
    (group,) = stored(counts, unique_user, "group")
    assert (group["groupId"], group["traits"], group["userId"], group["anonymousId"]) == (
        "acme", {"seats": 12}, unique_user, anonymous)

    # After identify: the user's, with the anonymous id beside it; unregistered is gone.
    after = stored(counts, unique_user)
    assert [e["eventId"] for e in after] == [ids["screen"], ids["after"]]
    assert after[0]["eventType"] == "screen_viewed"
    assert after[0]["eventData"] == {"step": 2, "plan": "free", "source": "landing"}
    assert after[1]["eventData"] == {"plan": "pro"}
    assert (after[1]["userId"], after[1]["anonymousId"]) == (unique_user, anonymous)

    # Automatic context on every item, under what the caller gives.
    for item in before + after + [identify, alias, group]:
        context = item["metadata"]["context"]
        assert context["library"] == {"name": LIBRARY,
                                      "version": page.evaluate("PrepMateTelemetry.VERSION")}
        assert context["page"]["url"] == page.url and "referrer" in context["page"]
        assert context["userAgent"] == page.evaluate("navigator.userAgent")
        assert item["metadata"]["clientTimestamp"]

    # The profile: traits, both linked ids, the group, and the anonymous history as the user's.
    profile = person(unique_user)
    assert profile["traits"] == {"email": "a@example.org", "firstPlan": "free"}
    assert sorted(profile["anonymousIds"]) == sorted([anonymous, "crm-17"])
    assert profile["groups"] == ["acme"]
    assert profile["eventCount"] == 4


def test_reset_keeps_the_old_users_queue_and_the_anonymous_id_survives_reloads(
    visitor, counts, unique_user, person
):
    page = visitor.open()
    first = page.evaluate("telemetry.anonymousId")
    reopen(page)
    assert page.evaluate("telemetry.anonymousId") == first

    go_offline(visitor, page)
    # Another tab holds IndexedDB: until the reload, the journal alone has these.
    holder = visitor.hold_database()
    anonymous = page.evaluate("[0, 1].map((i) => telemetry.captureEvent('landed', { i }))")
    old = page.evaluate(
        """(user) => [telemetry.identify(user, { name: 'Ada' })].concat(
             [0, 1, 2, 3, 4].map((i) => telemetry.captureEvent('lesson_done', { i })))""",
        unique_user,
    )
    page.reload()
    page.wait_for_function("() => window.telemetry")
    visitor.release(holder)
    assert page.evaluate("[telemetry.userId, telemetry.anonymousId]") == [unique_user, first]
    old += page.evaluate("[5, 6].map((i) => telemetry.captureEvent('lesson_done', { i }))")
    second = page.evaluate("telemetry.reset()")
    assert second != first
    assert page.evaluate("[telemetry.userId, telemetry.anonymousId]") == [None, second]
    new = page.evaluate("[0, 1, 2].map((i) => telemetry.captureEvent('browsed', { i }))")
    reopen(page)
    assert page.evaluate("[telemetry.userId, telemetry.anonymousId]") == [None, second]
    new += page.evaluate("[3, 4].map((i) => telemetry.captureEvent('browsed', { i }))")
    assert flush(page) is False
    assert not visitor.batches

    visitor.context.set_offline(False)
    assert flush(page) is True
    page.wait_for_timeout(500)  # anything sent twice would arrive now
    reopen(page)
    assert flush(page) is True

    # The old user's items went under the old user (and the old anonymous id), once each.
    assert counts.events([unique_user]) == (7, 7, 0)
    assert sorted(counts.event_ids([unique_user])) == sorted(old[1:])
    assert {e["anonymousId"] for e in stored(counts, unique_user)} == {first}
    (identify,) = stored(counts, unique_user, "identify")
    assert (identify["eventId"], identify["anonymousId"]) == (old[0], first)
    # After reset: the new anonymous id, no user.
    assert counts.events([second]) == (5, 5, 0)
    assert sorted(counts.event_ids([second])) == sorted(new)
    assert {e["userId"] for e in stored(counts, second)} == {None}
    # Before identify: the first anonymous id's, no user (never in a batch of the others).
    assert sorted(counts.event_ids([first])) == sorted(anonymous)
    assert {e["userId"] for e in stored(counts, first)} == {None}
    # The user's profile: the first anonymous id's history, never the one after reset.
    profile = person(unique_user)
    assert (profile["anonymousIds"], profile["eventCount"]) == ([first], 9)
    assert profile["traits"] == {"name": "Ada"}


def test_identifying_another_user_starts_a_new_anonymous_id(visitor, counts, unique_user):
    page = visitor.open()
    first = page.evaluate("telemetry.anonymousId")
    page.evaluate("(u) => telemetry.identify(u)", unique_user)
    assert page.evaluate("telemetry.anonymousId") == first
    page.evaluate("(u) => telemetry.identify(u + '-b')", unique_user)
    assert page.evaluate("telemetry.anonymousId") != first
    assert flush(page) is True
    (other,) = stored(counts, unique_user + "-b", "identify")
    assert other["anonymousId"] not in (None, first)


def test_opted_out_nothing_is_captured_or_sent_until_opt_in(visitor, counts, unique_user):
    page = visitor.open(f"&userId={unique_user}")
    go_offline(visitor, page)
    held = page.evaluate("[0, 1, 2].map((i) => telemetry.captureEvent('before_opt_out', { i }))")
    page.evaluate("telemetry.optOut()")
    refused = page.evaluate(
        """(user) => [telemetry.captureEvent('x', {}), telemetry.identify(user, { a: 1 }),
                      telemetry.page(), telemetry.group('g'), telemetry.alias('other')]""",
        unique_user,
    )
    assert refused == [None] * 5
    visitor.context.set_offline(False)
    page.wait_for_function("() => navigator.onLine")
    result = page.evaluate("sync.flush()")
    assert (result["delivered"], result["pending"], result["reason"]) == (False, 3, "opted_out")
    assert flush(page) is False

    # Kept across pages, and shared by the origin's tabs.
    reopen(page)
    other = visitor.open(f"&userId={unique_user}")
    assert page.evaluate("telemetry.optedOut") and other.evaluate("telemetry.optedOut")
    assert other.evaluate("telemetry.captureEvent('x', {})") is None
    page.wait_for_timeout(1500)  # three of the test page's send intervals
    assert not visitor.batches
    assert counts.events([unique_user])[0] == 0

    other.evaluate("telemetry.optIn()")
    page.wait_for_function("() => !telemetry.optedOut")
    assert flush(page) is True
    assert counts.events([unique_user]) == (3, 3, 0)
    assert sorted(counts.event_ids([unique_user])) == sorted(held)


def test_opt_out_by_default_waits_for_opt_in(visitor, counts, unique_user):
    page = visitor.open(f"&userId={unique_user}&optOutByDefault=1")
    assert page.evaluate("telemetry.captureEvent('x', {})") is None
    page.evaluate("telemetry.optIn()")
    reopen(page)  # the choice is kept over the default
    assert page.evaluate("telemetry.captureEvent('x', {})") is not None
    assert flush(page) is True
    assert counts.events([unique_user]) == (1, 1, 0)


def test_before_send_changes_drops_and_samples(visitor, counts, unique_user):
    page = visitor.open(f"&userId={unique_user}")
    ids = page.evaluate(
        """(user) => {
          telemetry.beforeSend = (item) => {
            if (item.eventType === 'noise') return null;
            if (item.eventType === 'sampled') return item.eventData.i % 4 === 0 ? item : null;
            if (item.eventType === 'signed_in') item.eventData = { email: '[redacted]' };
            if (item.itemType === 'identify') item.traits = { plan: item.traits.plan };
            if (item.eventType === 'moved') return Object.assign({}, item, { userId: user + '-m' });
            return item;
          };
          const ids = {
            noise: telemetry.captureEvent('noise', {}),
            signedIn: telemetry.captureEvent('signed_in', { email: 'a@example.org' }),
            identify: telemetry.identify(user, { plan: 'pro', phone: '555' }),
            moved: telemetry.captureEvent('moved', {}),
            sampled: [],
          };
          for (let i = 0; i < 20; i += 1) {
            ids.sampled.push(telemetry.captureEvent('sampled', { i }));
          }
          telemetry.beforeSend = () => { throw new Error('hook broke'); };
          ids.broken = telemetry.captureEvent('signed_in', { email: 'b@example.org' });
          telemetry.beforeSend = null;
          return ids;
        }""",
        unique_user,
    )
    assert ids["noise"] is None and ids["broken"] is None
    assert len([i for i in ids["sampled"] if i]) == 5
    errors = sdk_events(page, "sync:error")
    assert [(e["error"], e["willRetry"]) for e in errors] == [("before_send_failed", False)]
    assert "hook broke" in errors[0]["message"]
    assert flush(page) is True
    page.wait_for_timeout(300)

    events = {e["eventId"]: e for e in stored(counts, unique_user)}
    assert sorted(events) == sorted([ids["signedIn"]] + [i for i in ids["sampled"] if i])
    assert events[ids["signedIn"]]["eventData"] == {"email": "[redacted]"}
    assert [events[i]["eventData"]["i"] for i in ids["sampled"] if i] == [0, 4, 8, 12, 16]
    (identify,) = stored(counts, unique_user, "identify")
    assert identify["traits"] == {"plan": "pro"}
    # The hook may say whom an item is about.
    assert [e["eventId"] for e in stored(counts, unique_user + "-m")] == [ids["moved"]]


def test_batches_go_gzipped_and_are_taken(visitor, counts, unique_user):
    page = visitor.open(f"&userId={unique_user}&flushInterval=600000")
    page.evaluate("telemetry.captureEvent('one', {})")
    assert flush(page) is True
    page.evaluate("[...Array(60).keys()].forEach((i) => telemetry.captureEvent('many', { i }))")
    assert flush(page) is True
    # The small body as it is, the large one gzipped (Content-Encoding: gzip); both taken.
    assert [(len(body["items"]), gzipped) for body, gzipped in visitor.bodies] == [
        (1, False), (60, True)]
    assert visitor.statuses == [202, 202]
    assert counts.events([unique_user]) == (61, 61, 0)


def test_flush_says_false_offline_and_true_after_and_shutdown_stops_sending(
    visitor, counts, unique_user
):
    page = visitor.open(f"&userId={unique_user}")
    go_offline(visitor, page)
    page.evaluate("telemetry.page('Offline')")
    assert flush(page) is False
    visitor.context.set_offline(False)
    page.wait_for_function("() => navigator.onLine")
    assert flush(page) is True
    assert counts.events([unique_user]) == (1, 1, 0)

    page.evaluate("telemetry.captureEvent('last', {})")
    assert page.evaluate("telemetry.shutdown()") is True
    assert counts.events([unique_user]) == (2, 2, 0)
    sent = len(visitor.batches)
    page.evaluate("telemetry.captureEvent('after_shutdown', {})")
    page.wait_for_timeout(1500)  # three of the test page's send intervals
    assert len(visitor.batches) == sent
    assert page.evaluate("telemetry.queueSize()") == 1
    # Kept for the next page, which sends it.
    reopen(page)
    assert flush(page) is True
    assert counts.events([unique_user]) == (3, 3, 0)


CROSS_ORIGIN_PAGE = """<!doctype html><html><head><meta charset="utf-8"></head><body>
<script src="SERVER/static/js/telemetry.js"></script><script>
const params = new URLSearchParams(location.search);
window.telemetry = new TelemetryService({ endpoint: 'SERVER', apiKey: params.get('apiKey') });
window.sync = new SyncService({ telemetry, flushInterval: 600000 });
telemetry.initialize();
sync.start();
</script></body></html>"""


@pytest.fixture
def page_origin(live_server):
    """Another origin on 127.0.0.1 (a port of its own) serving the cross-origin page; a page
    Playwright made up would not be on the loopback address space, which Chromium keeps apart."""
    body = CROSS_ORIGIN_PAGE.replace("SERVER", live_server.url).encode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args):
            pass

        def do_GET(self):  # noqa: N802 (http.server's name)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_from_another_loopback_origin_gzip_and_verbs_pass_cors(
    chromium, live_server, ingest_key, counts, unique_user, page_origin
):
    # The page on another origin (another port of 127.0.0.1), the service through CORS: the
    # preflight must allow Content-Encoding beside Authorization.
    browser = SdkBrowser(chromium, live_server, ingest_key, None)
    origin = page_origin
    try:
        page = browser.context.new_page()
        page.on("pageerror", lambda exc: browser.errors.append(str(exc)))
        page.goto(f"{origin}/page?apiKey={ingest_key}")
        page.wait_for_function("() => window.telemetry && window.telemetry.storage")
        page.evaluate(
            """(user) => {
              telemetry.identify(user, { plan: 'pro' });
              for (let i = 0; i < 60; i += 1) telemetry.captureEvent('cross', { i });
            }""",
            unique_user,
        )
        assert flush(page) is True
        assert any(gzipped for _, gzipped in browser.bodies)
        assert set(browser.statuses) == {202}
        assert counts.events([unique_user]) == (60, 60, 0)
        assert len(stored(counts, unique_user, "identify")) == 1
    finally:
        browser.close()


def test_opting_out_holds_a_batch_already_being_sent(visitor, counts, unique_user):
    attempts = []

    def refuse_first(route):
        attempts.append(route.request)
        if len(attempts) == 1:
            route.fulfill(status=503, headers={"Retry-After": "1"}, content_type="application/json",
                          body='{"error": "unavailable", "message": "store down", "fields": {}}')
        else:
            route.continue_()

    visitor.context.route(f"{visitor.base}/api/telemetry/batch", refuse_first)
    page = visitor.open(f"&userId={unique_user}")
    ids = page.evaluate("[0, 1, 2].map((i) => telemetry.captureEvent('refused_once', { i }))")
    page.wait_for_function("() => sdkEvents.some((e) => e.name === 'sync:error')")
    page.evaluate("telemetry.optOut()")
    page.wait_for_timeout(2500)  # the Retry-After, and four of the page's send intervals
    assert len(attempts) == 1
    assert counts.events([unique_user])[0] == 0

    page.evaluate("telemetry.optIn()")
    assert flush(page) is True
    # The same batch, resent as it was: same batchId, same items.
    assert len({body["batchId"] for body, _ in visitor.bodies}) == 1
    assert counts.events([unique_user]) == (3, 3, 0)
    assert sorted(counts.event_ids([unique_user])) == sorted(ids)


def test_verbs_captured_as_the_page_closes_arrive_once_each(visitor, counts, unique_user):
    # Timers far away: page hide sends what fits its keepalive budget, the next page the rest.
    # Each event carries 2 KB, so the 152 (300 KB) cannot all fit the 64 KiB budget, however
    # quickly the first requests are answered.
    page = visitor.open("&flushInterval=600000")
    page.evaluate("() => new Promise((resolve) => setTimeout(resolve, 300))")
    anonymous = page.evaluate("telemetry.anonymousId")
    ids = page.evaluate(
        """(user) => {
          const ids = [telemetry.page('Welcome')];
          ids.push(telemetry.identify(user, { plan: 'pro' }));
          const pad = 'x'.repeat(2000);
          for (let i = 0; i < 150; i += 1) ids.push(telemetry.captureEvent('closing', { i, pad }));
          ids.push(telemetry.alias(user, 'crm-9'), telemetry.group('acme'), telemetry.screen('S'));
          return ids;
        }""",
        unique_user,
    )
    page.close()
    waiter = visitor.context.new_page()  # not at the origin: it sends nothing
    waiter.wait_for_timeout(1000)
    at_hide = counts.events([unique_user])[0] + counts.events([anonymous])[0]
    assert at_hide >= 1
    again = visitor.open("&flushInterval=600000")
    assert flush(again) is True
    again.wait_for_timeout(500)  # anything sent twice would arrive now

    assert counts.events([unique_user]) == (151, 151, 0)
    assert counts.events([anonymous]) == (1, 1, 0)
    verbs = {kind: [row["itemId"] for row in counts.queued(unique_user, kind)]
             for kind in ("identify", "alias", "group")}
    assert verbs == {"identify": [ids[1]], "alias": [ids[-3]], "group": [ids[-2]]}
    every = (counts.event_ids([unique_user, anonymous])
             + [i for kind_ids in verbs.values() for i in kind_ids])
    assert sorted(every) == sorted(ids)
    # What page hide could not fit went with the next page.
    assert at_hide < 152
