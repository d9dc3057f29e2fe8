"""A long export under gunicorn with the documented settings (gunicorn.conf.py): a download
slower than the worker timeout still arrives whole. Sync workers, which the timeout kills
mid-response, are what the settings avoid (the second test shows they would cut it)."""

import http.client
import json
import socket
import time
from urllib.parse import urlsplit

import pytest

from app.accounts.keys import create_key
from tests.test_gunicorn import ROOT, serving_gunicorn

from .events_seed import seed_events

pytestmark = pytest.mark.multiprocess

EVENTS = 30000
TIMEOUT = "1"  # seconds: the download below takes about three


def slow_export(url, key, pace_bytes_per_s=3_000_000):
    """The export read through a small receive window at `pace_bytes_per_s`: (lines, whole)."""
    parts = urlsplit(url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    sock.connect((parts.hostname, parts.port))
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.sock = sock
    conn.request("GET", "/api/telemetry/events/export?format=ndjson",
                 headers={"Authorization": f"Bearer {key}"})
    answer = conn.getresponse()
    assert answer.status == 200
    body, started = bytearray(), time.monotonic()
    try:
        while piece := answer.read(64 * 1024):
            body += piece
            # Keep to the pace: the server waits on the client, holding its request open.
            ahead = len(body) / pace_bytes_per_s - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
        whole = True
    except (http.client.IncompleteRead, ConnectionError):
        whole = False
    finally:
        conn.close()
    return body.decode(errors="replace").splitlines(), whole, time.monotonic() - started


def serve_and_export(tmp_path, store_kind, *options):
    with serving_gunicorn(tmp_path, store_kind=store_kind, workers=1, options=options) as (
            url, store):
        seed_events(store, "testapp", EVENTS)
        key, _doc = create_key(store, "testapp", ["read"])
        return slow_export(url, key)


def test_an_export_longer_than_the_worker_timeout_arrives_whole(tmp_path, store_kind):
    lines, whole, seconds = serve_and_export(
        tmp_path, store_kind, "-c", str(ROOT / "gunicorn.conf.py"), "--timeout", TIMEOUT)
    assert seconds > 2 * int(TIMEOUT)
    assert whole and len(lines) == EVENTS
    assert [json.loads(line)["eventId"] for line in lines] == [
        f"testapp-e{n:07d}" for n in range(EVENTS)]


def test_a_sync_worker_would_be_killed_mid_export(tmp_path, store_kind):
    lines, whole, _seconds = serve_and_export(
        tmp_path, store_kind, "-c", str(ROOT / "gunicorn.conf.py"), "--timeout", TIMEOUT,
        # One thread: gunicorn runs a "sync" worker given more threads as gthread.
        "-k", "sync", "--threads", "1")
    assert not whole and len(lines) < EVENTS
