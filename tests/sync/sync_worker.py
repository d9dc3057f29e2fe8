"""A sync process for the concurrency test: runs run_sync over a SQLite file, or over the real
MongoDB database a mongodb:// URI names.

Usage: python -m tests.sync.sync_worker WHERE [slow|paced]. "slow" prints "applying" and pauses
inside its first batch (holding it, to be killed there); "paced" pauses between batches so that
two processes take turns. Prints the number of items it applied when done.
"""

import sys
import time

from app import create_app
from app.extensions import store as store_ext
from app.sync.engine import run_sync


def paused_after(write):
    def write_then_pause(*args, **kwargs):
        written = write(*args, **kwargs)
        print("applying", flush=True)
        time.sleep(60)
        return written
    return write_then_pause


def main(where, mode=None):
    store = ({"MONGODB_URI": where, "MONGODB_WRITE_CONCERN": "1"}
             if where.startswith("mongodb") else {"SQLITE_PATH": where})
    app = create_app({"APP_ENV": "testing", "SYNC_BATCH_SIZE": 50, "SYNC_LEASE_SECONDS": 2,
                      "SYNC_RUN_BUDGET_SECONDS": 120, **store})
    with app.app_context():
        store = store_ext.get(app)
        if mode == "slow":
            # Pause right after the first batch's events are written, however they are.
            for name in ("_apply_new_events", "insert_events"):
                setattr(store, name, paused_after(getattr(store, name)))
        heartbeat = (lambda: time.sleep(0.03)) if mode == "paced" else None
        logs = run_sync(store, app.config, source="manual", heartbeat=heartbeat)
        print(sum(log["successCount"] for log in logs), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
