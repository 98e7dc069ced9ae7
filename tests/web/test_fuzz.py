"""Property-based fuzzing of the whole API from its own OpenAPI schema (schemathesis).

Every generated request — valid or not — must get an answer that is not a 5xx, that
matches the documented status codes, content types and response schemas, and invalid
requests must be refused.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from perpmargin.web import create_app

from .conftest import TEST_LIMITS

_DB = Path(tempfile.mkdtemp(prefix="perpmargin-fuzz-")) / "fuzz.db"
app = create_app(_DB, TEST_LIMITS, hosts=["testserver"])  # the Host schemathesis sends
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_server_errors(case: schemathesis.Case) -> None:
    response = case.call()
    assert response.status_code < 500, (case.method, case.path, response.text[:500])
    # schema-valid is not domain-valid (an unknown venue name is a well-formed string),
    # so a 422 for a schema-valid request is right here; everything else is checked
    case.validate_response(response, excluded_checks=[checks.positive_data_acceptance])
