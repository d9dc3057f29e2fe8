"""The OpenAPI 3.1 document's JSON Schemas, derived from the API's marshmallow schemas.

apispec converts each field; `ExactConverter` adds what its converter leaves out, read from the
same fields and validators the service loads with, so the document cannot drift from them:
exclusive ranges, a nullable enum's null, the time grammar of UtcDateTime, and the key rules
of free-form data (StorableDict, storable.KEY_PATTERN). A few rules span fields or live in
the services; `SCHEMA_RULES` states those next to the constants they come from: an event's
eventData by its eventType (events.EVENT_DATA_SCHEMAS), a batch's item count and its need for
one valid item, a merged resolution's data.

tests/test_schemathesis.py holds the document to the service's answers.
"""

from apispec import BasePlugin
from apispec.ext.marshmallow import MarshmallowPlugin, OpenAPIConverter
from apispec.ext.marshmallow.common import resolve_schema_cls
from marshmallow import validate

from ..context import REQUEST_ID_HEADER, REQUEST_ID_PATTERN
from .events import EVENT_DATA_SCHEMAS, SEED_EVENT_TYPES
from .fields import StorableDict, UtcDateTime
from .storable import INT64_MAX, INT64_MIN, KEPT_AS_SENT, KEY_PATTERN, MAX_NESTING
from .sync import ResolveSchema
from .telemetry import (
    VERB_BODY_SCHEMAS,
    VERB_ITEM_SCHEMAS,
    VERB_TYPES,
    BatchSchema,
    EventItemSchema,
    RecordItemSchema,
    TrackSchema,
)

# userId or anonymousId (or both), where a call must name who it is about.
EITHER_ID = {"anyOf": [{"required": ["userId"]}, {"required": ["anonymousId"]}]}

STORABLE_OBJECT = "StorableObject"
STORABLE_VALUE = "StorableValue"


def ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def storable_components():
    """The free-form data every store can hold as sent: keys by storable.KEY_PATTERN, integers
    within 64 bits, at any depth (the depth limit, MAX_NESTING, is stated in words: JSON Schema
    cannot count levels)."""
    keys = {"pattern": KEY_PATTERN}
    value = {
        "description": f"Any JSON value; objects' keys by the same rule, at most {MAX_NESTING} "
                       "levels deep in all.",
        "propertyNames": keys,
        "additionalProperties": ref(STORABLE_VALUE),
        "items": ref(STORABLE_VALUE),
        "if": {"type": "integer"},
        "then": {"minimum": INT64_MIN, "maximum": INT64_MAX},
    }
    return {
        STORABLE_VALUE: value,
        STORABLE_OBJECT: {"type": "object", "description": KEPT_AS_SENT,
                          "propertyNames": keys, "additionalProperties": ref(STORABLE_VALUE)},
    }


class ExactConverter(OpenAPIConverter):
    """apispec's converter, completed from the fields and validators, and SCHEMA_RULES."""

    settings = {}

    def init_attribute_functions(self):
        super().init_attribute_functions()
        # After field2nullable: it reads and completes what the others made.
        self.attribute_functions.append(self.exact_field)

    def exact_field(self, field, ret, **kwargs):
        """What apispec leaves out of a field's JSON Schema (changes `ret` in place)."""
        for validator in field.validators:
            if isinstance(validator, validate.Range):
                # apispec writes an exclusive bound as an inclusive one; 3.1 has numbers for it.
                if validator.min is not None and not validator.min_inclusive:
                    ret.pop("minimum", None)
                    ret["exclusiveMinimum"] = validator.min
                if validator.max is not None and not validator.max_inclusive:
                    ret.pop("maximum", None)
                    ret["exclusiveMaximum"] = validator.max
        if isinstance(field, UtcDateTime):
            # Not `format: date-time` (RFC 3339 needs seconds, which the API does not).
            ret.pop("format", None)
            ret["pattern"] = field.pattern
            ret.setdefault("examples", ["2026-01-31T12:00:00Z"])
        if isinstance(field, StorableDict):
            for key in ("type", "additionalProperties"):
                ret.pop(key, None)
            if field.shape is None:
                ret.update(ref(STORABLE_OBJECT))
            else:
                shape = resolve_schema_cls(field.shape)()
                read = {"type": "object", "properties": {
                    (f.data_key or name): self.field2property(f)
                    for name, f in shape.fields.items()}}
                ret["allOf"] = [ref(STORABLE_OBJECT), read]
        if field.allow_none and "enum" in ret and None not in ret["enum"]:
            ret["enum"] = [*ret["enum"], None]
        return {}

    def schema2jsonschema(self, schema):
        jsonschema = super().schema2jsonschema(schema)
        rule = SCHEMA_RULES.get(resolve_schema_cls(schema))
        if rule is not None:
            rule(self, jsonschema)
        return jsonschema


def event_rules(converter, jsonschema):
    """An event's eventData by its eventType: each seed type's schema (events.py), any storable
    object for other types, which STRICT_EVENT_TYPES refuses. One flat `anyOf` with a branch per
    type (rather than an if/then per type) keeps the document easy for tools to generate from."""
    branches = []
    for event_type, data_schema in EVENT_DATA_SCHEMAS.items():
        data = converter.resolve_nested_schema(type(data_schema))
        branch = {"properties": {"eventType": {"const": event_type},
                                 "eventData": {"allOf": [ref(STORABLE_OBJECT), data]}}}
        if any(f.required for f in data_schema.fields.values()):
            # An absent eventData is read as {}, which lacks the required fields.
            branch["required"] = ["eventData"]
        branches.append(branch)
    if converter.settings.get("STRICT_EVENT_TYPES"):
        jsonschema["properties"]["eventType"]["enum"] = list(SEED_EVENT_TYPES)
    else:
        branches.append({"properties": {"eventType": {"not": {"enum": list(SEED_EVENT_TYPES)}}}})
    jsonschema["anyOf"] = branches


def either_id_rule(converter, jsonschema):
    """A call about a person names its userId or its anonymousId (or both)."""
    jsonschema.setdefault("allOf", []).append(EITHER_ID)


def track_rules(converter, jsonschema):
    event_rules(converter, jsonschema)
    either_id_rule(converter, jsonschema)


def record_item_rules(converter, jsonschema):
    """The verbs' itemTypes are not record types, unless LEGACY_RECORD_TYPE_APPS names apps
    (which then take them as record types: the document cannot say which key is whose)."""
    if not converter.settings.get("LEGACY_RECORD_TYPE_APPS"):
        jsonschema["properties"]["itemType"]["not"] = {"enum": list(VERB_TYPES)}


def batch_rules(converter, jsonschema):
    """1..MAX_BATCH_ITEMS items, each validated on its own: a batch is taken when at least one
    item is valid (and has a userId or anonymousId, its own or the batch's); the others are
    answered rejected. Each item's JSON is at most MAX_ITEM_BYTES, which JSON Schema cannot
    measure."""
    item = {"oneOf": [converter.resolve_nested_schema(EventItemSchema),
                      converter.resolve_nested_schema(RecordItemSchema),
                      *(converter.resolve_nested_schema(schema)
                        for schema in VERB_ITEM_SCHEMAS.values())]}
    limit = int(converter.settings.get("MAX_BATCH_ITEMS", 1000))
    item_bytes = int(converter.settings.get("MAX_ITEM_BYTES", 32 * 1024))
    jsonschema["properties"]["items"] = {
        "type": "array", "minItems": 1, "maxItems": limit, "contains": item,
        # Any value may stand beside a valid item (it is answered `rejected`); the two item
        # schemas are named first for readers and tools that show an example.
        "items": {"anyOf": [*item["oneOf"], {"description": "Any other value: rejected."}]},
        "description": f"1 to {limit} event items (EventItem), identity items (IdentifyItem, "
                       "AliasItem, GroupItem, PageItem, ScreenItem) and record items "
                       f"(RecordItem), each at most {item_bytes} bytes of JSON. Each is "
                       "validated on its own: valid items are kept, the others are answered "
                       "`rejected` in `results`, and a batch without one valid item is refused "
                       "(400). An item needs a userId or an anonymousId, its own or the "
                       "batch's.",
    }
    jsonschema["if"] = {"not": EITHER_ID}
    jsonschema["then"] = {"properties": {"items": {
        "contains": {"allOf": [item, EITHER_ID]}}}}


def resolve_rules(converter, jsonschema):
    """`merged` needs `data`, which must be storable (conflicts._validated); with `server` or
    `client` any data is ignored."""
    jsonschema["if"] = {"properties": {"resolution": {"const": "merged"}},
                        "required": ["resolution"]}
    jsonschema["then"] = {"required": ["data"], "properties": {"data": ref(STORABLE_OBJECT)}}


SCHEMA_RULES = {TrackSchema: track_rules, EventItemSchema: event_rules,
                RecordItemSchema: record_item_rules,
                BatchSchema: batch_rules, ResolveSchema: resolve_rules,
                **{schema: either_id_rule for verb, schema in VERB_BODY_SCHEMAS.items()
                   if verb != "alias"}}


class DocumentPlugin(MarshmallowPlugin):
    """The marshmallow plugin with ExactConverter, knowing the app's limits."""

    Converter = ExactConverter

    def __init__(self, settings, **kwargs):
        super().__init__(**kwargs)
        self.settings = dict(settings)

    def init_spec(self, spec):
        super().init_spec(spec)
        self.converter.settings = self.settings
        for name, schema in storable_components().items():
            spec.components.schema(name, schema)


# The header every answer carries (app/http.py's RequestIds).
REQUEST_ID = {
    "description": "The request's id: the caller's `X-Request-ID` when it is 1-128 ASCII "
                   "letters, digits or `-_.:`, else one the server made (32 hex digits). Every "
                   "log line of the request names it.",
    "schema": {"type": "string", "pattern": f"^{REQUEST_ID_PATTERN}$"},
    "required": True,
}


class RequestIdPlugin(BasePlugin):
    """Declares X-Request-ID on every answer of every operation, shared ones included."""

    def init_spec(self, spec):
        spec.components.header("RequestId", REQUEST_ID)

    @staticmethod
    def _with_header(response):
        return {**response.get("headers", {}), REQUEST_ID_HEADER: "RequestId"}

    def response_helper(self, response, **kwargs):
        return {"headers": self._with_header(response)}

    def operation_helper(self, path=None, operations=None, **kwargs):
        for operation in (operations or {}).values():
            for response in operation.get("responses", {}).values():
                if isinstance(response, dict) and "$ref" not in response:
                    response["headers"] = self._with_header(response)
