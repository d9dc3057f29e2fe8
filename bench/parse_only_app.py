"""The ceiling bench/ingest --ceiling measures: an endpoint that only reads and parses each batch,
served the same way (no validation, no store). Nothing a real ingest endpoint does costs less."""

import orjson
from flask import Flask, request

app = Flask(__name__)


@app.post("/api/telemetry/batch")
def batch():
    body = orjson.loads(request.get_data())
    return {"accepted": len(body["items"])}, 202


@app.get("/api/health")
def health():
    return {"status": "healthy"}
