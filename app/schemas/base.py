"""The base schema every API schema shares: unknown fields are refused, by name."""

from marshmallow import RAISE, Schema


class BaseSchema(Schema):
    """Refuses unknown fields so a misspelt field gets a clear 400 instead of being dropped."""

    class Meta:
        unknown = RAISE
        ordered = True
