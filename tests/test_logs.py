"""The logs: LOG_FORMAT=json writes one JSON object per line on stderr, the text format keeps its
shape; both name the request and the sync run a line belongs to, and DEBUG=prepmate:<name>
turns on the debug lines of the namespaces named, and of no other."""

import io
import json
import logging
import re
from datetime import datetime

import pytest

from app.config import load_config
from app.extensions import scheduler
from app.logging import NAMESPACES, JsonFormatter, StderrHandler, TextFormatter
from app.sync import jobs
from app.sync.scheduling import start_scheduler
from tests.sync.helpers import event, send
from tests.waiting import wait_for

TEXT_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) "
                       r"(prepmate[.\w]*)((?: \w+=\S+)*): (.*)")


@pytest.fixture(autouse=True)
def restore_logging():
    """Each test here sets the process's prepmate loggers up its own way: undo it after."""
    base = logging.getLogger("prepmate")
    yield
    for handler in [h for h in base.handlers if isinstance(h, StderrHandler)]:
        base.removeHandler(handler)
    base.propagate = True
    base.setLevel(logging.NOTSET)
    for name in NAMESPACES[1:]:
        logging.getLogger(name).setLevel(logging.NOTSET)


def stderr_objects(capsys):
    """Every line written to stderr so far, each read as one JSON object."""
    return [json.loads(line) for line in capsys.readouterr().err.splitlines()]


@pytest.fixture
def written():
    """written(format) -> a function answering the lines the prepmate loggers wrote so far, in
    that format (a handler on the real logger, after the app has set the levels up)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    base = logging.getLogger("prepmate")

    def start(log_format):
        handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
        base.addHandler(handler)
        if log_format == "json":
            return lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
        # A line not in the shape is a traceback's, under the line it belongs to.
        return lambda: [found.groups() for found in map(TEXT_LINE.fullmatch,
                                                        stream.getvalue().splitlines()) if found]

    yield start
    base.removeHandler(handler)


def test_a_log_format_other_than_text_or_json_refuses_to_start():
    assert load_config({"LOG_FORMAT": " JSON "})["LOG_FORMAT"] == "json"
    with pytest.raises(ValueError, match="LOG_FORMAT must be one of text, json, not 'yaml'"):
        load_config({"LOG_FORMAT": "yaml"})
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        load_config(environ={"LOG_FORMAT": "logfmt"})
    with pytest.raises(ValueError, match="LOG_FORMAT"):  # given as a value, not a string
        load_config({"LOG_FORMAT": None})


@pytest.fixture
def host_handler():
    """A host that set logging up itself (logging.basicConfig): plain lines on stderr."""
    handler = StderrHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    yield
    root.removeHandler(handler)


@pytest.mark.parametrize("app_config", [{"LOG_FORMAT": "json"}])
def test_json_lines_on_stderr_carry_the_request(host_handler, client, api_key, capsys):
    capsys.readouterr()
    auth = {"Authorization": f"Bearer {api_key('ingest')}", "X-Request-ID": "req-1"}
    client.post("/api/telemetry/track", json={"userId": "u1", "eventType": "x"}, headers=auth)
    client.get("/api/nothing", headers={"X-Request-ID": "req-2"})
    for probe in ("/api/health", "/api/health/live", "/api/health/ready"):
        client.get(probe)  # a probe that answered well: debug, so not written
    lines = stderr_objects(capsys)
    assert [line["requestId"] for line in lines] == ["req-1", "req-2"]
    track, missing = lines
    assert set(track) == {"time", "level", "namespace", "message", "requestId", "appId", "route",
                          "method", "path", "status", "durationMs"}
    assert datetime.fromisoformat(track["time"]).utcoffset().total_seconds() == 0
    assert track["time"].endswith("Z")
    assert (track["level"], track["namespace"], track["appId"], track["route"],
            track["status"]) == ("info", "prepmate:http", "testapp", "/api/telemetry/track", 202)
    assert track["message"].startswith("POST /api/telemetry/track 202 ")
    assert isinstance(track["durationMs"], float) and track["durationMs"] >= 0
    assert missing["status"] == 404 and "route" not in missing and "appId" not in missing


@pytest.mark.logs_errors
@pytest.mark.parametrize("app_config", [{"LOG_FORMAT": "json"}])
def test_a_json_line_holds_its_exception_on_the_line(client, store, api_key, monkeypatch,
                                                     capsys):
    def broken(*_args, **_kwargs):
        raise RuntimeError("a bug\nover two lines")

    monkeypatch.setattr(store, "queue_counts", broken)
    capsys.readouterr()
    client.get("/api/telemetry/status", headers={"Authorization": f"Bearer {api_key('read')}",
                                                 "X-Request-ID": "boom"})
    error, access = stderr_objects(capsys)
    assert (error["level"], error["namespace"], error["requestId"], error["appId"],
            error["route"]) == ("error", "prepmate:api", "boom", "testapp", "/api/telemetry/status")
    assert error["exception"].startswith("Traceback") and "a bug\nover two lines" in \
        error["exception"]
    assert (access["status"], access["requestId"]) == (500, "boom")


def test_debug_namespaces_of_an_earlier_app_are_undone(tmp_path):
    from tests.conftest import close_app, make_app

    close_app(make_app(tmp_path, DEBUG_NAMESPACES="prepmate:*"))
    close_app(make_app(tmp_path, DEBUG_NAMESPACES="prepmate:sync"))
    assert not logging.getLogger("prepmate.api").isEnabledFor(logging.DEBUG)
    assert logging.getLogger("prepmate.sync").isEnabledFor(logging.DEBUG)


def test_the_text_format_keeps_its_shape_and_adds_the_ids(client, api_key, written):
    lines = written("text")
    client.get("/api/telemetry/status", headers={
        "Authorization": f"Bearer {api_key('read')}", "X-Request-ID": "t-1"})
    ((level, namespace, ids, message),) = lines()
    assert (level, namespace, ids) == ("INFO", "prepmate.http", " request=t-1 app=testapp")
    assert re.fullmatch(r"GET /api/telemetry/status 200 \d+\.\d ms", message)


@pytest.mark.parametrize("log_format", ["text", "json"])
@pytest.mark.parametrize(("namespaces", "shown"), [
    ("", set()),
    ("prepmate:sync", {"prepmate.sync"}),
    ("prepmate:http,prepmate:api", {"prepmate.http", "prepmate.api"}),
    ("prepmate:*", {"prepmate.sync", "prepmate.http", "prepmate.api"}),
])
def test_debug_namespaces_show_the_debug_lines_of_those_named(tmp_path, store_kind, written,
                                                              log_format, namespaces, shown):
    from tests.conftest import close_app, make_app

    app = make_app(tmp_path, store_kind, LOG_FORMAT=log_format, DEBUG_NAMESPACES=namespaces)
    try:
        lines = written(log_format)
        client = app.test_client()
        with app.app_context():
            from app.accounts.keys import create_key
            from app.extensions import store

            key, _ = create_key(store.get(app), "testapp", ["ingest", "admin"])
        auth = {"Authorization": f"Bearer {key}"}
        send(client, auth, [event("e1")])  # prepmate.api: "batch ... : 1 items" at debug
        client.get("/api/health")  # prepmate.http: a good probe at debug
        client.post("/api/telemetry/sync?wait=10", headers=auth)  # prepmate.sync's batch line
        if log_format == "json":
            debug = {line["namespace"].replace(":", ".") for line in lines()
                     if line["level"] == "debug"}
        else:
            debug = {namespace for level, namespace, _ids, _message in lines()
                     if level == "DEBUG"}
        assert debug == shown
    finally:
        close_app(app)


def run_lines(lines, log_format):
    """(namespace, run id) of each line written."""
    if log_format == "json":
        return [(line["namespace"], line.get("runId")) for line in lines()]
    return [(namespace.replace(".", ":"), dict(re.findall(r"(\w+)=(\S+)", ids)).get("run"))
            for _level, namespace, ids, _message in lines()]


def seq_gap(client, auth):
    """Items whose sync logs on every level of the engine: a debug batch line, and a warning
    for a client's sequence gap given up on (claims.py)."""
    send(client, auth, [event("s1", seq=1), event("s3", seq=3), event("e1")], clientId="c1")


@pytest.mark.parametrize("log_format", ["text", "json"])
@pytest.mark.parametrize("app_config", [{"DEBUG_NAMESPACES": "prepmate:sync",
                                         "SYNC_SEQ_HOLD_SECONDS": 0}])
def test_a_run_started_through_the_api_names_its_run_on_every_line(client, auth, written,
                                                                   log_format):
    seq_gap(client, auth)
    lines = written(log_format)
    answer = client.post("/api/telemetry/sync?wait=10", headers={**auth, "X-Request-ID": "r-1"})
    assert answer.status_code == 200
    run_id = answer.headers["Location"].rsplit("/", 1)[1]
    found = [(namespace, run) for namespace, run in run_lines(lines, log_format)
             if namespace != "prepmate:http"]
    assert len(found) >= 2 and {run for _ns, run in found} == {run_id}, found


@pytest.mark.parametrize("log_format", ["text", "json"])
@pytest.mark.parametrize("app_config", [{"DEBUG_NAMESPACES": "prepmate:sync",
                                         "SYNC_SEQ_HOLD_SECONDS": 0}])
def test_a_run_started_by_the_command_names_its_run_on_every_line(client, auth, runner, store,
                                                                  written, log_format):
    seq_gap(client, auth)
    lines = written(log_format)
    result = runner.invoke(args=["sync", "run"])
    assert result.exit_code == 0, result.output
    found = run_lines(lines, log_format)
    (run_id,) = {run for _ns, run in found}
    assert len(found) >= 2 and store.get_sync_run(run_id)["requestedBy"] == "cli", found


@pytest.mark.logs_errors
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_background_run_that_fails_names_its_run(client, auth, written, monkeypatch,
                                                   log_format):
    def broken(*_args, **_kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(jobs, "run_sync", broken)
    lines = written(log_format)
    answer = client.post("/api/telemetry/sync?wait=10", headers=auth)
    run_id = str(answer.get_json()["runId"])

    def found():
        return [entry for entry in run_lines(lines, log_format) if entry[0] != "prepmate:http"]

    # The thread logs how the run failed just after the run has noted its end.
    assert wait_for(found) and found() == [("prepmate:scheduler", run_id)]


@pytest.mark.parametrize("app_config", [{
    "DEBUG_NAMESPACES": "prepmate:sync", "SYNC_SEQ_HOLD_SECONDS": 0, "ENABLE_SCHEDULED_SYNC": True,
    "SYNC_INTERVAL_MINUTES": 60, "SYNC_EAGER_DELAY_SECONDS": 0.1}])
def test_a_run_started_by_the_timer_names_its_run_on_every_line(app, client, auth, store, written):
    lines = written("json")
    assert start_scheduler(app)
    try:
        seq_gap(client, auth)  # asks the scheduler for a run soon after

        def found():
            # (prepmate:scheduler says when the timer is set: not a line of the run.)
            return [entry for entry in run_lines(lines, "json") if entry[0] == "prepmate:sync"]

        # The run's last line (its batch line) is logged before the run notes its end.
        assert wait_for(lambda: len(found()) >= 2 and store.queue_counts() == {"done": 3}), found()
    finally:
        scheduler.remove_all_jobs()
        scheduler.shutdown(wait=True)
    (run_id,) = {run for _ns, run in found()}
    assert store.get_sync_run(run_id)["requestedBy"] == "scheduler"
