"""The store contract for ids a client names: anything that is not a stored id finds nothing."""

import pytest

from app.store.common import utcnow

from .helpers import batch_log, queue_item

# Texts that name no id on any store: out of 64-bit range, digits str.isdigit takes but int64
# does not, signs, floats, blanks, huge and NUL.
NOT_IDS = ["99999999999999999999", "9223372036854775808", "²", "１２", "-1", "+1", "1e3",
           " 1", "1\n", "", "x" * 10000, "\x00", "12\x00", "inf", "ffffffffffffffffffffffff0"]


def audit_entry(n):
    return {"at": utcnow(), "actor": "ada", "action": f"a{n}", "target": None, "details": None}


@pytest.mark.parametrize("text", NOT_IDS)
def test_texts_that_name_no_id_find_nothing(store, text):
    store.add_audit(audit_entry(0))
    store.ingest("app1", [queue_item("e1")], batch_id="b1",
                 make_batch_log=lambda outcomes: batch_log("b1", []))
    assert store.parse_id(text) is None
    assert store.queue_item(text) is None
    assert store.batch_log(text) is None
    assert store.list_audit(before_id=text) == []
    assert store.queue_page({}, before_id=text) == []


def test_every_stored_id_parses_to_itself(store):
    store.add_audit(audit_entry(0))
    store.ingest("app1", [queue_item("e1")])
    for key in (store.list_audit()[0]["id"], store.queue_page({})[0]["id"]):
        assert store.parse_id(str(key)) == key
        assert store.parse_id(key) == key
    assert store.queue_item(str(store.queue_page({})[0]["id"]))["itemId"] == "e1"


def test_ids_of_one_store_name_nothing_on_the_other(store):
    other = "65a1b2c3d4e5f60718293a4b" if store.kind == "sqlite" else "12"
    assert store.parse_id(other) is None
