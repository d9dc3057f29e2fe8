"""Helpers of the PostHog compatibility tests: a loopback proxy that answers 503 to the first few
capture requests (the libraries must retry on their own), and readers of what was stored."""

import http.client
import json
import threading
import urllib.parse
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CAPTURE_PREFIXES = ("/batch", "/capture", "/e", "/i/v0/e", "/i/v0/ai/batch", "/track")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate", "host", "content-length"}


def is_capture(path):
    path = urllib.parse.urlsplit(path).path.rstrip("/")
    return path in CAPTURE_PREFIXES


class Proxy:
    """What the proxy saw: each request's (method, path, status answered)."""

    def __init__(self, upstream, failures):
        self.upstream = urllib.parse.urlsplit(upstream)
        self.failures = failures
        self.seen = []
        self.lock = threading.Lock()
        self.url = None

    def failed(self):
        return sum(1 for _method, _path, status in self.seen if status == 503)

    def captures(self):
        return [entry for entry in self.seen if is_capture(entry[1])]


@contextmanager
def flaky_proxy(upstream, failures):
    """A proxy on 127.0.0.1 in front of `upstream`, answering 503 (Retry-After: 1) to the first
    `failures` capture requests and passing every other request on; yields the Proxy."""
    proxy = Proxy(upstream, failures)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _relay(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with proxy.lock:
                fail = is_capture(self.path) and sum(
                    1 for entry in proxy.seen if is_capture(entry[1])) < proxy.failures
                proxy.seen.append((self.command, self.path, 503 if fail else None))
                index = len(proxy.seen) - 1
            if fail:
                answer = b'{"type":"server_error","code":"unavailable","detail":"try later"}'
                self.send_response(503)
                self.send_header("Retry-After", "1")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
                return
            conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port,
                                              timeout=60)
            headers = {name: value for name, value in self.headers.items()
                       if name.lower() not in HOP_BY_HOP}
            conn.request(self.command, self.path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            with proxy.lock:
                proxy.seen[index] = (self.command, self.path, response.status)
            self.send_response(response.status)
            for name, value in response.getheaders():
                if name.lower() not in HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            conn.close()

        do_GET = do_POST = do_OPTIONS = _relay

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()


def stored_item(store, app_id, item_id):
    """A queue item's payload as stored (itemData decoded), or None."""
    row = store.get_queue_item(app_id, item_id)
    if row is None:
        return None
    data = row["itemData"]
    return json.loads(data) if isinstance(data, str) else data
