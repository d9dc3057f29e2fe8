"""marshmallow schemas of the API: one base schema, the telemetry schemas, the error shape."""
