"""The one error shape every API answer uses."""

from marshmallow import Schema, fields


class ErrorSchema(Schema):
    """`{"error": code, "message": ..., "fields": {...}}`"""

    error = fields.String(required=True, metadata={"description": "Machine-readable code."})
    message = fields.String(required=True, metadata={"description": "What went wrong."})
    fields_ = fields.Dict(data_key="fields", required=True, metadata={
        "description": "Per-field messages (per item index for batches); `{}` when none."})
