"""HTTP plumbing below the views: gzip request bodies are inflated here, within the size limit."""

import io
import zlib

# The environ key through which a refused body reaches the app's error handler.
BODY_ERROR = "prepmate.body_error"
CHUNK = 64 * 1024


class GzipRequestBodies:
    """WSGI middleware: inflate `Content-Encoding: gzip` bodies, refusing any that inflate past
    the limit, so a small compressed body can never become a large one in memory."""

    def __init__(self, wsgi_app, max_bytes):
        self.wsgi_app = wsgi_app
        self.max_bytes = max_bytes

    def __call__(self, environ, start_response):
        encoding = environ.get("HTTP_CONTENT_ENCODING", "").strip().lower()
        if encoding in ("gzip", "x-gzip"):
            self._inflate(environ)
        elif encoding not in ("", "identity"):
            environ[BODY_ERROR] = (415, "unsupported_encoding",
                                   f"Content-Encoding {encoding!r} is not accepted; use gzip.")
            self._replace_body(environ, b"")
        return self.wsgi_app(environ, start_response)

    def _inflate(self, environ):
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > self.max_bytes:
            environ[BODY_ERROR] = (413, "payload_too_large",
                                   f"The body is {length} bytes; the limit is {self.max_bytes}.")
            self._replace_body(environ, b"")
            return
        compressed = environ["wsgi.input"].read(length) if length else b""
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(compressed, self.max_bytes + 1)
        except zlib.error:
            environ[BODY_ERROR] = (400, "invalid_gzip", "The body is not valid gzip data.")
            body = b""
        if len(body) > self.max_bytes:
            environ[BODY_ERROR] = (413, "payload_too_large",
                                   f"The body inflates past the limit of {self.max_bytes} bytes.")
            body = b""
        self._replace_body(environ, body)

    @staticmethod
    def _replace_body(environ, body):
        environ.pop("HTTP_CONTENT_ENCODING", None)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
