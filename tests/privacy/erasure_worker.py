"""An erasing process for the crash test: runs run_deletions over a SQLite file, pausing after
its first erase step (printing "erased" then) so that the test can kill it there.

Usage: python -m tests.privacy.erasure_worker SQLITE_PATH
"""

import sys
import time

from app import create_app
from app.extensions import store as store_ext
from app.privacy.erasure import run_deletions


def paused_after(step):
    def step_then_pause(*args, **kwargs):
        erased = step(*args, **kwargs)
        print("erased", flush=True)
        time.sleep(60)
        return erased
    return step_then_pause


def main(path):
    app = create_app({"APP_ENV": "testing", "SQLITE_PATH": path, "SYNC_LEASE_SECONDS": 2,
                      "ENABLE_SCHEDULED_SYNC": False})
    with app.app_context():
        store = store_ext.get(app)
        store.erase_step = paused_after(store.erase_step)
        run_deletions(store, app.config, step_rows=2)


if __name__ == "__main__":
    main(sys.argv[1])
