"""The WSGI entry point: `gunicorn -w 2 wsgi:app`, `flask --app wsgi …`."""

import logging
import sys

import click
from dotenv import load_dotenv

from app import create_app
from app.extensions import store
from app.store import StoreUnavailable
from app.store.schema import SchemaMismatch
from app.sync.scheduling import reapply_erasures, start_scheduler

WORKER_BOOT_ERROR = 3

load_dotenv()
app = create_app()
try:
    # The store opened at start-up (made, or upgraded when STORE_AUTO_UPGRADE allows); if it is
    # down it is opened on first use instead.
    store.get(app)
    if click.get_current_context(silent=True) is None:
        # A restored backup may hold people erased since: a server erases them again (and
        # says so); a command leaves it to `people reapply-erasures`.
        reapply_erasures(app)
except StoreUnavailable as exc:
    logging.getLogger("prepmate.store").warning("store not ready at start-up: %s", exc)
except SchemaMismatch as exc:
    if click.get_current_context(silent=True) is None:
        # A server refuses to start; a `flask --app wsgi …` command goes on, so that `store
        # upgrade` and `store status` can run, and every other command says the same. Status 3
        # is gunicorn's "worker failed to boot": its master stops rather than start the worker
        # again and again.
        print(f"prepmate: {exc}", file=sys.stderr)
        sys.exit(WORKER_BOOT_ERROR)
start_scheduler(app)
