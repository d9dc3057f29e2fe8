"""`flask sync run` and `flask queue stats`."""

from app.store.common import utcnow
from app.sync.jobs import LOCK_NAME

from .helpers import edit, event, send


def test_sync_run_applies_the_queue_and_prints_the_summary(client, auth, store, runner):
    send(client, auth, [event("e1"), event("e2"), edit("i1", "r1", 3, {"t": 1})])
    result = runner.invoke(args=["sync", "run"])
    assert result.exit_code == 0, result.output
    assert "sync partial: 3 items in 1 batches, 2 applied" in result.output
    assert "dead testapp/i1: baseVersion 3 is ahead" in result.output
    assert store.queue_counts() == {"done": 2, "dead": 1}


def test_sync_run_refuses_while_another_sync_runs(store, runner):
    now = utcnow()
    store.acquire_lock(LOCK_NAME, "another-host", now.replace(year=now.year + 1), now)
    result = runner.invoke(args=["sync", "run"])
    assert result.exit_code != 0 and "already running" in result.output


def test_queue_stats_counts_items_by_state(client, auth, api_key, store, runner):
    send(client, auth, [event("e1"), event("e2")])
    other = {"Authorization": f"Bearer {api_key('ingest', 'otherapp')}"}
    send(client, other, [event("e3")])
    lines = runner.invoke(args=["queue", "stats"]).output.splitlines()
    assert "pending\t3" in lines and "done\t0" in lines and "total\t3" in lines
    mine = runner.invoke(args=["queue", "stats", "--app", "otherapp"]).output.splitlines()
    assert "pending\t1" in mine
