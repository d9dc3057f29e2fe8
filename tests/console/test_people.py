"""People pages over plain HTTP (no JavaScript): the profile and timeline, the export, and the
admin's deletion with its typed confirmation; viewers and operators are refused."""

import html
import json
import re
import uuid

import pytest

from app.sync.engine import run_sync

from .conftest import event, record

ALICE_TRAITS = {"plan": "pro", "name": "Alice <b>A</b>"}


def identify(user_id, anonymous_id, **traits):
    return {"itemType": "identify", "eventId": f"id-{uuid.uuid4().hex[:10]}",
            "userId": user_id, "anonymousId": anonymous_id, "traits": traits}


@pytest.fixture
def alice(send, store, app):
    """alice in testapp: a profile with traits and an anonymous id, three events, a record
    edit; bob has one event of his own."""
    send([identify("alice", "anon-a", **ALICE_TRAITS)], user_id="alice")
    answer = send([event("viewed", marker="alice-payload"), event("viewed"),
                   event("flipped", cardId="c-1"),
                   record("r-1", 0, {"title": "alice's notes"})], user_id="alice")
    send([event("viewed", marker="bob-payload")], user_id="bob")
    run_sync(store, app.config, source="manual")
    return answer


def kinds(page):
    return re.findall(r'<tr data-kind="([a-z_]+)">', page)


def confirm(session, user_id, typed, app_id="testapp", suppress=False):
    data = {"userId": user_id, "app": app_id, "confirm": typed}
    if suppress:
        data["suppress"] = "on"
    return session.post("/console/people/delete", data)


def test_the_persons_page_shows_profile_and_one_timeline(console, alice):
    page = console("viewer").get("/console/people/alice?app=testapp").get_data(as_text=True)
    assert '"plan": "pro"' in html.unescape(page)
    assert "Alice &lt;b&gt;A&lt;/b&gt;" in page  # traits are escaped
    assert "<code>anon-a</code>" in page
    timeline = kinds(page)
    assert timeline.count("event") == 3 and "record_edit" in timeline and "batch" in timeline
    assert "bob-payload" not in page
    # The export link; no delete form for a viewer.
    assert 'href="/console/people/export?userId=alice&amp;app=testapp"' in page
    assert "data-delete-form" not in page


def test_without_an_app_the_only_app_is_chosen_and_unknown_people_say_so(console, alice):
    session = console("viewer")
    assert "<code>anon-a</code>" in session.get("/console/people/alice").get_data(as_text=True)
    page = session.get("/console/people?userId=nobody").get_data(as_text=True)
    assert "No app holds a profile of <code>nobody</code>" in page
    assert session.get("/console/people").status_code == 200
    assert session.get("/console/people?userId=" + "u" * 257).status_code == 400


def test_the_query_form_serves_any_user_id(console, send, store, app):
    for user_id in ("team/alice", "export", "..", "é ü 1"):
        send([event("viewed", who=user_id)], user_id=user_id)
    run_sync(store, app.config, source="manual")
    session = console("viewer")
    for user_id in ("team/alice", "export", "..", "é ü 1"):
        response = session.get("/console/people", query_string={"userId": user_id,
                                                                "app": "testapp"})
        assert response.status_code == 200, user_id
        assert kinds(response.get_data(as_text=True)).count("event") == 1, user_id


def test_the_export_is_the_persons_json_document(console, alice, store):
    session = console("viewer")
    response = session.get("/console/people/export?userId=alice&app=testapp")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "alice" not in response.headers["Content-Disposition"]
    document = json.loads(response.get_data(as_text=True))
    assert (document["userId"], document["appId"]) == ("alice", "testapp")
    assert len(document["events"]) == 3
    assert "alice-payload" in json.dumps(document) and "bob-payload" not in json.dumps(document)
    exports = [e for e in store.list_audit(limit=50) if e["action"] == "person.export"]
    assert len(exports) == 1 and "alice" not in json.dumps(exports[0], default=str)
    assert session.get("/console/people/export?userId=alice").status_code == 400


def test_a_mistyped_confirmation_deletes_nothing(console, alice, store):
    admin = console("admin")
    response = confirm(admin, "alice", "alic")
    assert response.status_code == 400
    assert "Type the userId exactly" in response.get_data(as_text=True)
    page = admin.get("/console/people/alice?app=testapp").get_data(as_text=True)
    assert kinds(page).count("event") == 3
    assert not [e for e in store.list_audit(limit=50) if "delet" in e["action"]]


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_only_admins_may_delete(console, alice, store, role):
    session = console(role)
    response = confirm(session, "alice", "alice")
    assert response.status_code == 403
    page = session.get("/console/people/alice?app=testapp").get_data(as_text=True)
    assert "data-delete-form" not in page
    assert kinds(page).count("event") == 3


def test_an_admin_deletes_a_person_after_typing_the_user_id(console, alice, store, app,
                                                            erase_pending):
    admin = console("admin")
    page = admin.get("/console/people/alice?app=testapp").get_data(as_text=True)
    assert "data-delete-form" in page
    response = confirm(admin, "alice", "alice", suppress=True)
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith("/console/people/alice?app=testapp&deletion=")
    erase_pending()
    after = admin.get(location).get_data(as_text=True)
    assert 'data-deletion="done"' in after
    assert kinds(after) == [] and "data-empty-timeline" in after
    assert "anon-a" not in after and "alice-payload" not in after
    assert "future items suppressed" in after
    # Bob is untouched; the deletion is audited once, without the clear id.
    bob = admin.get("/console/people/bob?app=testapp").get_data(as_text=True)
    assert kinds(bob).count("event") == 1
    entries = [e for e in store.list_audit(limit=50) if "delet" in e["action"]]
    assert len(entries) == 1, entries
    assert entries[0]["actor"] in ("admin", "user:admin")
    assert "alice" not in json.dumps(entries[0], default=str)


def test_conflicts_link_to_their_person(console, send, store, app):
    send([record("r-5", 0, {"title": "t"})], user_id="carol")
    run_sync(store, app.config, source="manual")
    send([record("r-5", 1, {"title": "server"})], user_id="carol")
    run_sync(store, app.config, source="manual")
    send([record("r-5", 1, {"title": "client"}, conflictResolution="manual")], user_id="carol")
    run_sync(store, app.config, source="manual")
    [conflict] = store.list_conflicts(status="open", values=False)
    session = console("viewer")
    link = 'href="/console/people/carol?app=testapp"'
    assert link in session.get("/console/conflicts").get_data(as_text=True)
    assert link in session.get(f"/console/conflicts/{conflict['id']}").get_data(as_text=True)
    person = session.get("/console/people/carol?app=testapp").get_data(as_text=True)
    assert "conflict" in kinds(person)
    assert f'href="/console/conflicts/{conflict["id"]}"' in person


def test_the_timeline_pages_hold_every_entry_once(console, send, store, app):
    send([event("tick", n=n) for n in range(54)], user_id="dora")
    run_sync(store, app.config, source="manual")
    session = console("viewer")
    first = session.get("/console/people/dora?app=testapp").get_data(as_text=True)
    assert len(kinds(first)) == 50
    older = html.unescape(re.search(r'href="([^"]+)"[^>]*rel="next"', first).group(1))
    second = session.get(older).get_data(as_text=True)
    # 54 events and their batch log.
    assert len(kinds(second)) == 5 and 'rel="next"' not in second
    events = re.findall(r'href="/console/events/testapp/([^"]+)"', first + second)
    assert len(events) == len(set(events)) == 54
    fragment = session.get(older, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="person-timeline"')
    forged = session.get("/console/people/dora?app=testapp&before=bm9wZQ")
    assert forged.status_code == 400 and "page cursor" in forged.get_data(as_text=True)
