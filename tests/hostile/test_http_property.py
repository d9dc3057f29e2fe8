"""Properties over what a client puts in a URL and in a gzip body: whatever the value, no API
route answers 5xx, every refusal has the error shape and stores nothing, and a gzip body is
taken only when it is a complete, intact stream."""

import gzip
import json
import zlib
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.helpers import batch, event_item
from tests.hostile.helpers import error_of, stored
from tests.sync.helpers import manual_conflict

pytestmark = pytest.mark.both_stores

CHECKED = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                        HealthCheck.too_slow])
GZIP = {"Content-Type": "application/json", "Content-Encoding": "gzip"}

# Every API route with a path or query parameter; {} is where the value goes.
ROUTES = [
    ("GET", "/api/telemetry/conflicts/{}", None),
    ("POST", "/api/telemetry/conflicts/{}/resolve", {"resolution": "server"}),
    ("GET", "/api/telemetry/conflicts?cursor={}", None),
    ("GET", "/api/telemetry/conflicts?limit={}", None),
    ("GET", "/api/telemetry/conflicts?status={}", None),
    ("GET", "/api/telemetry/records?since={}", None),
    ("GET", "/api/telemetry/records?limit={}", None),
    ("GET", "/api/telemetry/records?recordType={}", None),
    ("GET", "/api/telemetry/records/{}/r1", None),
    ("GET", "/api/telemetry/records/note/{}", None),
    ("GET", "/api/telemetry/batch/{}", None),
    ("GET", "/api/telemetry/status?userId={}", None),
    ("GET", "/api/telemetry/metrics?from={}", None),
    ("GET", "/api/telemetry/metrics?to={}", None),
]

numbers = st.one_of(
    st.integers().map(str),
    st.integers(min_value=2 ** 31 - 2, max_value=2 ** 65).map(str),
    st.integers(min_value=-(10 ** 40), max_value=10 ** 40).map(str),
    st.integers(min_value=1, max_value=12_000).map(lambda n: "9" * n),
    st.floats().map(str),
    st.floats().map(lambda f: f"{f:e}"),
    st.builds("{}{}{}".format, st.integers(-10 ** 6, 10 ** 6), st.sampled_from("eE"),
              st.integers(-400, 400)),
    st.builds("0x{:x}".format, st.integers(min_value=0)),
    st.text(st.characters(categories=("Nd", "No", "Nl")), min_size=1, max_size=30),
)
offsets = st.builds(timezone, st.timedeltas(min_value=-timedelta(hours=23, minutes=59),
                                            max_value=timedelta(hours=23, minutes=59)))
times = st.one_of(
    st.datetimes(timezones=st.none() | offsets).map(datetime.isoformat),
    st.builds(lambda year, offset: datetime(year, 1, 1, tzinfo=offset).isoformat(),
              st.sampled_from([1, 2, 9998, 9999]), offsets),
    st.builds(lambda offset: datetime(9999, 12, 31, 23, 59, 59, tzinfo=offset).isoformat(),
              offsets),
    st.builds("{:05d}-01-01T00:00:00Z".format, st.integers(10_000, 99_999)),
)
values = st.one_of(numbers, times, st.text(max_size=300))


@pytest.fixture
def seeded(app, client, store, auth):
    """An app with a conflict, a record and a batch, so that real ids sit among the odd ones;
    returns the values worth trying next to them."""
    conflict = manual_conflict(client, auth, store, app)
    real = [str(conflict["id"]), "note", "r1", "u1", "open", "1", "0"]
    return real + [f"{value}\n" for value in real] + [f" {value}" for value in real]


@settings(CHECKED, max_examples=100)
@given(data=st.data())
def test_no_value_in_a_path_or_query_answers_5xx(client, store, auth, seeded, data):
    method, route, body = data.draw(st.sampled_from(ROUTES), label="route")
    value = data.draw(values | st.sampled_from(seeded), label="value")
    before = stored(store)
    response = client.open(route.format(quote(value, safe="")), method=method, json=body,
                           headers=auth)
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if response.status_code >= 400:
        error_of(response)
        assert stored(store) == before
    else:
        assert response.mimetype in ("application/json", "text/javascript", "text/css",
                                     "text/html", "image/png"), response.mimetype


BODY = json.dumps(batch([event_item("e1")], batch_id="b-gzip")).encode()
PACKED = gzip.compress(BODY, mtime=0)


def test_a_gzip_body_cut_at_any_length_is_refused_and_stores_nothing(client, store, auth):
    answers = {}
    for length in range(len(PACKED)):
        response = client.post("/api/telemetry/batch", data=PACKED[:length],
                               headers={**auth, **GZIP})
        answers[length] = (response.status_code, error_of(response)["error"])
    assert answers.pop(0) == (400, "invalid_json")  # no body at all: nothing to inflate
    assert set(answers.values()) == {(400, "invalid_gzip")}
    assert store.queue_counts() == {}
    whole = client.post("/api/telemetry/batch", data=PACKED, headers={**auth, **GZIP})
    assert whole.status_code == 202


def python_gunzip(body):
    """What Python's gzip module reads from `body`, or None when it refuses it."""
    try:
        return gzip.decompress(body)
    except (OSError, EOFError, zlib.error):  # BadGzipFile is an OSError
        return None


def mangled(data, body):
    """`body` with some of: bytes changed, cut short, bytes or a second member appended."""
    changed = bytearray(body)
    for _ in range(data.draw(st.integers(0, 3), label="changes")):
        at = data.draw(st.integers(0, len(changed) - 1), label="at")
        changed[at] = data.draw(st.integers(0, 255).filter(lambda b, at=at: b != changed[at]),
                                label="byte")
    changed = bytes(changed[:data.draw(st.integers(0, len(changed)), label="cut")])
    return changed + data.draw(st.sampled_from([b"", PACKED]) | st.binary(max_size=12),
                               label="appended")


@settings(CHECKED, max_examples=100)
@given(data=st.data())
def test_a_mangled_gzip_body_is_refused_unless_it_is_still_a_whole_stream(client, store, auth,
                                                                          data):
    packed = data.draw(st.sampled_from([PACKED]) | st.binary(max_size=200).map(gzip.compress),
                       label="gzip")
    body = mangled(data, packed)
    before = stored(store)
    response = client.post("/api/telemetry/batch", data=body, headers={**auth, **GZIP})
    assert response.status_code < 500
    inside = python_gunzip(body)
    if response.status_code == 202:
        assert inside is not None, "taken, yet Python's gzip refuses it"
        return
    answer = error_of(response)
    assert stored(store) == before
    if inside is None and body:
        assert (response.status_code, answer["error"]) == (400, "invalid_gzip"), answer
