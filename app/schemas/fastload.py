"""A fast path for loading marshmallow schemas on the ingest hot path.

Ingest validates every item of every batch, and marshmallow's per-field machinery costs more
than everything else a batch does. `FastLoader` reads a schema's own fields and validators once
and loads the common, well-formed case directly: exact JSON types only (str for String, int for
WholeNumber, int or float for JsonNumber, bool for JsonBoolean, dict for Dict), the fields' own
validators, the schema's unknown-field policy. Whenever anything is out of the ordinary — a
missing required field, a value needing conversion, a failing validator, an unsupported field —
it declines (returns None) and the caller loads with marshmallow, which has the last word and
writes the error messages. tests/schemas/test_fastload.py checks that both always agree.
"""

import math

from marshmallow import EXCLUDE, INCLUDE, RAISE, ValidationError, fields, missing

from .fields import ID_RE, Identifier, JsonBoolean, JsonNumber, StorableDict, WholeNumber

DECLINE = object()


def _string(value):
    return value if type(value) is str else DECLINE


def _integer(value):
    return value if type(value) is int else DECLINE


def _float(value, allow_nan):
    kind = type(value)
    if kind is not float and kind is not int:
        return DECLINE
    try:
        number = float(value)
    except OverflowError:
        return DECLINE
    if not allow_nan and not math.isfinite(number):
        return DECLINE
    return number


def _boolean(value):
    return value if type(value) is bool else DECLINE


def _mapping(value):
    return dict(value) if type(value) is dict else DECLINE


def _identifier(value):
    return value if type(value) is str and ID_RE.fullmatch(value) is not None else DECLINE


def _raw(value):
    return value


def _converter(field):
    """The fast conversion of a field, or None when the field is not one the fast path knows."""
    kind = type(field)
    if kind is Identifier:
        return _identifier
    if kind is fields.String:
        return _string
    if kind is WholeNumber:
        # 1.0 is loaded as 1 by the field itself: the fast path takes plain integers only.
        return _integer
    if kind is JsonNumber:
        allow_nan = bool(field.allow_nan)
        return lambda value: _float(value, allow_nan)
    if kind is JsonBoolean:
        return _boolean
    if (kind is fields.Dict or kind is StorableDict) and field.key_field is None \
            and field.value_field is None:
        return _mapping
    if kind is fields.Raw:
        return _raw
    return None


class FastLoader:
    """Loads a schema's well-formed inputs without marshmallow's machinery, or declines."""

    def __init__(self, schema):
        self.schema = schema
        self.unknown = schema.unknown
        self.plan = self._plan(schema)
        plan = self.plan or ()
        # The load walks the item's own keys (usually far fewer than the schema's fields).
        self.by_key = {key: (attr, convert, validators)
                       for key, attr, convert, validators, _required, _default in plan}
        self.required = tuple(key for key, *_rest, required, _default in plan if required)
        self.defaults = tuple((attr, default) for _key, attr, *_rest, default in plan
                              if default is not missing)
        self.known = frozenset(self.by_key)

    @staticmethod
    def _plan(schema):
        if any(schema._hooks.values()) or schema.unknown not in (RAISE, INCLUDE, EXCLUDE):
            # Hooks and schema validators run only in marshmallow: never skip them.
            return None
        plan = []
        for name, field in schema.load_fields.items():
            convert = _converter(field)
            if convert is None or field.allow_none:
                return None
            key = field.data_key if field.data_key is not None else name
            plan.append((key, field.attribute or name, convert, tuple(field.validators),
                         field.required, field.load_default))
        return plan

    def load(self, data):
        """The loaded data, exactly as `schema.load(data)` would return it, or None."""
        if self.plan is None or type(data) is not dict:
            return None
        out = {}
        by_key = self.by_key
        has_unknown = False
        for key, value in data.items():
            entry = by_key.get(key)
            if entry is None:
                has_unknown = True
                continue
            attr, convert, validators = entry
            value = convert(value)
            if value is DECLINE:
                return None
            for validator in validators:
                try:
                    if validator(value) is False:
                        return None
                except ValidationError:
                    return None
            out[attr] = value
        for key in self.required:
            if key not in data:
                return None
        for attr, default in self.defaults:
            if attr not in out:
                out[attr] = default() if callable(default) else default
        if has_unknown:
            if self.unknown == RAISE:
                return None
            if self.unknown == INCLUDE:
                for key, value in data.items():
                    if key not in self.known:
                        out[key] = value
        return out

    def __call__(self, data):
        """Load `data`: the fast path when it can, marshmallow otherwise (which may raise)."""
        loaded = self.load(data)
        return loaded if loaded is not None else self.schema.load(data)
