"""A person's export over HTTP and the CLI, on both stores: GET
/api/telemetry/people/<userId>/export and /people/export?userId= (scope read; the key's app), and
`flask people export`."""

import json

import pytest

from tests.sync.helpers import sync

from .people import ANN_MARK, APP, BOB_MARK, event, make_person, post

EXPORT = "/api/telemetry/people/export"
# Ids only the query form can name: a slash, Unicode and spaces, and the longest id (256).
ODD_IDS = ["team/ann", "Zoë 🙂 ünïcødé", "x" * 255 + "/", "é" * 256]


def export(client, auth, user_id, path_form=True, status=200):
    by_query = client.get(EXPORT, query_string={"userId": user_id}, headers=auth)
    assert by_query.status_code == status, by_query.get_data(as_text=True)[:500]
    if path_form:
        by_path = client.get(f"/api/telemetry/people/{user_id}/export", headers=auth)
        assert by_path.status_code == status
        if status == 200:
            assert ({**by_path.get_json(), "exportedAt": None}
                    == {**by_query.get_json(), "exportedAt": None})
        else:
            assert by_path.get_json() == by_query.get_json()
    return by_query


@pytest.fixture
def people(client, auth, app, store):
    return {"ann": make_person(client, auth, app, store, "ann", ANN_MARK, anonymous_id="anon-1"),
            "bob": make_person(client, auth, app, store, "bob", BOB_MARK, day=10)}


def test_the_export_is_an_attached_json_document_of_the_person(client, auth, people):
    streamed = client.get("/api/telemetry/people/ann/export", headers=auth, buffered=False)
    assert streamed.is_streamed and "Content-Length" not in streamed.headers
    streamed.close()
    answer = export(client, auth, "ann")
    assert answer.mimetype == "application/json"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="person-export.json"'
    doc = json.loads(answer.get_data(as_text=True))
    assert doc["userId"] == "ann" and doc["appId"] == APP
    assert sorted(e["eventId"] for e in doc["events"]) == sorted(people["ann"]["events"])
    assert doc["records"] and doc["conflicts"] and doc["batches"] and doc["recordVersions"]
    assert BOB_MARK not in answer.get_data(as_text=True)


def test_a_person_the_app_holds_nothing_of_is_not_found(client, auth, api_key, people):
    answer = export(client, auth, "nobody", status=404)
    assert answer.get_json()["error"] == "not_found"
    # Another app's key: ann is not a person of that app.
    other = {"Authorization": f"Bearer {api_key('read', app_name='otherapp')}"}
    assert export(client, other, "ann", status=404).get_json()["error"] == "not_found"
    # The export needs the read scope.
    ingest_only = {"Authorization": f"Bearer {api_key('ingest')}"}
    assert client.get(EXPORT, query_string={"userId": "ann"},
                      headers=ingest_only).status_code == 403


def test_people_export_without_a_user_id_asks_for_one_and_export_is_a_query_id(client, auth,
                                                                               app, store):
    missing = client.get(EXPORT, headers=auth)
    assert missing.status_code == 400
    assert missing.get_json()["error"] == "validation_error"
    assert "userId" in missing.get_json()["fields"]
    # A person named "export" is the query form's: both the profile and the export.
    post(client, auth, [event("ex-1", "named-export", 1, 0)], userId="export")
    sync(app, store)
    assert client.get("/api/telemetry/people", query_string={"userId": "export"},
                      headers=auth).status_code == 200
    doc = export(client, auth, "export", path_form=False).get_json()
    assert [e["eventId"] for e in doc["events"]] == ["ex-1"]
    by_path = client.get("/api/telemetry/people/export/export", headers=auth)
    assert [e["eventId"] for e in by_path.get_json()["events"]] == ["ex-1"]


def test_any_id_is_exported_through_the_query_form(client, auth, app, store):
    for n, user_id in enumerate(ODD_IDS):
        post(client, auth, [event(f"odd-{n}", f"mark-{n}", 1, n)], userId=user_id)
    sync(app, store)
    for n, user_id in enumerate(ODD_IDS):
        answer = export(client, auth, user_id, path_form="/" not in user_id)
        doc = answer.get_json()
        assert doc["userId"] == user_id
        assert [e["eventId"] for e in doc["events"]] == [f"odd-{n}"]
        assert [q["userId"] for q in doc["queueItems"]] == [user_id]
        assert [b["userId"] for b in doc["batches"]] == [user_id]
    # A slash is not a path segment's: the path form does not reach the person.
    assert client.get("/api/telemetry/people/team/ann/export", headers=auth).status_code == 404
    too_long = client.get(EXPORT, query_string={"userId": "x" * 257}, headers=auth)
    assert too_long.status_code == 400 and "userId" in too_long.get_json()["fields"]


def test_the_cli_writes_the_same_document(runner, client, auth, people, tmp_path):
    by_api = export(client, auth, "ann").get_json()
    printed = runner.invoke(args=["people", "export", "ann", "--app", APP])
    assert printed.exit_code == 0, printed.output
    assert {**json.loads(printed.output), "exportedAt": None} == {**by_api, "exportedAt": None}
    target = tmp_path / "ann.json"
    written = runner.invoke(args=["people", "export", "ann", "--app", APP, "--output",
                                  str(target)])
    assert written.exit_code == 0, written.output
    assert {**json.loads(target.read_text()), "exportedAt": None} == {**by_api,
                                                                      "exportedAt": None}
    assert str(target) in written.output
    odd = runner.invoke(args=["people", "export", "team/ann", "--app", APP])
    assert odd.exit_code == 1 and "No person 'team/ann' in app testapp" in odd.output
    assert "Traceback" not in odd.output


@pytest.mark.filterwarnings("ignore:Generating overly large repr")
def test_any_id_the_api_takes_exports_its_own_rows_and_nothing_answers_5xx(client, app, store):
    """User ids of any text the validators take (1-256 characters of all of Unicode, NUL and
    "/" included): the query form exports each person's own rows, and no id answers 5xx."""
    from hypothesis import HealthCheck, given, note, settings
    from hypothesis import strategies as st

    from app.accounts.keys import create_key
    from app.schemas.telemetry import UserId

    ids = st.text(st.characters(codec="utf-8"), min_size=UserId.min, max_size=UserId.max)

    @settings(max_examples=15, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.data_too_large])
    @given(st.lists(ids, min_size=2, max_size=2, unique=True))
    def check(pair):
        note(repr(pair))
        store.reset()
        raw, _doc = create_key(store, APP, ["ingest", "read"])
        headers = {"Authorization": f"Bearer {raw}"}
        post(client, headers, [event("only-0", "m0", 1, 0)], userId=pair[0])
        sync(app, store)
        answer = client.get(EXPORT, query_string={"userId": pair[0]}, headers=headers)
        assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
        doc = json.loads(answer.get_data(as_text=True))
        assert doc["userId"] == pair[0]
        assert [e["eventId"] for e in doc["events"]] == ["only-0"]
        assert [q["userId"] for q in doc["queueItems"]] == [pair[0]]
        other = client.get(EXPORT, query_string={"userId": pair[1]}, headers=headers)
        assert other.status_code == 404, other.get_data(as_text=True)[:300]
        if "/" not in pair[0] and pair[0] not in (".", "..", "export"):
            by_path = client.get(f"/api/telemetry/people/{pair[0]}/export", headers=headers)
            assert by_path.status_code in (200, 404), by_path.status_code

    check()
