"""Erasing a person, on both stores: after DELETE /people and the background steps, no table or
collection holds the person's ids or payloads, another person's data is untouched, what remains
is hashed, and a deletion cut short finishes on the next run."""

import pytest

from app.accounts.privacy import BATCH, EVENT, ITEM, id_hashes, person_hash
from app.privacy import erasure
from app.store.common import utcnow
from tests.privacy.erasure_helpers import escaped, populate, search

USER, ANON, MARK = "pia x7/ü", "anon-pia-41", "MARK-pia-91"
OTHER, OTHER_ANON, OTHER_MARK = "bob-22", "anon-bob-22", "MARK-bob-22"
NEEDLES = (escaped(USER), ANON, MARK)
KINDS = {"event": EVENT, "item": ITEM, "batch": BATCH}
OTHERS = (OTHER, OTHER_ANON, OTHER_MARK)


@pytest.fixture
def sent(client, auth, store, app):
    """The ids the person's items were sent with, by kind (event, item, batch)."""
    return populate(client, auth, store, app, USER, ANON, MARK, "r-pia")


@pytest.fixture
def two_people(client, auth, store, app, sent):
    populate(client, auth, store, app, OTHER, OTHER_ANON, OTHER_MARK, "r-bob")
    assert set(search(store, *NEEDLES)) >= {
        "telemetry", "sync_queue", "records", "record_versions", "conflicts", "people",
        "identities", "batch_logs", "audit_log"}
    return search(store, *OTHERS)


def delete(client, auth, user_id=USER, status=202, **query):
    answer = client.delete("/api/telemetry/people", query_string={"userId": user_id, **query},
                           headers=auth)
    assert answer.status_code == status, answer.json
    return answer


def follow(client, auth, answer, status=200):
    found = client.get(answer.headers["Location"], headers=auth)
    assert found.status_code == status, found.json
    return found.json


def test_no_table_keeps_the_persons_ids_or_payloads(client, auth, store, app, two_people):
    answer = delete(client, auth)
    body = answer.json
    assert body["status"] == "pending" and body["suppress"] is False
    assert answer.headers["Location"] == body["url"] == (
        f"/api/telemetry/deletions/{body['deletionId']}")
    # While it waits, the deletion alone holds the clear ids.
    assert set(search(store, *NEEDLES)) >= {"deletions", "telemetry"}

    erasure.run_deletions(store, app.config)

    assert search(store, *NEEDLES) == {}
    assert search(store, *OTHERS) == two_people
    done = follow(client, auth, answer)
    assert (done["status"], done["phase"]) == ("done", "done")
    assert done["finishedAt"] and done["requestedAt"]
    counts = done["counts"]
    assert counts["events"] == 3 and counts["people"] == 2 and counts["records"] == 1
    assert counts["batches"] == 4 and counts["audit"] == 2
    assert counts["queue"] == 8 and counts["conflicts"] == 1
    # The events page's counts are those of the events left (the other person's).
    assert sum(r["count"] for r in store.event_type_counts()) == len(
        search(store, OTHER, OTHER_ANON)["telemetry"])


def test_an_anonymous_id_erases_the_person_it_is_linked_to(client, auth, store, app,
                                                          two_people):
    delete(client, auth, ANON)
    erasure.run_deletions(store, app.config)
    assert search(store, *NEEDLES) == {}
    assert search(store, *OTHERS) == two_people


def test_what_remains_is_hashed_and_the_audit_entry_names_no_one(client, auth, store, app,
                                                               two_people, sent):
    delete(client, auth, suppress="true")
    erasure.run_deletions(store, app.config)
    subject = person_hash(app.config, "testapp", USER)
    # The audit entry and the suppression of each of the person's ids, by hash.
    assert set(search(store, subject)) == {"audit_log", "deletions", "suppressions"}
    assert search(store, person_hash(app.config, "testapp", ANON)).keys() == {"suppressions"}
    [entry] = [e for e in store.list_audit() if e["action"] == "person.delete"]
    assert entry["target"] == f"person:{subject}"
    assert entry["actor"].startswith("key:")
    assert entry["details"]["suppress"] is True
    assert search(store, *NEEDLES) == {}
    # Tombstones of every erased eventId, itemId and batchId (the person's batches: those
    # sent under their userId).
    batches = sent["batch"][2:]
    assert len(sent["event"]) == 5 and len(sent["item"]) == 3
    for kind, values in (("event", sent["event"]), ("item", sent["item"]),
                         ("batch", batches)):
        for value, hashed in id_hashes(app.config, KINDS[kind], "testapp", values).items():
            assert search(store, hashed).keys() == {"tombstones"}, (kind, value)
    # The clear ids are gone too, but from the sync engine's own batch logs, whose results
    # list the itemIds each run applied (no userId, no payload) until retention prunes them.
    left = search(store, *sent["event"], *sent["item"])
    assert set(left) <= {"batch_logs"}
    assert all('"manual"' in row or '"scheduled"' in row for row in left.get("batch_logs", []))


def test_an_unknown_person_is_answered_the_same_and_still_suppressed(client, auth, store, app):
    answer = delete(client, auth, "nobody-at-all", suppress="true")
    assert answer.json["status"] == "pending"
    erasure.run_deletions(store, app.config)
    done = follow(client, auth, answer)
    assert done["status"] == "done"
    assert not any(done["counts"].get(p) for p in ("events", "queue", "people"))
    subject = person_hash(app.config, "testapp", "nobody-at-all")
    assert "suppressions" in search(store, subject)


def test_the_path_form_and_its_answer(client, auth, store, app, two_people):
    answer = client.delete(f"/api/telemetry/people/{OTHER}", headers=auth)
    assert answer.status_code == 202, answer.json
    assert answer.headers["Location"] == answer.json["url"]
    assert set(answer.json) >= {"deletionId", "status", "suppress", "url", "counts",
                                "requestedAt"}
    erasure.run_deletions(store, app.config)
    assert search(store, *OTHERS) == {}
    assert search(store, MARK)  # the other person is still there


@pytest.mark.parametrize("query", [{"suppress": "yes"}, {"suppress": "1"}, {"suppress": ""},
                                   {"other": "x"}])
def test_a_bad_query_is_refused_and_changes_nothing(client, auth, store, query):
    answer = client.delete("/api/telemetry/people/someone", query_string=query, headers=auth)
    assert answer.status_code == 400, answer.json
    assert store.open_deletions(10) == []
    assert client.delete("/api/telemetry/people", headers=auth).status_code == 400


@pytest.mark.parametrize("scopes", ["read", "ingest", "ingest,read"])
def test_only_an_admin_key_may_erase_or_follow(client, auth, api_key, store, scopes):
    answer = delete(client, auth, "someone")
    headers = {"Authorization": f"Bearer {api_key(scopes)}"}
    assert client.delete("/api/telemetry/people/someone", headers=headers).status_code == 403
    assert client.delete("/api/telemetry/people", query_string={"userId": "x"},
                         headers=headers).status_code == 403
    assert client.get(answer.headers["Location"], headers=headers).status_code == 403
    assert len(store.open_deletions(10)) == 1


def test_another_apps_deletion_is_not_found(client, auth, api_key, store):
    answer = delete(client, auth, "someone")
    other = {"Authorization": f"Bearer {api_key('admin', app_name='otherapp')}"}
    assert client.get(answer.headers["Location"], headers=other).status_code == 404
    missing = client.get("/api/telemetry/deletions/nope", headers=auth)
    assert (missing.status_code, missing.json["error"]) == (404, "not_found")


class Failing:
    """The store, except that erase_step fails once `after` steps have run."""

    def __init__(self, real, after):
        self._real, self._after, self.steps = real, after, 0

    def __getattr__(self, name):
        return getattr(self._real, name)

    def erase_step(self, *args, **kwargs):
        self.steps += 1
        if self.steps > self._after:
            raise RuntimeError("the process died here")
        return self._real.erase_step(*args, **kwargs)


@pytest.mark.logs_errors
def test_a_deletion_stopped_half_way_finishes_on_the_next_run(client, auth, store, app,
                                                             two_people):
    answer = delete(client, auth)
    failing = Failing(store, after=3)
    erasure.run_deletions(failing, app.config, step_rows=2)
    half = follow(client, auth, answer)
    assert half["status"] == "running" and failing.steps == 4
    assert sum(half["counts"].values()) > 0
    assert search(store, *NEEDLES)  # not all gone yet

    erasure.run_deletions(store, app.config, step_rows=2)
    assert follow(client, auth, answer)["status"] == "done"
    assert search(store, *NEEDLES) == {}
    assert search(store, *OTHERS) == two_people


def test_a_deletion_another_process_holds_waits_for_its_lease(client, auth, store, app):
    answer = delete(client, auth, "someone")
    deletion_id = answer.json["deletionId"]
    now = utcnow()
    from datetime import timedelta

    lock = f"erasure:{deletion_id}"
    assert store.acquire_lock(lock, "a killed process", now + timedelta(seconds=60), now)
    assert erasure.run_deletions(store, app.config) == []
    assert follow(client, auth, answer)["status"] == "pending"
    # Its lease runs out: the next run takes the deletion over and finishes it.
    assert store.acquire_lock(lock, "a killed process", now - timedelta(seconds=1),
                              now - timedelta(seconds=2))
    [ran] = erasure.run_deletions(store, app.config)
    assert ran["status"] == "done"


def test_the_command_erases_to_the_end(runner, client, auth, store, app, two_people):
    result = runner.invoke(args=["people", "delete", USER, "--app", "testapp", "--suppress"])
    assert result.exit_code == 0, result.output
    assert ": done (" in result.output and "events 3" in result.output
    assert search(store, *NEEDLES) == {}
    assert search(store, *OTHERS) == two_people


def test_the_exports_own_path_is_not_a_person_to_erase(client, auth, store):
    refused = client.delete("/api/telemetry/people/export", headers=auth)
    assert refused.status_code == 405
    assert "DELETE" not in client.options("/api/telemetry/people/export").headers["Allow"]
    assert store.open_deletions(10) == []
    assert delete(client, auth, "export").json["status"] == "pending"
