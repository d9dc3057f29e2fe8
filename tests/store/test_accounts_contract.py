"""The store contract for console accounts: ids a client names, session epochs, sign-in counts."""

import sqlite3
from datetime import timedelta

import pytest

from app.ingest.queue import enqueue
from app.store.common import utcnow

from .helpers import batch_log, open_store, queue_item

# Texts that name no id on any store: out of 64-bit range, digits str.isdigit takes but int64
# does not, signs, floats, blanks, huge and NUL.
NOT_IDS = ["99999999999999999999", "9223372036854775808", "²", "１２", "-1", "+1", "1e3",
           " 1", "1\n", "", "x" * 10000, "\x00", "12\x00", "inf", "ffffffffffffffffffffffff0"]


def user(name="ada"):
    return {"username": name, "passwordHash": "x", "role": "admin", "createdAt": utcnow(),
            "lastLoginAt": None}


def audit_entry(n):
    return {"at": utcnow(), "actor": "ada", "action": f"a{n}", "target": None, "details": None}


@pytest.mark.parametrize("text", NOT_IDS)
def test_texts_that_name_no_id_find_nothing(store, text):
    store.add_audit(audit_entry(0))
    enqueue(store, "app1", [queue_item("e1")], batch_id="b1",
            make_batch_log=lambda outcomes: batch_log("b1", []))
    assert store.parse_id(text) is None
    assert store.queue_item(text) is None
    assert store.batch_log(text) is None
    assert store.list_audit(before_id=text) == []
    assert store.queue_page({}, before_id=text) == []


def test_every_stored_id_parses_to_itself(store):
    store.add_audit(audit_entry(0))
    enqueue(store, "app1", [queue_item("e1")])
    for key in (store.list_audit()[0]["id"], store.queue_page({})[0]["id"]):
        assert store.parse_id(str(key)) == key
        assert store.parse_id(key) == key
    assert store.queue_item(str(store.queue_page({})[0]["id"]))["itemId"] == "e1"


def test_ids_of_one_store_name_nothing_on_the_other(store):
    other = "65a1b2c3d4e5f60718293a4b" if store.kind == "sqlite" else "12"
    assert store.parse_id(other) is None


def test_a_user_starts_without_a_session_epoch_and_each_end_moves_it_on(store):
    store.create_user(user())
    assert not store.get_user("ada").get("sessionEpoch")
    assert store.update_user("ada", {}, end_sessions=True) is True
    assert store.get_user("ada")["sessionEpoch"] == 1
    assert store.update_user("ada", {"role": "viewer"}, end_sessions=True) is True
    assert store.get_user("ada")["sessionEpoch"] == 2
    assert store.get_user("ada")["role"] == "viewer"
    assert store.update_user("ada", {"lastLoginAt": utcnow()}) is True
    assert store.get_user("ada")["sessionEpoch"] == 2
    assert store.update_user("bob", {}, end_sessions=True) is False
    assert store.get_user("bob") is None


def test_sign_in_failures_count_per_key_until_cleared_or_forgotten(store):
    now = utcnow()
    assert store.login_failures(["user:ada"]) == {}
    assert [store.add_login_failure("user:ada", now + timedelta(seconds=n))
            for n in range(3)] == [1, 2, 3]
    assert store.add_login_failure("address:10.0.0.1", now) == 1
    counts = store.login_failures(["user:ada", "address:10.0.0.1", "user:bob"])
    assert {k: v["failures"] for k, v in counts.items()} == {"user:ada": 3,
                                                             "address:10.0.0.1": 1}
    assert abs((counts["user:ada"]["at"] - (now + timedelta(seconds=2))).total_seconds()) < 0.01
    store.forget_login_failures(now)  # at or before `now`: the address count goes
    assert set(store.login_failures(["user:ada", "address:10.0.0.1"])) == {"user:ada"}
    store.clear_login_failures("user:ada")
    assert store.login_failures(["user:ada"]) == {}
    assert store.add_login_failure("user:ada", now) == 1


def test_a_sqlite_file_from_before_session_epochs_keeps_its_users(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (username TEXT PRIMARY KEY, passwordHash TEXT NOT NULL, "
                     "role TEXT NOT NULL, createdAt REAL NOT NULL, lastLoginAt REAL)")
        conn.execute("INSERT INTO users VALUES ('ada', 'x', 'admin', 0, NULL)")
    conn.close()
    store = open_store(path)
    try:
        assert store.get_user("ada")["role"] == "admin"
        assert not store.get_user("ada")["sessionEpoch"]
        assert store.update_user("ada", {}, end_sessions=True) is True
        assert store.get_user("ada")["sessionEpoch"] == 1
    finally:
        store.close()
