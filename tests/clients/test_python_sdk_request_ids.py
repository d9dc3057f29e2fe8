"""The Python SDK sends an X-Request-ID of its own with each request, and an error names it:
the server's log lines of the request that failed can be found by it."""

import io
import logging
import re

from prepmate_telemetry import TelemetryClient, TelemetryError

FRESH = re.compile(r"[0-9a-f]{32}")


def test_a_refused_batch_names_its_request_as_the_server_logged_it(live_server, tmp_path):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logging.getLogger("prepmate.http").addHandler(handler)
    client = TelemetryClient(live_server.url, "not-a-key", user_id="u1", flush_interval=0.1,
                             queue_path=str(tmp_path / "queue.sqlite3"))
    errors = []
    client.on("sync:error", errors.append)
    try:
        client.capture_event("sdk_python_test", {"i": 1})
        assert not client.flush(timeout=2)
    finally:
        client.shutdown(timeout=2)
        logging.getLogger("prepmate.http").removeHandler(handler)
    (error,) = errors
    rid = error["requestId"]
    assert error["status"] == 401 and FRESH.fullmatch(rid)
    assert isinstance(error["error"], TelemetryError) and error["error"].request_id == rid
    assert str(error["error"]).endswith(f"(request {rid})")
    (logged,) = [line for line in stream.getvalue().splitlines() if "/api/telemetry/batch" in line]
    assert " 401 " in logged


def test_each_request_sends_a_new_id_and_a_network_error_names_it(tmp_path):
    # Nothing listens on port 9 of this host: the request fails without an answer.
    client = TelemetryClient("http://127.0.0.1:9", "key", user_id="u1", send=False,
                             queue_path=str(tmp_path / "queue.sqlite3"))
    try:
        first, second = client._headers(), client._headers()
        assert FRESH.fullmatch(first["X-Request-ID"])
        assert first["X-Request-ID"] != second["X-Request-ID"]
        try:
            client.pull_records("note")
        except TelemetryError as error:
            assert FRESH.fullmatch(error.request_id)
        else:
            raise AssertionError("a pull from a closed port succeeded")
    finally:
        client.shutdown(timeout=1)
