"""The ingest fast path agrees with marshmallow on every input it accepts, and accepts the
well-formed common case (else it would be dead weight)."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from app.schemas.events import ANY_EVENT_DATA, EVENT_DATA_SCHEMAS
from app.schemas.fastload import FastLoader
from app.schemas.telemetry import EventItemSchema

SCHEMAS = [EventItemSchema(), ANY_EVENT_DATA, *EVENT_DATA_SCHEMAS.values()]

values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-200, max_value=200),
    st.floats(), st.floats(min_value=-5, max_value=150),
    st.text(max_size=12), st.sampled_from(["e-1", "a b", "", "85", "event", "x" * 200, "high"]),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2), st.lists(st.integers()),
)


def inputs(schema):
    keys = st.sampled_from([*schema.load_fields, "unknownField", "itemType"])
    return st.dictionaries(keys, values, max_size=8)


def same(a, b):
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b and type(a) is type(b)


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: type(s).__name__)
def test_fast_path_never_disagrees_with_marshmallow(schema):
    loader = FastLoader(schema)

    @settings(max_examples=300, deadline=None)
    @given(inputs(schema))
    def check(data):
        fast = loader.load(data)
        if fast is None:
            return
        try:
            slow = schema.load(data)
        except ValidationError as exc:
            raise AssertionError(f"fast path accepted what marshmallow refuses: {exc}") from None
        assert fast.keys() == slow.keys()
        for key in fast:
            assert same(fast[key], slow[key]), key

    check()


def test_fast_path_takes_the_common_well_formed_item():
    loader = FastLoader(EventItemSchema())
    item = {"itemType": "event", "eventId": "0190f5a8-1c2e-7a00-8000-000000000001",
            "eventType": "interview_completed", "eventData": {"score": 85, "duration": 1800},
            "metadata": {"clientTimestamp": "2026-11-28T10:00:00Z"}}
    assert loader.load(item) == EventItemSchema().load(item)
    data = FastLoader(EVENT_DATA_SCHEMAS["interview_completed"])
    assert data.load({"score": 85, "duration": 1800}) == {"score": 85.0, "duration": 1800.0}


def test_fast_path_declines_what_needs_marshmallow():
    data = FastLoader(EVENT_DATA_SCHEMAS["interview_completed"])
    assert data.load({"score": "85", "duration": 1}) is None  # a conversion
    assert data.load({"score": 101, "duration": 1}) is None  # a failing validator
    assert data.load({"duration": 1}) is None  # a missing required field
    assert data.load({"score": True, "duration": 1}) is None  # bool is not a number
