"""The Mongo adapter lets go of the client create_store made for it when it is closed."""

import pytest
from flask import Flask

from app.store import StoreUnavailable, create_store

STORE_SPECIFIC = "about the MongoDB client the Mongo adapter owns; SQLite has none"


def test_closing_a_mongo_store_closes_the_client_it_made():
    # Nothing listens there, and nothing needs to: a closed client refuses before connecting.
    store = create_store({"MONGODB_URI": "mongodb://127.0.0.1:9/prepmate_closed",
                          "MONGODB_WRITE_CONCERN": "1"}, Flask(__name__))
    store.close()
    with pytest.raises(StoreUnavailable, match="after close"):
        store.ping()
