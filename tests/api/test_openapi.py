"""The OpenAPI document and the interactive docs, served locally."""

import re

PATHS = ["/api/telemetry/track", "/api/telemetry/batch", "/api/telemetry/batch/{batch_id}",
         "/api/telemetry/status", "/api/health"]


def test_the_document_describes_every_endpoint_and_the_error_shape(client):
    spec = client.get("/api/openapi.json").json
    assert spec["openapi"].startswith("3.")
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
    assert sources and all(s.startswith("/") for s in sources), sources
    for source in sources:
        with client.get(source) as asset:
            assert asset.status_code == 200, source
