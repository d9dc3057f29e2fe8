"""The console's Sync now: the run it starts, on a thread of its own, names its run on every
log line (tests/test_logs.py has the API's, the command's and the timer's)."""

import pytest

from tests.test_logs import restore_logging, run_lines, seq_gap, written  # noqa: F401 - fixtures
from tests.waiting import wait_for


@pytest.mark.parametrize("log_format", ["text", "json"])
@pytest.mark.parametrize("app_config", [{"DEBUG_NAMESPACES": "prepmate:sync",
                                         "SYNC_SEQ_HOLD_SECONDS": 0}])
def test_sync_now_names_its_run_on_every_line(console, client, auth, store, written,  # noqa: F811
                                              log_format):
    seq_gap(client, auth)
    lines = written(log_format)
    answer = console("operator").post("/console/sync")
    assert answer.status_code == 303
    run_id = answer.headers["Location"].rsplit("/", 1)[1]

    def found():
        return [entry for entry in run_lines(lines, log_format) if entry[0] != "prepmate:http"]

    def audited():
        # The run's last step, on its thread: once it is there, nothing of the run is left.
        return "sync.run" in [entry["action"] for entry in store.list_audit(limit=10)]

    assert wait_for(audited), found()
    assert len(found()) >= 2 and {run for _ns, run in found()} == {run_id}, found()
