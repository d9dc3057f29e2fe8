"""The OpenAPI document (3.1) and the interactive docs (Swagger UI 5 from static/vendor/)."""

import json
import re

PATHS = ["/api/telemetry/track", "/api/telemetry/batch", "/api/telemetry/batch/{batch_id}",
         "/api/telemetry/status", "/api/health"]


def test_the_document_describes_every_endpoint_and_the_error_shape(client):
    spec = client.get("/api/openapi.json").json
    assert spec["openapi"] == "3.1.0"
    for path in PATHS:
        assert path in spec["paths"], path
    error = spec["components"]["schemas"]["Error"]
    assert set(error["properties"]) == set(error["required"]) == {"error", "message", "fields"}
    batch_post = spec["paths"]["/api/telemetry/batch"]["post"]
    assert {"202", "400", "409", "413", "429"} <= set(batch_post["responses"])
    assert "422" not in batch_post["responses"]
    assert batch_post["security"]
    assert "32768 bytes" in spec["info"]["description"]
    assert {"EventItem", "RecordItem"} <= set(spec["components"]["schemas"])


def test_docs_page_loads_nothing_from_another_host(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/static/vendor/swagger-ui/") for s in sources), sources
    for source in sources:
        with client.get(source) as asset:
            assert asset.status_code == 200, source


def test_the_document_is_json_schema_2020_12_without_openapi_3_0_spellings(client):
    """3.1 writes null into the type list; `nullable` and boolean exclusive bounds are 3.0."""
    spec = client.get("/api/openapi.json").json
    text = json.dumps(spec)
    assert '"nullable"' not in text
    conflict = spec["components"]["schemas"]["Conflict"]["properties"]
    assert conflict["resolvedAt"]["type"] == ["string", "null"]
    assert conflict["resolution"]["enum"] == ["server", "client", "merged", None]
    wait = spec["paths"]["/api/telemetry/sync"]["post"]["parameters"][0]["schema"]
    assert wait == {"type": "number", "exclusiveMinimum": 0, "maximum": 20.0}


def test_the_document_declares_what_the_service_enforces(client, app):
    spec = client.get("/api/openapi.json").json
    schemas = spec["components"]["schemas"]
    items = schemas["Batch"]["properties"]["items"]
    assert (items["minItems"], items["maxItems"]) == (1, app.config["MAX_BATCH_ITEMS"])
    assert schemas["Resolve"]["if"]["properties"]["resolution"] == {"const": "merged"}
    assert schemas["Resolve"]["then"]["required"] == ["data"]
    keys = schemas["StorableObject"]["propertyNames"]["pattern"]
    assert schemas["StorableValue"]["propertyNames"]["pattern"] == keys
    assert schemas["EventItem"]["properties"]["eventData"] == {
        "$ref": "#/components/schemas/StorableObject",
        "description": schemas["EventItem"]["properties"]["eventData"]["description"]}
    for name in ("seq", "priority"):
        assert schemas["EventItem"]["properties"][name]["type"] == "integer"
    assert schemas["RecordItem"]["properties"]["baseVersion"]["type"] == "integer"
    completed = [b for b in schemas["Track"]["anyOf"]
                 if b["properties"]["eventType"].get("const") == "interview_completed"]
    assert completed[0]["required"] == ["eventData"]


def test_strict_event_types_narrow_the_documented_event_types(tmp_path):
    from tests.conftest import make_app

    strict = make_app(tmp_path, STRICT_EVENT_TYPES=True)
    spec = strict.test_client().get("/api/openapi.json").json
    event_type = spec["components"]["schemas"]["Track"]["properties"]["eventType"]
    assert "interview_completed" in event_type["enum"]


def test_links_chain_the_calls_that_name_what_they_made(client):
    spec = client.get("/api/openapi.json").json
    operation_ids = {op["operationId"] for ops in spec["paths"].values()
                     for method, op in ops.items() if method != "parameters"}

    def links(path, method, status):
        return spec["paths"][path][method]["responses"][status]["links"]

    chains = [links("/api/telemetry/batch", "post", "202"),
              links("/api/telemetry/sync", "post", "202"),
              links("/api/telemetry/records", "get", "200"),
              links("/api/telemetry/conflicts", "get", "200"),
              links("/api/telemetry/conflicts/{conflict_id}", "get", "200")]
    targets = {link["operationId"] for chain in chains for link in chain.values()}
    assert targets == {"getBatch", "getSyncRun", "getRecord", "getConflict", "resolveConflict"}
    assert targets <= operation_ids
    assert links("/api/telemetry/batch", "post", "202")["BatchStatus"]["parameters"] == {
        "batch_id": "$response.body#/batchId"}


def test_every_answer_of_every_operation_declares_its_request_id(client):
    document = client.get("/api/openapi.json").get_json()
    components = document["components"]
    assert components["headers"]["RequestId"]["schema"]["pattern"] == "^[A-Za-z0-9_.:-]{1,128}$"
    answers = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            for status, answer in operation["responses"].items():
                if "$ref" in answer:
                    answer = components["responses"][answer["$ref"].rsplit("/", 1)[1]]
                assert answer["headers"]["X-Request-ID"] == {
                    "$ref": "#/components/headers/RequestId"}, (path, method, status)
                answers += 1
    assert answers > 50
    sent = client.get("/api/health", headers={"X-Request-ID": "probe:1"})
    assert sent.headers["X-Request-ID"] == "probe:1"
