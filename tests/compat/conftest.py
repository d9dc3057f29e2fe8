"""Fixtures for the compatibility tests: Segment's and PostHog's own libraries, unmodified,
against a live server on 127.0.0.1.

`compat_server` is `gunicorn -w 2 wsgi:app` on SQLite (and on the real MongoDB of
TEST_MONGODB_URI). mongomock lives inside one process, so on it the app is served from a thread
of the test's own process instead: every test here still runs on both stores. `flaky_proxy`
stands between a library and the server and answers the first requests 503, so a test sees the
library retry on its own.
"""

import http.client
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from app.accounts.keys import create_key
from app.extensions import store as store_ext
from tests.conftest import close_app, make_app, serving
from tests.test_gunicorn import serving_gunicorn


@dataclass
class Served:
    """A live server: its URL, its store (read through the port), and a key of app "compatapp"
    holding every scope."""

    url: str
    store: object
    key: str
    app_id: str = "compatapp"


@pytest.fixture
def compat_settings():
    """Settings (as environment-variable texts) a test module may override for compat_server."""
    return {}


@contextmanager
def serving_compat(where, store_kind, settings):
    if store_kind == "sqlite" or os.environ.get("TEST_MONGODB_URI"):
        with serving_gunicorn(where, store_kind=store_kind, **settings) as (url, the_store):
            key, _doc = create_key(the_store, "compatapp", ["ingest", "read", "admin"])
            yield Served(url, the_store, key)
        return
    app = make_app(where, store_kind, **settings)
    try:
        with app.app_context():
            the_store = store_ext.get(app)
            key, _doc = create_key(the_store, "compatapp", ["ingest", "read", "admin"])
        with serving(app) as server:
            yield Served(server.url, the_store, key)
    finally:
        close_app(app)


@pytest.fixture
def compat_server(tmp_path, store_kind, compat_settings):
    """A live server for a client library (see the module's doc); yields a Served."""
    with serving_compat(tmp_path, store_kind, compat_settings) as served:
        yield served


class FlakyProxy:
    """A loopback HTTP proxy to `target` answering the first `fail_first` requests of the
    `methods` given 503 (a server restarting, say), and passing everything else on."""

    def __init__(self, target, fail_first=3, methods=("POST",)):
        self.target = urlsplit(target)
        self.fail_first = fail_first
        self.methods = methods
        self.refused = 0
        self.passed = []  # (method, path, status) of each request passed on
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args):
                pass

            def _body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    pieces = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            self.rfile.readline()
                            return b"".join(pieces)
                        pieces.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _handle(self):
                body = self._body()
                with proxy._lock:
                    refuse = self.command in proxy.methods and proxy.refused < proxy.fail_first
                    if refuse:
                        proxy.refused += 1
                if refuse:
                    self.send_response(503)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "2")
                    self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin")
                                     or "*")
                    self.end_headers()
                    self.wfile.write(b"{}")
                    return
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "transfer-encoding", "connection",
                                                "content-length")}
                conn = http.client.HTTPConnection(proxy.target.hostname, proxy.target.port,
                                                  timeout=30)
                try:
                    conn.request(self.command, self.path, body=body or None, headers=headers)
                    answer = conn.getresponse()
                    data = answer.read()
                finally:
                    conn.close()
                with proxy._lock:
                    proxy.passed.append((self.command, self.path, answer.status))
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length",
                                            "date", "server"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_OPTIONS = do_HEAD = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_exc):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@pytest.fixture
def flaky_proxy():
    """A factory: flaky_proxy(target_url, fail_first=3) -> a started FlakyProxy (stopped after
    the test)."""
    proxies = []

    def make(target, fail_first=3, methods=("POST",)):
        proxy = FlakyProxy(target, fail_first, methods).__enter__()
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.__exit__(None, None, None)
