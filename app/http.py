"""HTTP plumbing below the views: gzip request bodies are inflated here, within the size limit,
and JSON is read and written by orjson."""

import io
import json
import zlib

import orjson
from flask.json.provider import DefaultJSONProvider

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


class FastJsonProvider(DefaultJSONProvider):
    """Flask's JSON provider with orjson doing the work. Reading is strict: NaN, Infinity and
    lone surrogates are not JSON and are refused (a ValueError naming where), and an integer
    outside 64 bits is read exactly, as an OutOfRangeInt, for validation to refuse its item
    rather than have it stored rounded."""

    COMPACT = {"separators": (",", ":")}

    def loads(self, s, **kwargs):
        if kwargs:
            return super().loads(s, **kwargs)
        raw = s if isinstance(s, bytes) else s.encode()
        if raw.translate(DIGITS_AS_ZERO).find(LONG_DIGITS) == -1:
            return orjson.loads(raw)
        # orjson reads integers past 64 bits as floats; the standard library reads them exactly.
        value = json.loads(s, parse_int=_integer, parse_constant=_no_constant)
        try:
            orjson.dumps(value, default=_zero, option=orjson.OPT_PASSTHROUGH_SUBCLASS)
        except orjson.JSONEncodeError as exc:  # a lone surrogate
            raise ValueError(f"{exc}") from None
        return value

    def dumps(self, obj, **kwargs):
        if not kwargs or kwargs == self.COMPACT:
            option = orjson.OPT_PASSTHROUGH_DATETIME  # dates as Flask writes them (HTTP dates)
            if self.sort_keys:
                option |= orjson.OPT_SORT_KEYS
            try:
                return orjson.dumps(obj, default=self.default, option=option).decode()
            except TypeError:
                pass
        return super().dumps(obj, **kwargs)


class OutOfRangeInt(int):
    """An integer no store holds exactly (outside 64 bits); orjson, told to pass subclasses
    through, refuses to write it."""


# A run of 19 digits may be an integer orjson cannot read exactly. Found by mapping every digit
# to "0" and searching for nineteen of them: a regular expression takes five times as long.
DIGITS_AS_ZERO = bytes.maketrans(b"0123456789", b"0" * 10)
LONG_DIGITS = b"0" * 19
INT64 = range(-(2 ** 63), 2 ** 63)


def _integer(text):
    value = int(text)
    return value if value in INT64 else OutOfRangeInt(value)


def _zero(_value):
    return 0


def _no_constant(name):
    raise ValueError(f"{name} is not a JSON value")
