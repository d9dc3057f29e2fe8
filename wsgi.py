"""The WSGI entry point: `gunicorn -w 2 wsgi:app`, `flask --app wsgi …`."""

import logging

from dotenv import load_dotenv

from app import create_app
from app.extensions import store
from app.store import StoreUnavailable
from app.sync.scheduling import start_scheduler

load_dotenv()
app = create_app()
try:
    # Tables and indexes at start-up; if the store is down they are made on first use instead.
    store.get(app)
except StoreUnavailable as exc:
    logging.getLogger("prepmate.store").warning("store not ready at start-up: %s", exc)
start_scheduler(app)
