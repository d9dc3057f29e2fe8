"""Upgrade step 6 on the stores earlier releases made: the explorer finds every event they
hold, newest first, and the hourly counts it fills agree with the events themselves."""

import pytest

from app.extensions import store
from tests.conftest import close_app

from .fixtures import RELEASES, app_on_release_store

pytestmark = pytest.mark.parametrize("release", RELEASES)


@pytest.fixture
def release_store(release, tmp_path, store_kind):
    app = app_on_release_store(release, tmp_path, store_kind)
    with app.app_context():
        yield store.get(app)
    close_app(app)


def test_the_upgraded_store_counts_and_pages_every_event(release_store):
    the_store = release_store
    events = [e for chunk in the_store.event_chunks({}, chunk=2) for e in chunk]
    assert events, "the fixtures hold events"
    times = [(e["timestamp"], e["key"]) for e in events]
    assert [t for t, _ in times] == sorted((t for t, _ in times), reverse=True)
    assert len({e["key"] for e in events}) == len(events)
    by_day = {}
    for app_id in sorted({e["appId"] for e in events}):
        for row in the_store.event_counts(app_id)[1]:
            by_day[row["day"], row["eventType"]] = (
                by_day.get((row["day"], row["eventType"]), 0) + row["count"])
    histogram = {(start.date().isoformat(), t): n
                 for start, t, n in the_store.event_histogram({}, "day")}
    assert histogram == by_day
    assert sum(histogram.values()) == len(events)
