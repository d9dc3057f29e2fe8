"""A hostile corpus over HTTP-level input (SPEC §4's bad-input list): each case gets its 4xx in
the error shape, naming the problem, and stores nothing. Bodies, encodings, keys, paths, query
arguments, routes and methods run in-process on both stores; chunked bodies run against
gunicorn, whose log must stay free of tracebacks."""

import gzip
import json
import os
import socket
import zlib
from functools import cache
from urllib.parse import urlsplit

import pytest

from app.accounts.keys import create_key
from app.extensions import store as store_ext
from tests.api.helpers import batch, event_item
from tests.conftest import close_app, make_app
from tests.hostile.helpers import check_error_shape, error_of, stored
from tests.test_gunicorn import serving_gunicorn

pytestmark = pytest.mark.both_stores

LIMIT = 1024 * 1024  # MAX_CONTENT_LENGTH of the testing profile
JSON = {"Content-Type": "application/json"}
GZIP = {**JSON, "Content-Encoding": "gzip"}
BATCH = "/api/telemetry/batch"
TRACK = "/api/telemetry/track"
HUGE = "99999999999999999999"  # past 64 bits
LONG = "9" * 10_000


def batch_body(**extra):
    return json.dumps(batch([event_item("e1")], batch_id="b-hostile", **extra)).encode()


def padded_body(size):
    """A valid batch of exactly `size` bytes: items of at most 16 KB, padded."""
    count = size // 16_384 + 1

    def body(pads):
        items = [event_item(f"pad-{i}", event_type="x", pad=pad) for i, pad in enumerate(pads)]
        return json.dumps(batch(items, batch_id="b-pad")).encode()

    room, extra = divmod(size - len(body([""] * count)), count)
    return body(["y" * (room + extra)] + ["y" * room] * (count - 1))


def gz(data):
    return gzip.compress(data, mtime=0)


def flipped(data, index):
    changed = bytearray(data)
    changed[index] ^= 0xFF
    return bytes(changed)


@cache
def bomb():
    """64 MiB of zeros in about 64 KB of gzip."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1024 * 1024)
    return b"".join(packer.compress(block) for _ in range(64)) + packer.flush()


GOOD = batch_body()
GOOD_GZ = gz(GOOD)
BAD = (400, "validation_error")


def case(name, status, error, method="post", path=BATCH, body=None, headers=JSON, scopes="admin",
         auth="Bearer {key}", named=""):
    """One row: the request (body may be a function, built when the case runs; auth a header
    value with {key} for a key of `scopes`, or a dict of headers), and the answer expected."""
    return pytest.param(method, path, body, headers, scopes, auth, status, error, named, id=name)


CASES = [
    # Bodies that are not JSON, or not the JSON asked for.
    case("invalid-json", 400, "invalid_json", body=b"{not json"),
    case("empty-body", 400, "invalid_json", body=b""),
    case("whitespace-body", 400, "invalid_json", body=b"  \r\n "),
    case("trailing-garbage-after-json", 400, "invalid_json", body=GOOD + b" x"),
    case("two-json-documents", 400, "invalid_json", body=GOOD + GOOD),
    case("nan", 400, "invalid_json", body=GOOD.replace(b'"score": 85', b'"score": NaN')),
    case("infinity", 400, "invalid_json",
         body=GOOD.replace(b'"score": 85', b'"score": Infinity')),
    case("minus-infinity", 400, "invalid_json",
         body=GOOD.replace(b'"score": 85', b'"score": -Infinity')),
    case("lone-high-surrogate", 400, "invalid_json", named="surrogate",
         body=GOOD.replace(b'"interview_completed"', b'"x\\ud800"')),
    case("lone-low-surrogate-in-key", 400, "invalid_json", named="surrogate",
         body=GOOD.replace(b'"score"', b'"\\udc00"')),
    case("invalid-utf8", 400, "invalid_json", body=GOOD.replace(b"u1", b"u\xff\xfe")),
    case("nested-past-recursion", 400, "invalid_json", body=b"[" * 100_000),
    case("single-quotes", 400, "invalid_json", body=b"{'batchId': 'b1'}"),
    case("top-level-array", *BAD, body=b"[]"),
    case("top-level-string", *BAD, body=b'"batch"'),
    case("top-level-null", *BAD, body=b"null"),
    case("track-top-level-number", *BAD, path=TRACK, body=b"42"),
    # Content types.
    case("no-content-type", 415, "unsupported_media_type", body=GOOD, headers={}),
    case("text-plain", 415, "unsupported_media_type", body=GOOD,
         headers={"Content-Type": "text/plain"}),
    case("form-urlencoded", 415, "unsupported_media_type", body=b"batchId=b1",
         headers={"Content-Type": "application/x-www-form-urlencoded"}),
    case("multipart", 415, "unsupported_media_type", body=b"--x--",
         headers={"Content-Type": "multipart/form-data; boundary=x"}),
    case("json-lookalike-type", 415, "unsupported_media_type", body=GOOD,
         headers={"Content-Type": "application/jsonx"}),
    case("track-without-body", 415, "unsupported_media_type", path=TRACK, headers={}),
    # Sizes.
    case("body-over-limit", 413, "payload_too_large", body=lambda: padded_body(LIMIT + 1)),
    case("gzip-inflating-past-limit", 413, "payload_too_large", headers=GZIP,
         body=lambda: gz(padded_body(LIMIT + 1))),
    case("gzip-bomb", 413, "payload_too_large", headers=GZIP, body=bomb, named="limit"),
    case("compressed-body-over-limit", 413, "payload_too_large", headers=GZIP,
         body=lambda: gz(os.urandom(LIMIT + 64))),
    case("too-many-items", 413, "too_many_items", named="1000",
         body=lambda: json.dumps(batch([{"eventType": "x"}] * 1001)).encode()),
    # Broken gzip.
    case("gzip-header-but-not-gzip", 400, "invalid_gzip", headers=GZIP, body=GOOD,
         named="not gzip"),
    case("gzip-truncated-in-data", 400, "invalid_gzip", headers=GZIP, named="truncated",
         body=GOOD_GZ[:len(GOOD_GZ) // 2]),
    case("gzip-without-trailer", 400, "invalid_gzip", headers=GZIP, named="trailer",
         body=GOOD_GZ[:-8]),
    case("gzip-half-a-trailer", 400, "invalid_gzip", headers=GZIP, named="trailer",
         body=GOOD_GZ[:-4]),
    case("gzip-only-a-header", 400, "invalid_gzip", headers=GZIP, named="truncated",
         body=GOOD_GZ[:10]),
    case("gzip-cut-in-header", 400, "invalid_gzip", headers=GZIP, named="header",
         body=GOOD_GZ[:5]),
    case("gzip-bad-crc", 400, "invalid_gzip", headers=GZIP, named="CRC-32",
         body=flipped(GOOD_GZ, -8)),
    case("gzip-bad-size", 400, "invalid_gzip", headers=GZIP, named="size",
         body=flipped(GOOD_GZ, -1)),
    case("gzip-corrupt-data", 400, "invalid_gzip", headers=GZIP, body=flipped(GOOD_GZ, 12)),
    case("gzip-trailing-garbage", 400, "invalid_gzip", headers=GZIP, named="after the end",
         body=GOOD_GZ + b"garbage"),
    case("gzip-trailing-zeros", 400, "invalid_gzip", headers=GZIP, named="after the end",
         body=GOOD_GZ + bytes(8)),
    case("gzip-unknown-method", 400, "invalid_gzip", headers=GZIP, named="method",
         body=GOOD_GZ[:2] + b"\x07" + GOOD_GZ[3:]),
    case("gzip-reserved-flag", 400, "invalid_gzip", headers=GZIP, named="flag",
         body=GOOD_GZ[:3] + b"\x20" + GOOD_GZ[4:]),
    case("gzip-of-invalid-json", 400, "invalid_json", headers=GZIP, body=gz(b"{not json")),
    case("gzip-of-nothing-inside", 400, "invalid_json", headers=GZIP, body=gz(b"")),
    # Encodings.
    case("brotli", 415, "unsupported_encoding", headers={**JSON, "Content-Encoding": "br"},
         body=GOOD),
    case("deflate", 415, "unsupported_encoding", body=zlib.compress(GOOD),
         headers={**JSON, "Content-Encoding": "deflate"}),
    case("gzip-twice", 415, "unsupported_encoding", body=gz(GOOD_GZ),
         headers={**JSON, "Content-Encoding": "gzip, gzip"}),
    case("made-up-encoding", 415, "unsupported_encoding", body=GOOD,
         headers={**JSON, "Content-Encoding": "x-\u00e9"}),
    # The envelope.
    case("unknown-key", *BAD, named="sneaky", body=batch_body(sneaky=1)),
    case("track-unknown-key", *BAD, path=TRACK, named="sneaky",
         body=b'{"userId": "u1", "eventType": "x", "sneaky": 1}'),
    case("missing-batch-id", *BAD, named="batchId", body=b'{"items": [{"eventType": "x"}]}'),
    case("items-not-a-list", *BAD, named="items", body=b'{"batchId": "b1", "items": {}}'),
    case("no-items", *BAD, named="items", body=b'{"batchId": "b1", "items": []}'),
    case("track-dollar-key", *BAD, path=TRACK, named="$where",
         body=b'{"userId": "u1", "eventType": "x", "eventData": {"$where": 1}}'),
    case("track-dotted-key", *BAD, path=TRACK, named="a.b",
         body=b'{"userId": "u1", "eventType": "x", "eventData": {"a.b": 1}}'),
    # Keys and scopes.
    case("no-key", 401, "unauthorized", body=GOOD, auth={}),
    case("unknown-bearer", 401, "unauthorized", body=GOOD, auth="Bearer pm_nope"),
    case("bearer-without-token", 401, "unauthorized", body=GOOD, auth="Bearer"),
    case("bearer-only-spaces", 401, "unauthorized", body=GOOD, auth="Bearer     "),
    case("bearer-10k-token", 401, "unauthorized", body=GOOD, auth="Bearer " + "k" * 10_000),
    case("bearer-latin1-token", 401, "unauthorized", body=GOOD, auth="Bearer pm_\u00e9\u00ff"),
    case("key-under-another-scheme", 401, "unauthorized", body=GOOD, auth="Token {key}"),
    case("key-as-basic", 401, "unauthorized", body=GOOD, auth="Basic {key}"),
    case("key-with-a-suffix", 401, "unauthorized", body=GOOD, auth="Bearer {key}x"),
    case("x-api-key-unknown", 401, "unauthorized", body=GOOD, auth={"X-API-Key": "nope"}),
    case("x-api-key-empty", 401, "unauthorized", body=GOOD, auth={"X-API-Key": ""}),
    case("read-key-sends", 403, "forbidden", body=GOOD, scopes="read", named="ingest"),
    case("read-key-tracks", 403, "forbidden", path=TRACK, body=GOOD, scopes="read"),
    case("ingest-key-reads-status", 403, "forbidden", method="get",
         path="/api/telemetry/status", scopes="ingest", named="read"),
    case("read-key-runs-sync", 403, "forbidden", path="/api/telemetry/sync", scopes="read",
         named="admin"),
    case("read-key-resolves", 403, "forbidden", path="/api/telemetry/conflicts/1/resolve",
         body=b'{"resolution": "server"}', scopes="read", named="admin"),
    case("ingest-key-reads-metrics", 403, "forbidden", method="get",
         path="/api/telemetry/metrics", scopes="ingest"),
    # Numbers and odd strings in paths.
    *[case(f"conflict-id-{name}", 404, "not_found", method="get",
           path=f"/api/telemetry/conflicts/{value}")
      for name, value in [("past-64-bits", HUGE), ("superscript-two", "%C2%B2"),
                          ("exponent", "1e300"), ("negative", "-1"), ("hex", "0x10"),
                          ("10k-digits", LONG), ("arabic-digits", "%D9%A1%D9%A2"),
                          ("object-id", "ffffffffffffffffffffffff"), ("nul", "%00"),
                          ("max-int64-plus-one", str(2 ** 63))]],
    *[case(f"resolve-id-{name}", 404, "not_found", path=f"/api/telemetry/conflicts/{value}/resolve",
           body=b'{"resolution": "server"}')
      for name, value in [("past-64-bits", HUGE), ("superscript-two", "%C2%B2"),
                          ("10k-digits", LONG), ("object-id", "0" * 24)]],
    case("batch-id-10k", 404, "not_found", method="get", path=f"{BATCH}/{LONG}"),
    case("batch-id-nul", 404, "not_found", method="get", path=f"{BATCH}/b%00"),
    case("batch-id-newline", 404, "not_found", method="get", path=f"{BATCH}/b-hostile%0A"),
    case("batch-id-past-64-bits", 404, "not_found", method="get", path=f"{BATCH}/{HUGE}"),
    case("record-id-past-64-bits", 404, "not_found", method="get",
         path=f"/api/telemetry/records/settings/{HUGE}"),
    case("record-type-unicode", 404, "not_found", method="get",
         path="/api/telemetry/records/%E2%98%83/x"),
    # Cursors and query arguments.
    case("cursor-superscript", *BAD, method="get", path="/api/telemetry/conflicts?cursor=%C2%B2",
         named="cursor"),
    case("cursor-10k", *BAD, method="get", path=f"/api/telemetry/conflicts?cursor={LONG}",
         named="cursor"),
    case("cursor-empty", *BAD, method="get", path="/api/telemetry/conflicts?cursor=",
         named="cursor"),
    case("conflicts-limit-past-64-bits", *BAD, method="get",
         path=f"/api/telemetry/conflicts?limit={HUGE}", named="limit"),
    case("conflicts-limit-zero", *BAD, method="get", path="/api/telemetry/conflicts?limit=0",
         named="limit"),
    case("conflicts-limit-exponent", *BAD, method="get",
         path="/api/telemetry/conflicts?limit=1e2", named="limit"),
    case("conflicts-status-unknown", *BAD, method="get",
         path="/api/telemetry/conflicts?status=all", named="status"),
    case("records-since-past-64-bits", *BAD, method="get",
         path=f"/api/telemetry/records?since={HUGE}", named="since"),
    case("records-since-negative", *BAD, method="get", path="/api/telemetry/records?since=-1",
         named="since"),
    case("records-since-10k-digits", *BAD, method="get",
         path=f"/api/telemetry/records?since={LONG}", named="since"),
    case("records-since-nan", *BAD, method="get", path="/api/telemetry/records?since=NaN",
         named="since"),
    case("records-since-superscript", *BAD, method="get",
         path="/api/telemetry/records?since=%C2%B2", named="since"),
    case("records-limit-float", *BAD, method="get", path="/api/telemetry/records?limit=1.5",
         named="limit"),
    case("records-type-event", *BAD, method="get", path="/api/telemetry/records?recordType=event",
         named="recordType"),
    case("metrics-from-before-year-1-utc", *BAD, method="get", named="from",
         path="/api/telemetry/metrics?from=0001-01-01T00:00:00%2B14:00"),
    case("metrics-to-after-year-9999-utc", *BAD, method="get", named="to",
         path="/api/telemetry/metrics?to=9999-12-31T23:59:59-12:00"),
    case("metrics-from-year-10000", *BAD, method="get", named="from",
         path="/api/telemetry/metrics?from=10000-01-01T00:00:00Z"),
    case("metrics-from-exponent", *BAD, method="get", path="/api/telemetry/metrics?from=1e300",
         named="from"),
    case("metrics-to-garbage", *BAD, method="get", path="/api/telemetry/metrics?to=%00",
         named="to"),
    case("status-user-10k", *BAD, method="get", path=f"/api/telemetry/status?userId={LONG}",
         named="userId"),
    case("unknown-query-argument", *BAD, method="get", path="/api/telemetry/status?sneaky=1",
         named="sneaky"),
    # Unknown routes and methods.
    case("unknown-api-path", 404, "not_found", method="get", path="/api/nope"),
    case("unknown-telemetry-path", 404, "not_found", path="/api/telemetry/nothing-here", body=GOOD),
    case("post-on-events", 405, "method_not_allowed", path="/api/telemetry/events", body=GOOD),
    case("trailing-slash", 404, "not_found", path=f"{TRACK}/", body=GOOD),
    case("get-on-track", 405, "method_not_allowed", method="get", path=TRACK),
    case("delete-a-batch", 405, "method_not_allowed", method="delete", path=f"{BATCH}/b1"),
    case("put-a-conflict", 405, "method_not_allowed", method="put",
         path="/api/telemetry/conflicts/1", body=b"{}"),
    case("get-on-sync", 405, "method_not_allowed", method="get", path="/api/telemetry/sync"),
    case("post-on-health", 405, "method_not_allowed", path="/api/health", body=b"{}"),
    case("post-on-metrics-scrape", 405, "method_not_allowed", path="/metrics", body=b"{}"),
]


@pytest.fixture(scope="module")
def store_kind(request):
    """Module-wide, so the corpus's app below is made once per store."""
    return getattr(request, "param", "sqlite")


@pytest.fixture(scope="module")
def corpus(store_kind, tmp_path_factory):
    """One app per store for the whole corpus: every case is refused and stores nothing (each
    checks it), so they can share it. Yields (client, store, a key for each scope)."""
    app = make_app(tmp_path_factory.mktemp("corpus"), store_kind)
    the_store = store_ext.get(app)
    keys = {scopes: create_key(the_store, "testapp", [scopes])[0]
            for scopes in ("admin", "read", "ingest")}
    assert app.config["MAX_CONTENT_LENGTH"] == LIMIT
    yield app.test_client(), the_store, keys
    close_app(app)


@pytest.mark.parametrize("method, path, body, headers, scopes, auth, status, error, named", CASES)
def test_hostile_input_gets_its_4xx_in_the_error_shape_and_stores_nothing(
        corpus, method, path, body, headers, scopes, auth, status, error, named):
    client, the_store, keys = corpus
    if isinstance(auth, str):
        auth = {"Authorization": auth.format(key=keys[scopes])}
    before = stored(the_store)
    response = client.open(path, method=method.upper(), data=body() if callable(body) else body,
                           headers={**headers, **auth})
    assert response.status_code == status, response.data[:500]
    answer = error_of(response)
    assert answer["error"] == error
    assert named in answer["message"] + json.dumps(answer["fields"], ensure_ascii=False)
    if status == 405:
        assert response.headers["Allow"]
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert stored(the_store) == before


@pytest.mark.parametrize("body", [
    pytest.param(GOOD_GZ + gz(b""), id="a-member-then-an-empty-one"),
    pytest.param(gz(GOOD[:40]) + gz(GOOD[40:]), id="the-json-split-over-two-members"),
])
def test_concatenated_gzip_members_are_one_body_as_gzip_tools_read_them(client, auth, store,
                                                                        body):
    response = client.post(BATCH, data=body, headers={**auth, **GZIP})
    assert response.status_code == 202, response.json
    assert response.json["accepted"] == 1
    assert store.queue_counts(app_id="testapp") == {"pending": 1}


def test_a_cursor_past_64_bits_answers_an_empty_page(client, auth):
    response = client.get(f"/api/telemetry/conflicts?cursor={HUGE}", headers=auth)
    assert response.status_code == 200
    assert response.json == {"conflicts": [], "nextCursor": None}


def test_metrics_times_are_read_as_utc_instants(client, auth):
    response = client.get("/api/telemetry/metrics", headers=auth, query_string={
        "from": "0001-01-01T00:00:00-01:00", "to": "9999-12-31T23:59:59+01:00"})
    assert response.status_code == 200
    assert response.json["from"] == "0001-01-01T01:00:00+00:00"
    assert response.json["to"] == "9999-12-31T22:59:59+00:00"


# Chunked bodies, against gunicorn: Flask's test client cannot send them.

@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory, store_kind):
    """One gunicorn worker serving wsgi:app on a fresh SQLite file, its log kept in a file;
    yields (port, key with every scope, store, log path)."""
    where = tmp_path_factory.mktemp("gunicorn")
    log_path = where / "gunicorn.log"
    with serving_gunicorn(where, store_kind=store_kind, workers=1, options=("--log-level", "info"),
                          log=log_path) as (url, the_store):
        key, _ = create_key(the_store, "testapp", ["ingest", "read", "admin"])
        yield urlsplit(url).port, key, the_store, log_path


def chunked(body, size=4096):
    """`body` framed as chunks of `size` bytes and the last, empty chunk."""
    framed = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size])
                      for i in range(0, len(body), size))
    return framed + b"0\r\n\r\n"


def send_raw(port, key, framed, headers=JSON, path=BATCH, end=True):
    """POST `framed` (the body as it goes on the wire) with Transfer-Encoding: chunked over a
    socket of its own; (status, parsed JSON answer)."""
    head = "".join(f"{name}: {value}\r\n" for name, value in {
        "Host": "127.0.0.1", "Authorization": f"Bearer {key}", "Transfer-Encoding": "chunked",
        "Connection": "close", **headers}.items())
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(f"POST {path} HTTP/1.1\r\n{head}\r\n".encode() + framed)
        if end:
            conn.shutdown(socket.SHUT_WR)
        answer = b""
        while piece := conn.recv(65536):
            answer += piece
    status_line, _, rest = answer.partition(b"\r\n")
    _headers, _, body = rest.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), json.loads(body)


CHUNKED_CASES = [
    # name, what goes on the wire, headers, status, error, a word of the message
    ("over-the-limit", lambda: chunked(padded_body(LIMIT + 2048)), JSON, 413,
     "payload_too_large", "limit"),
    ("gzip-inflating-past-the-limit", lambda: chunked(gz(padded_body(LIMIT + 1))), GZIP, 413,
     "payload_too_large", "inflates"),
    ("gzip-bomb", lambda: chunked(bomb()), GZIP, 413, "payload_too_large", "inflates"),
    ("gzip-compressed-over-the-limit", lambda: chunked(gz(os.urandom(LIMIT + 2048))), GZIP, 413,
     "payload_too_large", "limit"),
    ("gzip-truncated", lambda: chunked(GOOD_GZ[:40]), GZIP, 400, "invalid_gzip", "truncated"),
    ("gzip-without-trailer", lambda: chunked(GOOD_GZ[:-8]), GZIP, 400, "invalid_gzip",
     "trailer"),
    ("gzip-bad-crc", lambda: chunked(flipped(GOOD_GZ, -6)), GZIP, 400, "invalid_gzip", "CRC"),
    ("gzip-trailing-garbage", lambda: chunked(GOOD_GZ + b"junk"), GZIP, 400, "invalid_gzip",
     "after the end"),
    ("not-gzip", lambda: chunked(GOOD), GZIP, 400, "invalid_gzip", "not gzip"),
    ("no-body", lambda: chunked(b""), JSON, 400, "invalid_json", "JSON"),
    ("invalid-json", lambda: chunked(b"{not json"), JSON, 400, "invalid_json", "JSON"),
    ("brotli", lambda: chunked(GOOD), {**JSON, "Content-Encoding": "br"}, 415,
     "unsupported_encoding", "gzip"),
    ("text-plain", lambda: chunked(GOOD), {"Content-Type": "text/plain"}, 415,
     "unsupported_media_type", "JSON"),
    ("bad-chunk-size", lambda: b"zz\r\n" + GOOD + b"\r\n0\r\n\r\n", JSON, 400, "unreadable_body",
     "read"),
    ("chunk-longer-than-said", lambda: b"4\r\n" + GOOD + b"\r\n0\r\n\r\n", JSON, 400,
     "unreadable_body", "read"),
    ("cut-before-the-last-chunk", lambda: b"%x\r\n%s\r\n" % (len(GOOD), GOOD), JSON, 400,
     "unreadable_body", "read"),
]


@pytest.mark.multiprocess
@pytest.mark.parametrize("framed, headers, status, error, named",
                         [pytest.param(*row[1:], id=row[0]) for row in CHUNKED_CASES])
def test_a_hostile_chunked_body_gets_its_4xx_and_stores_nothing(gunicorn, framed, headers,
                                                                 status, error, named):
    port, key, the_store, log_path = gunicorn
    before, logged = stored(the_store), log_path.stat().st_size
    got, answer = send_raw(port, key, framed(), headers)
    assert got == status, answer
    check_error_shape(answer)
    assert answer["error"] == error
    assert named in answer["message"]
    assert stored(the_store) == before
    assert b"Traceback" not in log_path.read_bytes()[logged:]


@pytest.mark.multiprocess
@pytest.mark.parametrize("headers, size", [
    pytest.param(JSON, 4096, id="plain"),
    pytest.param(JSON, 1, id="plain-in-one-byte-chunks"),
    pytest.param(GZIP, 4096, id="gzip"),
    pytest.param(GZIP, 7, id="gzip-in-7-byte-chunks"),
])
def test_a_chunked_body_works_like_a_sized_one(gunicorn, headers, size):
    port, key, the_store, log_path = gunicorn
    ids = [f"chunked-{headers is GZIP}-{size}-{i}" for i in range(3)]
    logged = log_path.stat().st_size
    data = json.dumps(batch([event_item(i) for i in ids])).encode()
    got, answer = send_raw(port, key, chunked(gz(data) if headers is GZIP else data, size),
                           headers)
    assert got == 202, answer
    assert answer["accepted"] == 3
    assert all(the_store.get_queue_item("testapp", i) for i in ids)
    assert b"Traceback" not in log_path.read_bytes()[logged:]


@pytest.mark.multiprocess
@pytest.mark.parametrize("headers", [pytest.param(JSON, id="plain"), pytest.param(GZIP, id="gzip")])
def test_a_chunked_body_of_exactly_the_limit_is_taken_whole(gunicorn, headers):
    port, key, the_store, log_path = gunicorn
    body, logged = padded_body(LIMIT), log_path.stat().st_size
    assert len(body) == LIMIT
    got, answer = send_raw(port, key, chunked(gz(body) if headers is GZIP else body, 65536),
                           headers)
    assert got == 202, answer
    assert answer["accepted"] + answer["duplicates"] == len(json.loads(body)["items"])
    assert b"Traceback" not in log_path.read_bytes()[logged:]
