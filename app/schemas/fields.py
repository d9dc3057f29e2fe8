"""Field classes the API schemas share, strict so that what ingest accepts is what it stores."""

import re
from datetime import UTC

from marshmallow import ValidationError, fields, validate

from .storable import KEPT_AS_SENT

# Ids the client makes: letters, digits and a few separators ("~" is kept for the server's use).
# "." and ".." are refused: as a path segment (a status URL, a console link) every HTTP client
# resolves them away, so such an item could never be read back.
ID_PATTERN = r"^(?!\.\.?$)[A-Za-z0-9_.:@\-]{1,128}$"
ID_RE = re.compile(ID_PATTERN)


class FullMatch(validate.Regexp):
    """A Regexp validator that matches the whole value.

    marshmallow's Regexp uses re.match, where `$` also matches before a final newline, so
    "e1\\n" would pass `^...$`. The pattern keeps its `^...$` form for the OpenAPI document
    (JSON Schema patterns are ECMA-262, which has no `\\Z`); the check is re.fullmatch.
    """

    def __call__(self, value):
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


# The NUL character is refused where a string is a name, not data: SQLite's JSON functions cut a
# text at it, and it never belongs in a type name.
NO_NUL = FullMatch(r"^[^\u0000]*$", error="May not contain the NUL character (\\u0000).")


class Identifier(fields.String):
    """A client-made id. Checked inside the field: ingest validates every item, so it counts."""

    default_error_messages = {
        "invalid_id": "Must be 1-128 letters, digits or _.:@- characters (not '.' or '..')."}

    def __init__(self, **kwargs):
        metadata = {"pattern": ID_PATTERN, **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if ID_RE.fullmatch(value) is None:
            raise self.make_error("invalid_id")
        return value


class WholeNumber(fields.Integer):
    """An integer sent as a JSON number: 1 or 1.0 (taken as 1); 1.5, "1" and true are refused.

    marshmallow's Integer truncates 1.5 to 1 and reads "1" as 1, which stored what was not sent.
    """

    default_error_messages = {"invalid": "Must be a whole number (not text, a fraction or "
                                         "true/false)."}

    def _validated(self, value):
        if type(value) is float and value.is_integer():
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return int(value)
        raise self.make_error("invalid", input=value)


class JsonNumber(fields.Float):
    """A number sent as a JSON number; text such as "85" and true/false are refused."""

    default_error_messages = {"invalid": "Must be a number (not text or true/false)."}

    def _validated(self, value):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class JsonBoolean(fields.Boolean):
    """true or false as JSON has them; "yes", 1 and "true" are refused."""

    default_error_messages = {"invalid": "Must be true or false."}

    def _deserialize(self, value, attr, data, **kwargs):
        if value is True or value is False:
            return value
        raise self.make_error("invalid", input=value)


# The times the API takes, as one grammar (ISO 8601's extended and basic forms): a calendar
# date (years 0001-9999, leap years included) as YYYY-MM-DD or YYYYMMDD, "T", the time as
# HH:MM[:SS[.ffffff]] or HHMM[SS[.ffffff]], then "Z" or an offset as ±HH:MM[:SS] or ±HHMM[SS]
# (under 24 hours). The OpenAPI document publishes these patterns; the fields check them in full
# before parsing, so the document and the service take exactly the same texts. (ASCII digits:
# Python's \d would also take other scripts' digits, ECMA-262's would not.)
_D = "[0-9]"


def _date(dash):
    month_day = (f"(?:(?:0[13578]|1[02]){dash}(?:0[1-9]|[12]{_D}|3[01])"
                 f"|(?:0[469]|11){dash}(?:0[1-9]|[12]{_D}|30)|02{dash}(?:0[1-9]|1{_D}|2[0-8]))")
    leap_year = f"(?:{_D}{{2}}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)"
    return f"(?!0000)(?:{_D}{{4}}{dash}{month_day}|{leap_year}{dash}02{dash}29)"


def _clock(colon, fraction):
    seconds = f"[0-5]{_D}" + (f"(?:\\.{_D}{{1,6}})?" if fraction else "")
    return f"(?:[01]{_D}|2[0-3]){colon}[0-5]{_D}(?:{colon}{seconds})?"


_DATE = f"(?:{_date('-')}|{_date('')})"
_TIME = f"(?:{_clock(':', True)}|{_clock('', True)})"
_OFFSET = f"(?:Z|[+-](?:{_clock(':', False)}|{_clock('', False)}))"
TIME_PATTERN = f"^{_DATE}T{_TIME}{_OFFSET}$"
# Where a time without an offset is read as UTC (the metrics filters): the offset is optional.
UTC_DEFAULT_TIME_PATTERN = f"^{_DATE}T{_TIME}{_OFFSET}?$"


class UtcDateTime(fields.AwareDateTime):
    """An ISO 8601 time with an offset (TIME_PATTERN), loaded as the UTC instant it names.

    Every stored time is a UTC instant inside 0001-01-01..9999-12-31, so a store can always read
    it back: "0001-01-01T00:00:00+14:00" (before year 1 in UTC) is refused, not stored. With a
    default_timezone the offset may be left out (UTC_DEFAULT_TIME_PATTERN).
    """

    default_error_messages = {
        "out_of_range": "Must lie within 0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999Z "
                        "once converted to UTC.",
        "grammar": "Must be a time such as 2026-01-31T12:00:00Z: YYYY-MM-DDTHH:MM, optional "
                   ":SS with up to 6 decimals, then Z or an offset such as +02:00 (or the "
                   "same in ISO 8601's basic form, 20260131T120000Z)."}

    RANGE = "Within 0001-01-01..9999-12-31 once converted to UTC."

    def __init__(self, **kwargs):
        metadata = dict(kwargs.pop("metadata", {}))
        described = metadata.get("description",
                                 "ISO 8601 with an offset, e.g. 2026-01-31T12:00:00Z.")
        metadata["description"] = f"{described} {self.RANGE}"
        super().__init__(metadata=metadata, **kwargs)
        self.pattern = (TIME_PATTERN if self.default_timezone is None
                        else UTC_DEFAULT_TIME_PATTERN)
        self.regex = re.compile(self.pattern)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or self.regex.fullmatch(value) is None:
            if not isinstance(value, str):
                raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE)
            raise self.make_error("grammar")
        value = super()._deserialize(value, attr, data, **kwargs)
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise self.make_error("out_of_range") from None


class StorableDict(fields.Dict):
    """Free-form JSON data kept as sent (eventData, metadata, record data): a JSON object.

    Its keys and nesting are checked by ingest (storable.bad_keys); the OpenAPI document states
    the same rules (storable.KEY_PATTERN). `shape`, a schema class, names the keys the server
    reads inside (metadata's clientTimestamp), for the document.
    """

    def __init__(self, shape=None, **kwargs):
        metadata = dict(kwargs.pop("metadata", {}))
        metadata.setdefault("description", KEPT_AS_SENT)
        super().__init__(metadata=metadata, **kwargs)
        self.shape = shape
