"""The rules the OpenAPI document publishes as patterns are the rules the service applies:
the key rule of stored data, and the time grammar every time field checks before parsing."""

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from app.schemas.fields import TIME_PATTERN, UTC_DEFAULT_TIME_PATTERN, UtcDateTime
from app.schemas.storable import KEY_PATTERN, key_problem

KEY = re.compile(KEY_PATTERN)
KEYS = st.one_of(st.text(max_size=6),
                 st.text(alphabet=st.sampled_from("$.\x00a\n"), max_size=4))


@settings(max_examples=300, deadline=None)
@given(KEYS)
def test_the_published_key_pattern_is_the_key_rule(key):
    assert (KEY.fullmatch(key) is not None) == (key_problem(key) is None), repr(key)


@pytest.mark.parametrize("key", ["$x", "a.b", "a\x00", ".", "$", "x\n."])
def test_the_key_pattern_refuses_what_ingest_refuses(key):
    assert KEY.fullmatch(key) is None
    assert key_problem(key) is not None


FIELD = UtcDateTime()
UTC_DEFAULT = UtcDateTime(default_timezone=UTC)


@settings(max_examples=300, deadline=None)
@given(st.from_regex(TIME_PATTERN, fullmatch=True))
def test_every_time_of_the_published_grammar_is_a_time(text):
    """No text the document allows fails to parse (only the 0001..9999 range after the offset
    is checked beyond the grammar)."""
    try:
        FIELD.deserialize(text)
    except ValidationError as exc:
        assert exc.messages == [FIELD.error_messages["out_of_range"]], (text, exc.messages)
    assert datetime.fromisoformat(text).tzinfo is not None


@settings(max_examples=200, deadline=None)
@given(st.from_regex(UTC_DEFAULT_TIME_PATTERN, fullmatch=True))
def test_every_filter_time_of_the_published_grammar_is_a_time(text):
    try:
        UTC_DEFAULT.deserialize(text)
    except ValidationError as exc:
        assert exc.messages == [UTC_DEFAULT.error_messages["out_of_range"]], (text, exc.messages)


@pytest.mark.parametrize("text", [
    "2026-01-31T12:00Z", "2026-01-31T12:00:00.5+05:30", "20260131T120000Z",
    "2026-01-31T12:00:00+0530", "2026-01-31T12:00:00-00:00:01", "2024-02-29T00:00Z",
    "2000-02-29T00:00Z"])
def test_the_grammar_takes_iso_times_with_an_offset(text):
    assert re.fullmatch(TIME_PATTERN, text)
    FIELD.deserialize(text)


@pytest.mark.parametrize("text", [
    "2026-01-31T12:00:00", "2026-01-31", "2026-01-31 12:00Z", "2026-W05-6T12:00Z",
    "2026-02-29T00:00Z", "1900-02-29T00:00Z", "0000-01-01T00:00Z", "2026-01-31T24:00Z",
    "2026-01-31T12:00:60Z", "2026-01-31T12:00:00.1234567Z", "2026-01-31T12:00Z\n",
    "2026-01-31T12Z", "２０２６-01-31T12:00Z", "2026-01-31T12:00+24:00"])
def test_the_grammar_refuses_anything_else_and_so_does_the_field(text):
    assert re.fullmatch(TIME_PATTERN, text) is None
    with pytest.raises(ValidationError):
        FIELD.deserialize(text)
