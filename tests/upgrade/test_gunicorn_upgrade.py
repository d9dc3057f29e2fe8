"""`gunicorn -w 3 wsgi:app` started on a store an earlier release made: the workers, opening it
at once, upgrade it together, each step taken once and nothing lost; with STORE_AUTO_UPGRADE off
gunicorn does not start, and says why."""

import json
import os
import subprocess
import sys
import urllib.request

import pytest

from app.store import schema
from tests.test_gunicorn import ROOT, free_port, serving_gunicorn

from .fixtures import LAST_UNVERSIONED, load_sqlite, recorded

pytestmark = pytest.mark.multiprocess


def test_workers_opening_an_old_store_at_once_upgrade_it_once(tmp_path):
    load_sqlite(LAST_UNVERSIONED, tmp_path / "prepmate.sqlite3")
    fixture = recorded(LAST_UNVERSIONED)
    key = fixture["keys"]["sqlite"]["fixture-app"]
    with serving_gunicorn(tmp_path, workers=3, STORE_AUTO_UPGRADE="true") as (url, store):
        assert [s["version"] for s in store.schema_history()] == list(schema.STEPS)
        for read in fixture["reads"]["sqlite"]:
            if read["key"] == "fixture-app" and "/records" in read["path"]:
                request = urllib.request.Request(url + read["path"],
                                                 headers={"Authorization": f"Bearer {key}"})
                try:
                    with urllib.request.urlopen(request, timeout=10) as answer:
                        status, body = answer.status, json.load(answer)
                except urllib.error.HTTPError as refused:
                    status, body = refused.code, json.load(refused)
                assert (status, body) == (read["status"], read["body"]), read["path"]


def test_without_auto_upgrade_gunicorn_does_not_start_and_says_why(tmp_path):
    load_sqlite(LAST_UNVERSIONED, tmp_path / "prepmate.sqlite3")
    env = dict(os.environ, APP_ENV="testing", ENABLE_SCHEDULED_SYNC="false",
               SQLITE_PATH=str(tmp_path / "prepmate.sqlite3"), STORE_AUTO_UPGRADE="false")
    env.pop("MONGODB_URI", None)
    # One worker: with two refused at once, gunicorn's arbiter now and then prints a traceback
    # of its own (its HaltServer raised again while it stops), whatever the app does.
    server = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{free_port()}",
         "--no-control-socket", "wsgi:app"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    # The master stops at the first worker that fails to boot, instead of starting it again.
    assert server.returncode != 0 and "Worker failed to boot" in server.stderr
    assert "prepmate: The store is at schema version 0" in server.stderr
    assert "flask --app wsgi store upgrade" in server.stderr
    assert "Traceback" not in server.stderr
