"""Console over plain HTTP: log-in, CSRF, roles, headers, fragments, and every action without JS."""

import re
from datetime import timedelta

import pytest

from app.store.common import QUEUE_STATES, utcnow
from app.sync.engine import run_sync
from tests.stored import backdate

from .conftest import PASSWORD, Console, event, record, set_status

PAGES = ["/console/", "/console/queue", "/console/batches", "/console/errors",
         "/console/conflicts", "/console/events", "/console/audit"]
FRAGMENT_IDS = {"/console/": "live", "/console/queue": "queue-results",
                "/console/batches": "batch-results", "/console/errors": "error-results",
                "/console/conflicts": "conflict-results", "/console/events": "event-results",
                "/console/audit": "audit-results"}


def item_key(store, item_id):
    return store.get_queue_item(None, item_id)["id"]


def audit_actions(store):
    return [(e["actor"], e["action"]) for e in store.list_audit(limit=100)]


# ---- log-in and sessions -------------------------------------------------------------------

def test_pages_send_strangers_to_the_login_form(client):
    response = client.get("/console/queue?status=dead")
    assert response.status_code == 302
    assert "/console/login?next=" in response.headers["Location"]
    fragment = client.get("/console/", headers={"HX-Request": "true"})
    assert fragment.status_code == 401
    assert fragment.headers["HX-Redirect"].startswith("/console/login")


def test_login_with_the_right_password_only(app, users, store):
    session = Console(app.test_client())
    assert session.login("operator", "wrong password").status_code == 401
    assert session.login("nobody", PASSWORD).status_code == 401
    response = session.login("operator")
    assert response.status_code == 303 and response.headers["Location"] == "/console/"
    assert session.get("/console/").status_code == 200
    assert store.get_user("operator")["lastLoginAt"] is not None
    assert store.get_user("operator")["passwordHash"].startswith(("scrypt:", "pbkdf2:"))
    assert session.post("/console/logout").status_code == 303
    assert session.get("/console/").status_code == 302


def test_login_returns_to_the_page_asked_for_but_never_off_site(app, users):
    session = Console(app.test_client())
    session.token = None
    session.login("viewer")
    page = session.client.get("/console/login?next=/console/errors").get_data(as_text=True)
    assert 'name="next" value="/console/errors"' in page
    session = Console(app.test_client())
    session.token = None
    from .conftest import csrf_token

    token = csrf_token(session.client)
    for target, expected in (("/console/errors", "/console/errors"),
                             ("https://elsewhere.example/", "/console/"),
                             ("//elsewhere.example/", "/console/")):
        response = session.client.post("/console/login", data={
            "username": "viewer", "password": PASSWORD, "csrf_token": token, "next": target})
        assert response.headers["Location"] == expected
        token = csrf_token(session.client)


def test_session_cookie_is_httponly_and_samesite(app, users):
    session = Console(app.test_client())
    response = session.login("admin")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_production_session_cookie_is_secure(tmp_path):
    from app.config import load_config

    settings = load_config({"APP_ENV": "production", "SECRET_KEY": "x" * 32}, environ={})
    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["SESSION_COOKIE_HTTPONLY"] is True


# ---- CSRF ----------------------------------------------------------------------------------

def test_posts_without_a_csrf_token_are_refused(app, users, console, send, store):
    answer = send([event()])
    set_status(store, answer["results"][0]["itemId"], "dead")
    key = item_key(store, answer["results"][0]["itemId"])
    anonymous = app.test_client()
    assert anonymous.post("/console/login", data={
        "username": "admin", "password": PASSWORD}).status_code == 400
    admin = console("admin")
    response = admin.client.post(f"/console/queue/{key}/retry", data={})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert store.queue_item(key)["status"] == "dead"


# ---- roles ---------------------------------------------------------------------------------

def test_viewer_sees_every_page_and_every_action_is_refused(console, send, store, app):
    answer = send([event(), event()])
    dead, failed = (r["itemId"] for r in answer["results"])
    set_status(store, dead, "dead")
    set_status(store, failed, "failed")
    viewer = console("viewer")
    for url in PAGES + [f"/console/queue/{item_key(store, dead)}",
                        "/console/errors/bulk?action=discard"]:
        response = viewer.get(url)
        assert response.status_code == 200, url
    assert "Read-only" in viewer.get("/console/").get_data(as_text=True)
    key = item_key(store, dead)
    for url, data in ((f"/console/queue/{key}/retry", {}), (f"/console/queue/{key}/discard", {}),
                      ("/console/errors/bulk", {"action": "discard"}), ("/console/sync", {}),
                      ("/console/conflicts/1/resolve", {"resolution": "server"})):
        response = viewer.post(url, data)
        assert response.status_code == 403, url
        assert "may look but not act" in response.get_data(as_text=True)
    assert store.console_queue_counts()["dead"] == 1
    assert store.console_queue_counts()["failed"] == 1
    assert not [a for a in audit_actions(store) if a[0] == "viewer" and a[1] != "console.login"]


@pytest.mark.parametrize("role", ["admin", "operator"])
def test_admins_and_operators_act(console, send, store, role):
    answer = send([event()])
    set_status(store, answer["results"][0]["itemId"], "dead")
    key = item_key(store, answer["results"][0]["itemId"])
    assert console(role).post(f"/console/queue/{key}/retry").status_code == 303
    assert store.queue_item(key)["status"] == "pending"


# ---- headers and fragments -----------------------------------------------------------------

def test_console_pages_send_strict_security_headers(console):
    session = console("viewer")
    for url in PAGES + ["/console/login", "/console/no-such-page"]:
        response = session.get(url)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, url
        assert "frame-ancestors 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"]


def test_pages_have_no_inline_script_and_nothing_from_other_hosts(console, send):
    send([event()])
    session = console("admin")
    for url in PAGES:
        page = session.get(url).get_data(as_text=True)
        scripts = re.findall(r"<script\b[^>]*>", page)
        assert scripts and all("src=" in s for s in scripts), url
        assert not re.search(r"\son[a-z]+=", page), url
        assert not re.search(r"(src|href)=\"(https?:)?//", page), url
        assert " style=" not in page, url


@pytest.mark.parametrize("url", PAGES)
def test_one_url_serves_the_page_or_its_fragment(console, url):
    session = console("viewer")
    full = session.get(url)
    fragment = session.get(url, headers={"HX-Request": "true"})
    assert "HX-Request" in full.headers["Vary"] and "HX-Request" in fragment.headers["Vary"]
    assert full.get_data(as_text=True).lstrip().startswith("<!doctype html>")
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and "<nav class=\"nav\"" not in body
    assert f'id="{FRAGMENT_IDS[url]}"' in body
    assert f'id="{FRAGMENT_IDS[url]}"' in full.get_data(as_text=True)
    boosted = session.get(url, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in boosted.get_data(as_text=True)


# ---- dashboard -----------------------------------------------------------------------------

def test_dashboard_counts_states_and_draws_the_last_hour(console, send, store, app):
    answer = send([event(), event(), event()])
    set_status(store, answer["results"][0]["itemId"], "dead")
    run_sync(store, app.config, source="manual")
    page = console("viewer").get("/console/").get_data(as_text=True)
    assert re.search(r'data-count="done">2<', page)
    assert re.search(r'data-count="dead">1<', page)
    assert re.search(r'data-count="pending">0<', page)
    assert "<svg" in page and 'class="bar-ok"' in page
    assert "Scheduler" in page and "stopped" in page


# ---- queue ---------------------------------------------------------------------------------

def test_queue_filters_search_and_keyset_pages(console, send, store):
    first = send([event() for _ in range(40)], user_id="alice", batch_id="batch-alice")
    send([event() for _ in range(30)], user_id="bob")
    session = console("viewer")
    page1 = session.get("/console/queue").get_data(as_text=True)
    assert page1.count('href="/console/queue/') == 50
    older = re.search(r'href="(/console/queue\?before=[^"&]+)"', page1).group(1)
    page2 = session.get(older.replace("&amp;", "&")).get_data(as_text=True)
    assert page2.count('href="/console/queue/') == 20
    bob = session.get("/console/queue?user=bob").get_data(as_text=True)
    assert bob.count('href="/console/queue/') == 30
    wanted = first["results"][7]["itemId"]
    for term, count in ((wanted, 1), ("batch-alice", 40), ("bob", 30), ("nothing-here", 0)):
        found = session.get(f"/console/queue?q={term}", headers={"HX-Request": "true"})
        assert found.get_data(as_text=True).count('href="/console/queue/') == count, term
    assert session.get("/console/queue?status=pending&type=event").status_code == 200


def test_queue_list_never_shows_payloads_but_the_detail_does(console, send, store):
    answer = send([event("learning_module_viewed", moduleId="secret-module-xyz")])
    set_status(store, answer["results"][0]["itemId"], "failed", error="timed out writing")
    session = console("viewer")
    assert "secret-module-xyz" not in session.get("/console/queue").get_data(as_text=True)
    detail = session.get(f"/console/queue/{item_key(store, answer['results'][0]['itemId'])}")
    body = detail.get_data(as_text=True)
    assert "secret-module-xyz" in body and "timed out writing" in body
    assert "Attempts" in body and "Next retry" in body
    assert session.get("/console/queue/999999").status_code == 404


def test_queue_and_batches_name_each_items_protocol(console, send, store, app):
    from app.ingest.compat import ingest_messages

    native = send([event()])["results"][0]["itemId"]
    with app.app_context():
        compat = ingest_messages(store, app.config, "testapp", [
            {"eventId": "seg-1", "userId": "u9", "eventType": "clicked"},
            {"eventId": "seg-2", "userId": "u9", "eventType": ""}],
            protocol="segment", batch_id="segment-x")
    assert compat["accepted"] == 1
    session = console("viewer")
    rows = re.findall(r"<tr>(.*?)</tr>", session.get("/console/queue").get_data(as_text=True),
                      re.S)
    by_item = {re.search(r'queue/[^"]+">([^<]+)</a>', r).group(1): r for r in rows
               if "/console/queue/" in r}
    assert "<td>segment</td>" in by_item["seg-1"]
    assert "<td>native</td>" in by_item[native]
    detail = session.get(f"/console/queue/{item_key(store, 'seg-1')}").get_data(as_text=True)
    assert re.search(r"<dt>Source</dt><dd>segment</dd>", detail)
    batches = session.get("/console/batches?source=segment").get_data(as_text=True)
    assert "segment-x" in batches
    # The refused message is among the console's errors, and its batch says why.
    errors = session.get("/console/errors").get_data(as_text=True)
    assert "segment-x" in errors
    key = store.get_batch_log("testapp", "segment-x")["id"]
    detail = session.get(f"/console/batches/{key}").get_data(as_text=True)
    assert "eventType" in detail and "rejected" in detail


# ---- errors: retry, discard, bulk ----------------------------------------------------------

def test_retry_and_discard_without_javascript_are_audited_and_reflected(console, send, store):
    answer = send([event(), event()])
    retried, discarded = (r["itemId"] for r in answer["results"])
    set_status(store, retried, "dead")
    set_status(store, discarded, "failed")
    session = console("operator")
    response = session.post(f"/console/queue/{item_key(store, retried)}/retry",
                            {"next": "/console/errors"}, follow_redirects=True)
    assert f"Item {retried} is pending again." in response.get_data(as_text=True)
    assert store.get_queue_item(None, retried)["status"] == "pending"
    assert store.get_queue_item(None, retried)["attempts"] == 0
    response = session.post(f"/console/queue/{item_key(store, discarded)}/discard",
                            {"next": "/console/errors"}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert f"Item {discarded} was discarded." in page and "No failed or dead items" in page
    assert store.get_queue_item(None, discarded) is None
    actions = audit_actions(store)
    assert ("operator", "queue.retry") in actions and ("operator", "queue.discard") in actions
    audit_page = session.get("/console/audit").get_data(as_text=True)
    assert f"item:{retried}" in audit_page and "queue.discard" in audit_page


def test_a_pending_item_cannot_be_discarded(console, send, store):
    answer = send([event()])
    key = item_key(store, answer["results"][0]["itemId"])
    response = console("admin").post(f"/console/queue/{key}/discard", follow_redirects=True)
    assert "only failed or dead items" in response.get_data(as_text=True)
    assert store.queue_item(key)["status"] == "pending"


def test_bulk_discard_by_filter_is_confirmed_with_its_count(console, send, store):
    a = send([event() for _ in range(5)], user_id="alice")
    b = send([event() for _ in range(3)], user_id="bob")
    for result in a["results"] + b["results"]:
        set_status(store, result["itemId"], "dead")
    session = console("operator")
    confirm = session.get("/console/errors/bulk?action=discard&user=alice&status=dead")
    body = confirm.get_data(as_text=True)
    assert 'data-count="bulk">5<' in body and "user alice" in body
    assert store.console_queue_counts()["dead"] == 8
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', body))
    form.pop("csrf_token")
    response = session.post("/console/errors/bulk", form, follow_redirects=True)
    assert "5 items discarded (status dead, user alice)." in response.get_data(as_text=True)
    assert store.console_queue_counts()["dead"] == 3
    entry = store.list_audit(limit=1)[0]
    assert entry["action"] == "queue.bulk_discard" and entry["details"]["count"] == 5


def test_bulk_retry_puts_every_match_back(console, send, store):
    answer = send([event() for _ in range(4)])
    for result in answer["results"]:
        set_status(store, result["itemId"], "failed")
    response = console("admin").post("/console/errors/bulk", {"action": "retry", "count": "4"},
                                     follow_redirects=True)
    assert "4 items put back in the queue" in response.get_data(as_text=True)
    assert store.console_queue_counts()["pending"] == 4


# ---- batches, events, conflicts ------------------------------------------------------------

def test_batch_logs_newest_first_with_per_item_outcomes(console, send, store):
    send([event()], batch_id="older-batch")
    send([event(), event()], batch_id="newer-batch")
    session = console("viewer")
    page = session.get("/console/batches").get_data(as_text=True)
    assert page.index("newer-batch") < page.index("older-batch")
    key = store.get_batch_log("testapp", "newer-batch")["id"]
    detail = session.get(f"/console/batches/{key}").get_data(as_text=True)
    assert detail.count("badge-accepted") == 2 and detail.count("badge-pending") == 2


def test_events_are_counted_by_type(console, send, store, app):
    send([event("learning_module_viewed"), event("learning_module_viewed"),
          event("flashcard_flipped", cardId="c-1")])
    run_sync(store, app.config, source="manual")
    page = console("viewer").get("/console/events").get_data(as_text=True)
    assert 'data-event-count="learning_module_viewed">2<' in page
    assert 'data-event-count="flashcard_flipped">1<' in page


@pytest.fixture
def conflict_id(send, store, app):
    """An open record conflict made by ingest and the sync engine: title and level differ."""
    send([record("r-1", 0, {"title": "t", "level": 1, "notes": "n"})])
    run_sync(store, app.config, source="manual")
    send([record("r-1", 1, {"title": "server title", "level": 2, "notes": "n"})])
    run_sync(store, app.config, source="manual")
    send([record("r-1", 1, {"title": "client title", "level": 3, "notes": "n"},
                 conflictResolution="manual")])
    run_sync(store, app.config, source="manual")
    [conflict] = store.list_conflicts(status="open", values=False)
    return conflict["id"]


def test_conflict_page_shows_three_sides_and_marks_differences(console, conflict_id):
    page = console("viewer").get(f"/console/conflicts/{conflict_id}").get_data(as_text=True)
    assert re.search(r'class="differs" data-field="title"', page)
    assert re.search(r'class="differs" data-field="level"', page)
    assert re.search(r'class="same" data-field="notes"', page)
    assert "server title" in page and "client title" in page


def test_resolve_field_by_field_without_javascript(console, conflict_id, store):
    response = console("operator").post(f"/console/conflicts/{conflict_id}/resolve", {
        "resolution": "fields", "pick:title": "client", "pick:level": "server",
        "pick:notes": "server"}, follow_redirects=True)
    assert "merged field by field" in response.get_data(as_text=True)
    record_now = store.get_record("testapp", "user_settings", "r-1")
    assert record_now["data"] == {"title": "client title", "level": 2, "notes": "n"}
    assert ("operator", "conflict.resolve") in audit_actions(store)


def test_keep_server_and_an_already_resolved_conflict(console, conflict_id, store):
    session = console("admin")
    session.post(f"/console/conflicts/{conflict_id}/resolve", {"resolution": "server"})
    assert store.get_record("testapp", "user_settings", "r-1")["data"]["title"] == "server title"
    again = session.post(f"/console/conflicts/{conflict_id}/resolve", {"resolution": "client"})
    assert again.status_code == 409


def test_an_edited_merge_is_validated_before_it_applies(console, conflict_id, store):
    session = console("operator")
    bad = session.post(f"/console/conflicts/{conflict_id}/resolve",
                       {"resolution": "merged", "merged": '{"title": "x",'})
    assert bad.status_code == 400 and "not valid JSON" in bad.get_data(as_text=True)
    bad = session.post(f"/console/conflicts/{conflict_id}/resolve",
                       {"resolution": "merged", "merged": '{"$set": 1}'})
    assert bad.status_code == 400 and "$set" in bad.get_data(as_text=True)
    assert store.get_record("testapp", "user_settings", "r-1")["data"]["title"] == "server title"
    good = session.post(f"/console/conflicts/{conflict_id}/resolve", {
        "resolution": "merged", "merged": '{"title": "hand made", "level": 9, "notes": "n"}'},
        follow_redirects=True)
    assert "applied the edited merge" in good.get_data(as_text=True)
    assert store.get_record("testapp", "user_settings", "r-1")["data"]["title"] == "hand made"


# ---- metrics and the users command ---------------------------------------------------------

def test_metrics_in_prometheus_text_format(client, send, store, app):
    send([event(), event()])
    run_sync(store, app.config, source="manual")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    body = response.get_data(as_text=True)
    assert "prepmate_items_ingested_total 2.0" in body
    assert "prepmate_items_applied_total 2.0" in body
    for state in QUEUE_STATES:
        assert f'prepmate_queue_items{{state="{state}"}}' in body
    assert "prepmate_items_dead 0.0" in body and 'prepmate_conflicts{status="open"}' in body
    assert "prepmate_sync_run_duration_seconds_count 1.0" in body
    assert "prepmate_queue_oldest_waiting_seconds 0.0" in body  # nothing waits


def test_metrics_give_the_age_of_the_oldest_waiting_item(client, send, store, app):
    old, new = event(), event()
    send([old, new])
    backdate(store, [old["eventId"]], utcnow() - timedelta(minutes=45))
    body = client.get("/metrics").get_data(as_text=True)
    [age] = [float(line.split()[1]) for line in body.splitlines()
             if line.startswith("prepmate_queue_oldest_waiting_seconds ")]
    assert 45 * 60 <= age < 46 * 60


class TestMetricsToken:
    @pytest.fixture
    def app_config(self):
        return {"METRICS_TOKEN": "scrape-secret"}

    def test_metrics_need_the_token_when_it_is_set(self, client):
        refused = client.get("/metrics")
        assert refused.status_code == 401 and refused.get_json()["error"] == "unauthorized"
        assert client.get("/metrics", headers={
            "Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/metrics", headers={
            "Authorization": "Bearer scrape-secret"}).status_code == 200


def test_users_create_reads_the_password_from_stdin(runner, store):
    result = runner.invoke(args=["users", "create", "dana", "--role", "operator",
                                 "--password-stdin"], input="a long password\n")
    assert result.exit_code == 0, result.output
    assert store.get_user("dana")["role"] == "operator"
    from app.accounts.users import authenticate

    assert authenticate(store, "dana", "a long password") is not None
    taken = runner.invoke(args=["users", "create", "dana", "--role", "viewer",
                                "--password-stdin"], input="another password\n")
    assert taken.exit_code != 0 and "exists already" in taken.output
    bad_role = runner.invoke(args=["users", "create", "eve", "--role", "root",
                                   "--password-stdin"], input="a long password\n")
    assert bad_role.exit_code != 0
    short = runner.invoke(args=["users", "create", "eve", "--password-stdin"], input="short\n")
    assert short.exit_code != 0 and "at least" in short.output
