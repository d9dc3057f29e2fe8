"""`LOG_FORMAT=json gunicorn -w 2 wsgi:app`: the workers write one JSON object per line on
stderr, and gunicorn's own access log keeps its format."""

import json
import urllib.error
import urllib.request

import pytest

from app.accounts.keys import create_key
from tests.test_gunicorn import serving_gunicorn

pytestmark = pytest.mark.multiprocess


def call(url, path, request_id, data=None, headers=None):
    request = urllib.request.Request(f"{url}{path}", data=data, headers={
        "X-Request-ID": request_id, "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers["X-Request-ID"]
    except urllib.error.HTTPError as refused:
        with refused:
            return refused.code, refused.headers["X-Request-ID"]


def test_json_lines_under_gunicorn(tmp_path, store_kind):
    output, access = tmp_path / "output.log", tmp_path / "access.log"
    options = ("--access-logfile", str(access), "--error-logfile", str(tmp_path / "error.log"))
    with serving_gunicorn(tmp_path, store_kind=store_kind, options=options, log=output,
                          LOG_FORMAT="json") as (url, store):
        key, _ = create_key(store, "testapp", ["ingest"])
        body = json.dumps({"userId": "u1", "eventType": "x"}).encode()
        answers = [call(url, "/api/telemetry/track", f"g-{n}", body,
                        {"Authorization": f"Bearer {key}"}) for n in range(4)]
        answers.append(call(url, "/api/nothing", "g-missing"))
        # A chunked body past the limit: the body layer answers 413 before any view runs.
        answers.append(call(url, "/api/telemetry/track", "bad id!", iter([b"x" * (2 << 20)])))
    assert [status for status, _rid in answers] == [202] * 4 + [404, 413]
    assert [rid for _status, rid in answers[:5]] == [f"g-{n}" for n in range(4)] + ["g-missing"]
    # Every line of the workers' stderr is one JSON object: the start-up lines (the store's)
    # and one access line per request (the start-up probes of /api/health are debug lines, not
    # written at the default level).
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    access_lines = [line for line in lines if line["namespace"] == "prepmate:http"]
    by_id = {line["requestId"]: line for line in access_lines}
    assert len(by_id) == len(access_lines) == 6
    assert all(line["namespace"].startswith("prepmate:") for line in lines)
    assert {(by_id[f"g-{n}"]["route"], by_id[f"g-{n}"]["appId"], by_id[f"g-{n}"]["status"])
            for n in range(4)} == {("/api/telemetry/track", "testapp", 202)}
    assert by_id["g-missing"]["status"] == 404
    assert by_id[answers[5][1]]["status"] == 413
    # gunicorn's access log: its own lines, one per request, the probes included.
    logged = access.read_text().splitlines()
    assert len([line for line in logged if "POST /api/telemetry/track" in line]) == 5
    assert all(not line.startswith("{") for line in logged)
