"""The explorer's query arguments and its stacked chart, from plain data (no store)."""

from datetime import UTC, datetime, timedelta

import pytest

from app.console.services import explorer
from app.console.services.explorer import (
    FilterInvalid,
    event_filters,
    explorer_args,
    explorer_query,
    skew,
    stacked_chart,
)

NOW = datetime(2026, 12, 3, 16, 30, 12, tzinfo=UTC)


def hour(h, day=3):
    return datetime(2026, 12, day, h, tzinfo=UTC)


# ---- query arguments -----------------------------------------------------------------------

def test_defaults_to_the_last_24_hours_by_the_hour():
    query = explorer_query({}, now=NOW)
    assert query["range"] == "24h" and query["bucket"] == "hour"
    assert query["since"] == NOW - timedelta(hours=24) and query["until"] is None
    assert event_filters(query) == {"since": NOW - timedelta(hours=24)}


@pytest.mark.parametrize(("preset", "span", "bucket"), [
    ("1h", timedelta(hours=1), "hour"), ("24h", timedelta(hours=24), "hour"),
    ("7d", timedelta(days=7), "day"), ("30d", timedelta(days=30), "day")])
def test_presets_pick_their_span_and_bucket(preset, span, bucket):
    query = explorer_query({"range": preset}, now=NOW)
    assert (query["since"], query["bucket"]) == (NOW - span, bucket)


def test_every_filter_reaches_the_port_and_comes_back_as_arguments():
    args = {"type": "a, b,a", "user": "u 1/é", "app": "testapp", "event": "ev-1",
            "range": "custom", "from": "2026-12-01T10:00", "to": "2026-12-02T10:00:30Z"}
    query = explorer_query(args, now=NOW)
    assert event_filters(query) == {
        "since": datetime(2026, 12, 1, 10, tzinfo=UTC),
        "until": datetime(2026, 12, 2, 10, 0, 30, tzinfo=UTC),
        "appId": "testapp", "userIds": ["u 1/é"], "eventTypes": ["a", "b"], "eventId": "ev-1"}
    assert query["bucket"] == "hour"
    again = explorer_query(explorer_args(query), now=NOW)
    assert event_filters(again) == event_filters(query)


def test_a_custom_range_longer_than_three_days_counts_per_day():
    query = explorer_query({"from": "2026-11-01T00:00", "to": "2026-11-05T00:00"}, now=NOW)
    assert (query["range"], query["bucket"]) == ("custom", "day")


def test_a_custom_range_without_to_ends_now_and_without_from_starts_a_day_before():
    assert explorer_query({"range": "custom", "from": "2026-12-03T10:00"},
                          now=NOW)["until"] == NOW
    query = explorer_query({"range": "custom", "to": "2026-12-03T10:00"}, now=NOW)
    assert query["since"] == datetime(2026, 12, 2, 10, tzinfo=UTC)


@pytest.mark.parametrize(("args", "field"), [
    ({"range": "week"}, "range"),
    ({"range": "custom", "from": "yesterday"}, "from"),
    ({"range": "custom", "to": "2026-13-01T00:00"}, "to"),
    ({"range": "custom", "from": "2026-12-02T00:00", "to": "2026-12-01T00:00"}, "from"),
    ({"range": "custom", "from": "2020-01-01T00:00", "to": "2026-12-01T00:00"}, "from"),
    ({"user": "u" * 257}, "user"),
    ({"type": ",".join(f"t{n}" for n in range(21))}, "type"),
])
def test_bad_arguments_name_themselves(args, field):
    with pytest.raises(FilterInvalid) as caught:
        explorer_query(args, now=NOW)
    assert caught.value.field == field


# ---- the chart -----------------------------------------------------------------------------

def test_bars_stack_each_types_count_in_its_hour():
    rows = [(hour(14), "viewed", 2), (hour(14), "flipped", 1), (hour(16), "viewed", 4)]
    chart = stacked_chart(rows, hour(13), hour(16, 3) + timedelta(minutes=20), "hour")
    assert [b["label"] for b in chart["bars"]] == [
        "12-03 13:00Z", "12-03 14:00Z", "12-03 15:00Z", "12-03 16:00Z"]
    assert [b["total"] for b in chart["bars"]] == [0, 3, 0, 4]
    by_hour = {b["label"]: {s["type"]: s["count"] for s in b["segments"]}
               for b in chart["bars"]}
    assert by_hour["12-03 14:00Z"] == {"viewed": 2, "flipped": 1}
    assert chart["legend"] == [{"type": "viewed", "series": 0, "count": 6},
                               {"type": "flipped", "series": 1, "count": 1}]
    assert (chart["total"], chart["peak"]) == (7, 4)
    # The tallest bar fills the chart; segments stack without a gap.
    tallest = chart["bars"][3]["segments"][0]
    assert (tallest["y"], tallest["h"]) == (0, chart["height"])
    low, high = chart["bars"][1]["segments"]
    assert low["y"] == pytest.approx(high["y"] + high["h"])
    assert low["y"] + low["h"] == pytest.approx(chart["height"])


def test_days_are_utc_days_and_a_bucket_after_the_end_widens_the_chart():
    rows = [(hour(0, 1), "a", 1), (hour(23, 1), "a", 2), (hour(1, 4), "b", 5)]
    chart = stacked_chart(rows, hour(12, 1), hour(9, 3), "day")
    assert [(b["label"], b["total"]) for b in chart["bars"]] == [
        ("2026-12-01", 3), ("2026-12-02", 0), ("2026-12-03", 0), ("2026-12-04", 5)]


def test_types_beyond_the_palette_share_one_series():
    rows = [(hour(10), f"type-{n:02d}", 100 - n) for n in range(12)]
    chart = stacked_chart(rows, hour(10), hour(10), "hour")
    named = [s["type"] for s in chart["legend"]]
    assert named == [f"type-{n:02d}" for n in range(explorer.SERIES_MAX - 1)] + [
        explorer.OTHER]
    other = chart["legend"][-1]
    assert other["count"] == sum(100 - n for n in range(explorer.SERIES_MAX - 1, 12))
    assert other["types"] == [f"type-{n:02d}" for n in range(explorer.SERIES_MAX - 1, 12)]
    assert sum(s["count"] for s in chart["bars"][0]["segments"]) == chart["total"]


def test_an_empty_range_draws_empty_bars():
    chart = stacked_chart([], NOW - timedelta(hours=1), NOW, "hour")
    assert [b["total"] for b in chart["bars"]] == [0, 0]
    assert chart["legend"] == [] and chart["total"] == 0


@pytest.mark.parametrize(("ms", "words"), [
    (None, None), (0, "0 ms (clocks agree)"), (-250, "-250 ms (clocks agree)"),
    (150_000, "+150,000 ms: the client's clock was 2.5 min ahead"),
    (-4_200, "-4,200 ms: the client's clock was 4.2 s behind")])
def test_skew_in_words(ms, words):
    assert skew({"metadata": {"skewMs": ms}}) == words
