"""schemathesis against /api/openapi.json: no 5xx, no answer that breaks the document (status,
content type, headers, body), no keyed call that answers without its key, and no request that
breaks the document accepted (schemathesis generates valid and invalid requests).

tests/api/test_answers_match_document.py checks chosen real answers (every error status
included) against the same document."""

import tempfile
from pathlib import Path

import pytest
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
from tests.conftest import close_app, make_app

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, ignored_auth,
          negative_data_rejection, missing_required_header, unsupported_method]


APPS = []


@pytest.fixture(scope="module", autouse=True)
def close_apps():
    """Close the apps' stores after the module (a real MongoDB's databases are dropped)."""
    yield
    for app in APPS:
        close_app(app)


def conformance_test(store_kind):
    """The schemathesis test of an app on a fresh store of this kind. The app is built at import:
    schemathesis needs it to read the document it generates tests from."""
    app = make_app(Path(tempfile.mkdtemp(prefix="prepmate-schemathesis-")), store_kind)
    APPS.append(app)
    key, _ = create_key(store.get(app), "schemathesis", ["ingest", "read", "admin"])
    headers = {"Authorization": f"Bearer {key}"}

    @schemathesis.openapi.from_wsgi("/api/openapi.json", app).parametrize()
    @settings(max_examples=30, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                     HealthCheck.function_scoped_fixture])
    def test(case):
        case.call_and_validate(headers=headers, checks=CHECKS)

    return test


# One test per store, each with its own app (mongomock on the Mongo adapter, or the real MongoDB
# named by TEST_MONGODB_URI).
test_api_conforms_to_its_document_on_sqlite = conformance_test("sqlite")
test_api_conforms_to_its_document_on_mongo = conformance_test("mongo")
