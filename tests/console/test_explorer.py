"""The event explorer and event pages over plain HTTP (no JavaScript): filters in the query
string, the chart's counts, keyset pages, an event's detail, and user ids linking to people."""

import html
import re
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from app.console.services.explorer import floor
from app.store.common import utcnow
from app.sync.engine import run_sync
from tests.stored import put_in_state

from .conftest import event


def at(delta):
    """An ISO time `delta` before now, to the millisecond (as ingest keeps it)."""
    moment = utcnow() - delta
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def dated(event_type, when, **data):
    """An event item the client dated `when` (no sentAt: the time is kept as given)."""
    item = event(event_type, **data)
    item["metadata"] = {"clientTimestamp": when.isoformat()}
    return item


def applied(send, store, app, items, user_id="alice", batch_id=None):
    answer = send(items, user_id=user_id, batch_id=batch_id)
    run_sync(store, app.config, source="manual")
    return answer


def legend(page):
    """{eventType: count} from the chart's legend."""
    return {t: int(n.replace(",", "")) for t, n in
            re.findall(r'data-type-total="([^"]+)">([\d,]+)<', page)}


def bars(page):
    """{bucket start (ISO): (total, {eventType: count})} of the chart's non-empty bars, read
    from the SVG's groups and their rects."""
    found = {}
    for start, total, body in re.findall(
            r'<g data-bucket="([^"]+)" data-total="(\d+)">(.*?)</g>', page, re.S):
        if int(total):
            segments = {html.unescape(t): int(n) for t, n in
                        re.findall(r'data-type="([^"]+)" data-count="(\d+)"', body)}
            title = re.search(r"<title>(.*?)</title>", body, re.S).group(1)
            found[start] = (int(total), segments, html.unescape(title))
    return found


def event_ids(page):
    return [html.unescape(e) for e in re.findall(r'<tr data-event-id="([^"]+)">', page)]


@pytest.fixture
def seeded(send, store, app):
    """viewed x3 and flipped x1 two hours ago (alice), viewed x2 thirty hours ago (alice),
    started x1 an hour ago (bob)."""
    recent, old, bob_time = at(timedelta(hours=2)), at(timedelta(hours=30)), at(
        timedelta(hours=1))
    applied(send, store, app, [dated("viewed", recent) for _ in range(3)]
            + [dated("flipped", recent, cardId="c-1")] + [dated("viewed", old) for _ in range(2)])
    applied(send, store, app, [dated("started", bob_time)], user_id="bob")
    return {"recent": recent, "old": old, "bob": bob_time}


def test_type_and_time_filters_choose_the_events_and_the_chart_counts_them(console, seeded):
    session = console("viewer")
    page = session.get("/console/events?type=viewed&range=24h").get_data(as_text=True)
    assert legend(page) == {"viewed": 3}
    hour = floor(seeded["recent"], "hour").isoformat()
    assert bars(page) == {hour: (3, {"viewed": 3},
                                 f"{floor(seeded['recent'], 'hour'):%m-%d %H:00}Z: 3 events"
                                 " — viewed 3")}
    assert len(event_ids(page)) == 3
    assert "Events per hour, last 24 h" in page
    # A week, per day: the older ones count too, in their own day.
    week = session.get("/console/events?type=viewed&range=7d").get_data(as_text=True)
    assert legend(week) == {"viewed": 5} and len(event_ids(week)) == 5
    per_day = {start: total for start, (total, _s, _t) in bars(week).items()}
    expected = {}
    for when, n in ((seeded["recent"], 3), (seeded["old"], 2)):
        key = floor(when, "day").isoformat()
        expected[key] = expected.get(key, 0) + n
    assert per_day == expected
    assert "Events per day, last 7 days" in week
    # Every type, stacked: the bar two hours ago holds both of its types.
    every = session.get("/console/events?range=24h").get_data(as_text=True)
    assert legend(every) == {"viewed": 3, "flipped": 1, "started": 1}
    assert bars(every)[hour][1] == {"viewed": 3, "flipped": 1}
    assert 'aria-labelledby="events-chart-title"' in every
    assert re.search(r'<title id="events-chart-title">[^<]*5 in all, viewed 3, flipped 1, '
                     r'started 1</title>', every)
    # Several types at once, comma-separated.
    two = session.get("/console/events?type=flipped,started").get_data(as_text=True)
    assert legend(two) == {"flipped": 1, "started": 1}


def test_a_custom_range_is_half_open(console, seeded):
    start = seeded["recent"]
    args = {"range": "custom", "from": start.strftime("%Y-%m-%dT%H:%M:%S.%f"),
            "to": (start + timedelta(milliseconds=1)).isoformat()}
    page = console("viewer").get("/console/events", query_string=args).get_data(as_text=True)
    assert legend(page) == {"viewed": 3, "flipped": 1}
    args["to"] = start.isoformat()
    args["from"] = (start - timedelta(hours=1)).isoformat()
    page = console("viewer").get("/console/events", query_string=args).get_data(as_text=True)
    assert legend(page) == {} and event_ids(page) == []


def test_user_and_app_filters(console, seeded, client, auth, store, app):
    anonymous = event("viewed")
    anonymous["anonymousId"] = "anon-9"
    anonymous["metadata"] = {"clientTimestamp": at(timedelta(minutes=5)).isoformat()}
    post_batch(client, auth, {"batchId": f"b-{uuid.uuid4().hex[:8]}", "items": [anonymous]})
    run_sync(store, app.config, source="manual")
    session = console("viewer")
    bob = session.get("/console/events?user=bob").get_data(as_text=True)
    assert legend(bob) == {"started": 1}
    assert legend(session.get("/console/events?user=anon-9").get_data(as_text=True)) == {
        "viewed": 1}
    assert legend(session.get("/console/events?app=otherapp").get_data(as_text=True)) == {}
    assert legend(session.get("/console/events?app=testapp&user=alice").get_data(
        as_text=True)) == {"viewed": 3, "flipped": 1}


def test_events_come_newest_first_in_keyset_pages(console, send, store, app):
    base = utcnow() - timedelta(hours=3)
    items = [dated("tick", base + timedelta(seconds=n), n=n) for n in range(53)]
    applied(send, store, app, items)
    ids_by_time = [i["eventId"] for i in reversed(items)]
    session = console("viewer")
    first = session.get("/console/events?type=tick").get_data(as_text=True)
    assert event_ids(first) == ids_by_time[:50]
    older = re.search(r'href="([^"]+)"[^>]*rel="next"', first).group(1)
    second = session.get(html.unescape(older)).get_data(as_text=True)
    assert event_ids(second) == ids_by_time[50:]
    assert 'rel="next"' not in second and "« Newest" in second
    # The chart counts the whole range on every page.
    assert legend(second) == {"tick": 53}


@pytest.mark.parametrize(("query", "says"), [
    ("range=fortnight", "range 'fortnight' is none of"),
    ("range=custom&from=soon", "from 'soon' is not a time"),
    ("range=custom&from=2026-12-02T00:00&to=2026-12-01T00:00", "from must be before to"),
])
def test_bad_filters_answer_400_naming_them(console, seeded, query, says):
    session = console("viewer")
    response = session.get(f"/console/events?{query}")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert says in html.unescape(page)
    assert 'name="type"' in page  # the form is there to fix it
    fragment = session.get(f"/console/events?{query}", headers={"HX-Request": "true"})
    assert fragment.status_code == 400 and says in html.unescape(fragment.get_data(as_text=True))


@pytest.mark.parametrize("cursor", ["nonsense", "x" * 5000, "%00", "MTIzOjQ1Ng"])
def test_a_forged_cursor_answers_400(console, seeded, cursor):
    response = console("viewer").get("/console/events", query_string={"before": cursor})
    assert response.status_code == 400
    assert "page cursor" in response.get_data(as_text=True)


def test_the_fragment_holds_the_chart_and_events_without_the_summary(console, seeded):
    fragment = console("viewer").get("/console/events?type=viewed",
                                     headers={"HX-Request": "true"}).get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="event-results"')
    assert "<svg" in fragment and len(event_ids(fragment)) == 3
    assert "event-counts" not in fragment and "<html" not in fragment


def post_batch(client, auth, body):
    response = client.post("/api/telemetry/batch", json=body, headers=auth)
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def test_an_events_detail_shows_payload_times_skew_batch_and_queue_item(console, client, auth,
                                                                        store, app):
    sent = utcnow()
    client_time = sent - timedelta(minutes=10)
    skewed = sent + timedelta(seconds=42)  # the client's clock runs 42 s ahead
    item = event("viewed", note="<script>alert(1)</script>", moduleId="m-7")
    item["metadata"] = {"clientTimestamp": (client_time + timedelta(seconds=42)).isoformat()}
    body = {"batchId": f"b-{uuid.uuid4().hex[:8]}", "userId": "alice", "items": [item],
            "sentAt": skewed.isoformat()}
    post_batch(client, auth, body)
    run_sync(store, app.config, source="manual")
    session = console("viewer")
    listing = session.get("/console/events").get_data(as_text=True)
    path = f"/console/events/testapp/{item['eventId']}"
    assert f'href="{path}"' in listing
    response = session.get(path)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<script>alert(1)" not in page
    assert "&#34;note&#34;: &#34;&lt;script&gt;alert(1)&lt;/script&gt;&#34;" in page
    assert '"moduleId": "m-7"' in html.unescape(page)
    times = dict(re.findall(r'data-time="([^"]+)"><time datetime="([^"]+)"', page))
    assert set(times) == {"Client time", "Sent at", "Received at", "Event time", "Stored at"}
    assert abs(datetime.fromisoformat(times["Sent at"]) - skewed) < timedelta(seconds=1)
    assert abs(datetime.fromisoformat(times["Client time"]) - client_time
               - timedelta(seconds=42)) < timedelta(seconds=1)
    skew = re.search(r"<td data-skew>([^<]+)</td>", page).group(1)
    assert "the client&#39;s clock was 4" in skew and "ahead" in skew
    log = store.get_batch_log("testapp", body["batchId"])
    assert f'href="/console/batches/{log["id"]}"' in page
    queued = store.get_queue_item("testapp", item["eventId"])
    assert f'href="/console/queue/{queued["id"]}"' in page
    assert 'href="/console/people/alice?app=testapp"' in page


def test_user_ids_a_path_cannot_hold_take_the_query_form(console, send, store, app):
    # (eventIds are letters, digits and _.:@-, which a path holds; the event's query form
    # serves the same page.)
    item = event("viewed")
    item["eventId"] = "ev:1.@x"
    applied(send, store, app, [item], user_id="team/alice")
    session = console("viewer")
    listing = session.get("/console/events").get_data(as_text=True)
    assert 'href="/console/events/testapp/ev:1.@x"' in listing
    page = session.get("/console/events/detail",
                       query_string={"app": "testapp", "eventId": "ev:1.@x"})
    assert page.status_code == 200 and "ev:1.@x" in page.get_data(as_text=True)
    for text in (listing, page.get_data(as_text=True)):
        assert ("team/alice", "testapp", "query") in person_links(text)


def test_an_unknown_event_is_404(console, seeded):
    session = console("viewer")
    assert session.get("/console/events/testapp/no-such").status_code == 404
    assert session.get("/console/events/detail?app=testapp&eventId=x").status_code == 404
    assert session.get("/console/events/detail?app=testapp").status_code == 400


def person_links(page):
    """{(userId, app, form)} of the links to people pages on a page, decoded."""
    found = set()
    for href in re.findall(r'href="(/console/people[^"]*)"', page):
        parts = urlsplit(html.unescape(href))
        query = parse_qs(parts.query)
        app_id = query.get("app", [None])[0]
        if parts.path == "/console/people":
            if "userId" in query:
                found.add((query["userId"][0], app_id, "query"))
        else:
            found.add((unquote(parts.path.removeprefix("/console/people/")), app_id, "path"))
    return found


@pytest.mark.parametrize(("user_id", "form"), [
    ("alice", "path"), ("é 1", "path"), ("team/alice", "query"), ("export", "query"),
    ("..", "query"), ("a\\b", "query")])
def test_every_user_id_in_the_console_links_to_the_persons_page(console, send, store, app,
                                                                user_id, form):
    answer = send([event()], user_id=user_id)
    [result] = answer["results"]
    key = store.get_queue_item("testapp", result["itemId"])["id"]
    log = store.get_batch_log("testapp", answer["batchId"])
    put_in_state(store, result["itemId"], "dead", "the store timed out")
    session = console("viewer")
    for url in ("/console/queue", f"/console/queue/{key}", "/console/batches",
                f"/console/batches/{log['id']}", "/console/errors"):
        assert (user_id, "testapp", form) in person_links(
            session.get(url).get_data(as_text=True)), url


def test_the_summary_of_every_event_by_type_stays_above_the_explorer(console, seeded):
    page = console("viewer").get("/console/events").get_data(as_text=True)
    assert page.index('id="event-counts"') < page.index('id="event-results"')
    assert 'data-event-count="viewed">5<' in page
    assert 'data-event-count="started">1<' in page


def test_times_in_the_future_still_show_under_a_preset(console, client, auth, store, app):
    ahead = utcnow() + timedelta(minutes=4)  # within the allowed skew, no sentAt
    item = dated("viewed", ahead)
    post_batch(client, auth, {"batchId": f"b-{uuid.uuid4().hex[:8]}", "userId": "alice",
                              "items": [item]})
    run_sync(store, app.config, source="manual")
    page = console("viewer").get("/console/events?range=1h").get_data(as_text=True)
    assert event_ids(page) == [item["eventId"]] and legend(page) == {"viewed": 1}
    assert datetime.now(UTC) < ahead
