"""schemathesis against /api/openapi.json: no 5xx, no answer that breaks the document (status,
content type, headers, body), no keyed call that answers without its key, and no request that
breaks the document accepted (schemathesis generates valid and invalid requests).

tests/api/test_answers_match_document.py checks chosen real answers (every error status
included) against the same document."""

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from app.accounts.keys import create_key
from app.extensions import store
from tests.conftest import make_app

# Built at import: schemathesis needs the app to read the document it generates tests from.
APP = make_app(Path(tempfile.mkdtemp(prefix="prepmate-schemathesis-")))
KEY, _ = create_key(store.get(APP), "schemathesis", ["ingest", "read", "admin"])
HEADERS = {"Authorization": f"Bearer {KEY}"}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, ignored_auth,
          negative_data_rejection, missing_required_header, unsupported_method]

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
def test_api_conforms_to_its_document(case):
    case.call_and_validate(headers=HEADERS, checks=CHECKS)
