"""HTTP plumbing below the views: every request gets an id and one access line, request bodies
are read here within the size limit (gzip inflated, chunked ones whole), and JSON is read and
written by orjson."""

import io
import json
import logging
import re
import time
import uuid
import zlib

import orjson
from flask import g, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.wsgi import get_content_length

from .context import REQUEST_ID_HEADER, REQUEST_ID_PATTERN, bound, request_id

access_log = logging.getLogger("prepmate.http")

# A caller's id is kept when it is well formed (app/context.py), and replaced otherwise.
WELL_FORMED_ID = re.compile(REQUEST_ID_PATTERN)
# The environ keys through which the request's id, and what the app learnt of the request (its
# route, its caller's app), reach the access line.
REQUEST_ID = "prepmate.request_id"
ROUTE = "prepmate.route"
APP_ID = "prepmate.app_id"
# Probes a load balancer or Prometheus calls every few seconds: a good answer is logged at debug
# only (DEBUG=prepmate:http shows them), a refusal or failure at info like any request.
PROBES = frozenset({"/api/health", "/api/health/live", "/api/health/ready", "/metrics"})

# The environ key through which a refused body reaches the app's error handler.
BODY_ERROR = "prepmate.body_error"
# The body limit of a request whose path takes a wider one than MAX_CONTENT_LENGTH.
BODY_LIMIT = "prepmate.body_limit"
CHUNK = 64 * 1024
GZIP_MAGIC = b"\x1f\x8b"
TRAILER_BYTES = 8  # CRC-32 and size, after each member's compressed data


def request_id_for(sent):
    """The caller's X-Request-ID when it is well formed, else a fresh one (32 hex digits)."""
    if sent and WELL_FORMED_ID.fullmatch(sent):
        return sent
    return uuid.uuid4().hex


class RequestIds:
    """WSGI middleware, outermost: every request gets an id (the caller's when well formed),
    which every response carries in X-Request-ID and every log line of the request names; once
    the answer is ready, one access line on prepmate.http says what was asked and answered."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        rid = environ[REQUEST_ID] = request_id_for(environ.get("HTTP_X_REQUEST_ID"))
        answered = []

        def start(status, headers, exc_info=None):
            answered.append(status)
            headers = [(name, value) for name, value in headers
                       if name.lower() != REQUEST_ID_HEADER.lower()]
            headers.append((REQUEST_ID_HEADER, rid))
            return start_response(status, headers, exc_info)

        with bound(request_id, rid):
            try:
                return self.wsgi_app(environ, start)
            finally:
                log_access(environ, answered[-1] if answered else None, started)


def log_access(environ, status_line, started):
    """The request's access line: method, path, status and duration, with its route and app."""
    status = int(status_line.split(None, 1)[0]) if status_line else None
    path = environ.get("PATH_INFO") or "/"
    level = (logging.DEBUG if path in PROBES and status is not None and status < 400
             else logging.INFO)
    if not access_log.isEnabledFor(level):
        return
    duration = round((time.perf_counter() - started) * 1000, 1)
    method = environ.get("REQUEST_METHOD", "")
    access_log.log(level, "%s %s %s %.1f ms", method, path, status, duration,
                   extra={"method": method, "path": path, "status": status,
                          "durationMs": duration, "route": environ.get(ROUTE),
                          "appId": environ.get(APP_ID)})


def note_request(_error=None):
    """teardown_request: leave the matched route and the caller's app for the access line."""
    if request.url_rule is not None:
        request.environ[ROUTE] = request.url_rule.rule
    app_id = g.get("app_id")
    if app_id is not None:
        request.environ[APP_ID] = app_id


def wide_body_limit():
    """before_request: a path the body layer gave a wider limit has it in Flask too."""
    limit = request.environ.get(BODY_LIMIT)
    if limit is not None:
        request.max_content_length = limit


class BodyRefused(Exception):
    """A body refused before any view runs: (status, code, message)."""


class RequestBodies:
    """WSGI middleware: every body reaches the app sized and within the limit. A gzip body is
    inflated and must be a complete stream; a chunked one is read here, so over the limit it is
    413 like a sized one. No more than limit + 1 bytes of either are ever read or inflated."""

    def __init__(self, wsgi_app, max_bytes, wide_bytes=None, is_wide=None):
        self.wsgi_app = wsgi_app
        self.max_bytes = max_bytes
        # Paths for which `is_wide(path)` holds (the compatible endpoints) take `wide_bytes`.
        self.wide_bytes = wide_bytes
        self.is_wide = is_wide

    def __call__(self, environ, start_response):
        limit = self.max_bytes
        if self.is_wide is not None and self.is_wide(environ.get("PATH_INFO", "")):
            limit = environ[BODY_LIMIT] = self.wide_bytes
        try:
            self._read(environ, limit)
        except BodyRefused as refused:
            environ[BODY_ERROR] = refused.args
            self._replace_body(environ, b"")
        return self.wsgi_app(environ, start_response)

    def _read(self, environ, limit):
        encoding = environ.get("HTTP_CONTENT_ENCODING", "").strip().lower()
        if encoding in ("gzip", "x-gzip"):
            self._replace_body(environ, inflate(self._raw(environ, limit), limit))
        elif encoding not in ("", "identity"):
            raise BodyRefused(415, "unsupported_encoding",
                              f"Content-Encoding {encoding!r} is not accepted; use gzip.")
        elif get_content_length(environ) is None and environ.get("wsgi.input_terminated"):
            # A chunked body: Flask would cut it at the limit and read on; read it here instead.
            self._replace_body(environ, b"".join(self._raw(environ, limit)))
        # A sized plain body is left to Flask, which answers 413 past MAX_CONTENT_LENGTH (or
        # the request's own limit, which wide_body_limit sets from BODY_LIMIT).

    def _raw(self, environ, limit):
        """The body as sent, in pieces; BodyRefused once it passes the limit."""
        length = get_content_length(environ)
        if length is None and not environ.get("wsgi.input_terminated"):
            return  # no length and a server that does not end the stream: nothing to read
        if length is not None and length > limit:
            raise BodyRefused(413, "payload_too_large",
                              f"The body is {length} bytes; the limit is {limit}.")
        stream, left = environ["wsgi.input"], limit + 1 if length is None else length
        while left > 0:
            try:
                piece = stream.read(min(CHUNK, left))
            except Exception as exc:  # noqa: BLE001 - each server has its own (gunicorn's
                # ParseException for bad chunk framing, werkzeug's ClientDisconnected, OSError)
                raise BodyRefused(400, "unreadable_body",
                                  f"The body could not be read: {exc or type(exc).__name__}."
                                  ) from None
            if not piece:
                return
            left -= len(piece)
            if left <= 0 and length is None:
                raise BodyRefused(413, "payload_too_large",
                                  f"The body is over the limit of {limit} bytes.")
            yield piece

    @staticmethod
    def _replace_body(environ, body):
        for key in ("HTTP_CONTENT_ENCODING", "HTTP_TRANSFER_ENCODING"):
            environ.pop(key, None)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))


def inflate(pieces, limit):
    """The data of a gzip stream sent in `pieces`; BodyRefused unless the stream is complete
    (every member's header, compressed data and CRC-32/size trailer) and inflates to at most
    `limit` bytes. Concatenated members are read one after another, as gzip tools do; anything
    else after the stream is refused. No body at all stays empty."""
    reader = GzipReader(limit)
    for piece in pieces:
        reader.feed(piece)
    return reader.close()


class GzipReader:
    """Reads a gzip stream piece by piece. zlib inflates each member's data (raw deflate); the
    header and trailer are read here, so a cut body can say where it was cut."""

    HEADER, DATA, TRAILER = "header", "data", "trailer"

    def __init__(self, limit):
        self.limit = limit
        self.out = bytearray()
        self.phase, self.members, self.waiting = self.HEADER, 0, b""
        self.inflater, self.crc, self.size = None, 0, 0

    def feed(self, piece):
        pending, self.waiting = self.waiting + piece, b""
        while pending:
            if self.phase == self.HEADER:
                end = self._header_end(pending)
                if end is None:
                    self.waiting = pending  # at most the body itself, which is within the limit
                    return
                self.inflater, self.crc, self.size = zlib.decompressobj(-zlib.MAX_WBITS), 0, 0
                pending, self.phase = pending[end:], self.DATA
            elif self.phase == self.DATA:
                pending = self._inflate(pending)
            elif len(pending) < TRAILER_BYTES:
                self.waiting = pending
                return
            else:
                self._check_trailer(pending[:TRAILER_BYTES])
                pending, self.phase = pending[TRAILER_BYTES:], self.HEADER
                self.members += 1

    def close(self):
        """The inflated data, once the stream is complete."""
        if self.phase == self.DATA:
            invalid_gzip("The gzip stream is truncated: it ends inside its compressed data.")
        if self.phase == self.TRAILER:
            invalid_gzip("The gzip stream ends without its CRC-32 and size trailer (truncated).")
        if self.waiting:
            invalid_gzip("The gzip stream is truncated: it ends inside a header.")
        return bytes(self.out)

    def _header_end(self, data):
        """Where the member's header ends in `data`; None while more bytes are needed."""
        if not GZIP_MAGIC.startswith(data[:2]):
            invalid_gzip("The body has data after the end of its gzip stream." if self.members
                   else "The body is not gzip data (it does not start with a gzip header).")
        if len(data) < 10:
            return None
        method, flags = data[2], data[3]
        if method != 8 or flags & 0xE0:
            invalid_gzip("The gzip header names an unknown compression method or flag.")
        end = 10
        if flags & 4:  # FEXTRA: a length, then that many bytes
            if len(data) < end + 2:
                return None
            end += 2 + int.from_bytes(data[end:end + 2], "little")
        for flag in (8, 16):  # FNAME, FCOMMENT: zero-terminated
            if flags & flag and end <= len(data):
                zero = data.find(b"\0", end)
                end = zero + 1 if zero >= 0 else len(data) + 1
        if flags & 2:  # FHCRC: the header's own CRC-16
            if end + 2 <= len(data) and (
                    zlib.crc32(data[:end]) & 0xFFFF != int.from_bytes(data[end:end + 2], "little")):
                invalid_gzip("The gzip header's CRC does not match the header (corrupted).")
            end += 2
        return end if end <= len(data) else None

    def _inflate(self, data):
        try:
            # Never past limit + 1 bytes: a small body cannot become a large one in memory.
            chunk = self.inflater.decompress(data, self.limit + 1 - len(self.out))
        except zlib.error as exc:
            reason = str(exc).rpartition(": ")[2]
            invalid_gzip(f"The gzip stream's compressed data is corrupt: {reason}.")
        self.out += chunk
        if len(self.out) > self.limit:
            raise BodyRefused(413, "payload_too_large",
                              f"The body inflates past the limit of {self.limit} bytes.")
        self.crc, self.size = zlib.crc32(chunk, self.crc), self.size + len(chunk)
        if not self.inflater.eof:
            return b""  # with output room left, zlib took all of `data`
        self.phase = self.TRAILER
        return self.inflater.unused_data

    def _check_trailer(self, trailer):
        if int.from_bytes(trailer[:4], "little") != self.crc:
            invalid_gzip("The gzip stream's CRC-32 does not match its data (corrupted).")
        if int.from_bytes(trailer[4:], "little") != self.size & 0xFFFFFFFF:
            invalid_gzip("The gzip stream's size trailer does not match its data (corrupted).")


def invalid_gzip(message):
    """Refuse the body as broken gzip, saying how."""
    raise BodyRefused(400, "invalid_gzip", message)


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
