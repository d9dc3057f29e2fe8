"""`gunicorn -w 2 wsgi:app`: two worker processes on one store never store an event twice."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask

from app.accounts.keys import create_key
from app.store import create_store, schema
from tests.api.helpers import batch, event_item
from tests.conftest import store_settings

pytestmark = pytest.mark.multiprocess

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving_gunicorn(where, *, store_kind="sqlite", workers=2, options=(), log=None, **settings):
    """`gunicorn -w <workers> wsgi:app` on a SQLite file in the folder `where` (or, for
    store_kind "mongo", a fresh database on the real MongoDB of TEST_MONGODB_URI), with these
    settings (environment variables) and gunicorn `options`, its output in the file `log` when
    given; yields (url, store)."""
    stored = store_settings(store_kind, where)
    if store_kind != "sqlite" and not os.environ.get("TEST_MONGODB_URI"):
        raise RuntimeError("gunicorn workers share no mongomock: a real MongoDB is needed")
    port = free_port()
    env = dict(os.environ, APP_ENV="testing", ENABLE_SCHEDULED_SYNC="false", **stored)
    env.update(settings)
    output = open(log, "wb") if log is not None else None
    # Without a control socket, servers of tests run side by side do not share one.
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}",
         "--no-control-socket", "--log-level", "warning", *options, "wsgi:app"],
        cwd=ROOT, env=env, stdout=output, stderr=output)
    url = f"http://127.0.0.1:{port}"
    store = None
    try:
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/health", timeout=1).close()
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.1)
        store = create_store(stored, Flask(__name__))
        schema.open_store(store)
        yield url, store
    finally:
        server.terminate()
        server.wait(timeout=30)
        if store is not None:
            if store_kind != "sqlite":
                store.db.client.drop_database(store.db.name)
            store.close()
        if output is not None:
            output.close()


@pytest.fixture
def gunicorn(tmp_path, store_kind):
    """Two sync workers serving wsgi:app on a temporary SQLite file; yields (url, store)."""
    with serving_gunicorn(tmp_path, store_kind=store_kind) as served:
        yield served


def post(url, key, body):
    request = urllib.request.Request(
        f"{url}/api/telemetry/batch", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read())


def test_the_same_batch_sent_through_both_workers_at_once_is_stored_once(gunicorn):
    url, store = gunicorn
    key, _ = create_key(store, "testapp", ["ingest", "read"])
    body = batch([event_item(f"e{i}") for i in range(100)], batch_id="same-batch")
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: post(url, key, body), range(16)))
    assert {status for status, _ in answers} == {202}
    first = answers[0][1]
    assert all(answer == first for _, answer in answers)
    assert first["accepted"] == 100
    assert store.queue_counts(app_id="testapp") == {"pending": 100}


def test_overlapping_batches_through_both_workers_store_each_event_once(gunicorn):
    url, store = gunicorn
    key, _ = create_key(store, "testapp", ["ingest", "read"])
    ids = [f"e{i}" for i in range(300)]
    # Twelve batches, each a window over the same 300 ids.
    bodies = [batch([event_item(i) for i in ids[start:start + 100]])
              for start in range(0, 240, 20)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda b: post(url, key, b), bodies))
    assert {status for status, _ in answers} == {202}
    accepted = sum(answer["accepted"] for _, answer in answers)
    stored = store.queue_counts(app_id="testapp")["pending"]
    assert accepted == stored == len({i for b in bodies for i in
                                      (item["eventId"] for item in b["items"])})
