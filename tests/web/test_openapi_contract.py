"""The OpenAPI document is complete and true: schemathesis generates requests from it, valid
and invalid, against the ASGI app with a valid token, and checks that nothing answers 500 and
every answer matches the documented status codes, content types and schemas."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from tests.harness import AVERY, REPORTER, REPORTER_2
from tests.web.conftest import Api

EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 15}
# No 500, and every answer as documented. Not `negative_data_rejection`: like most APIs this
# one ignores unknown query parameters and reads a Unix time as a time, on purpose.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    ignored_auth,
    unsupported_method,
]


def rightly_refused(case) -> bool:  # type: ignore[no-untyped-def]
    """Schema-valid values the API refuses, documented in words where JSON Schema has none:
    any string is a valid cursor to the schema, but only one the API gave out is a position;
    an incident time (and an on-call time) must lie between the years 1900 and 2999; a
    responder to exclude must be on the roster."""
    if case.query and "cursor" in case.query:
        return True
    at = (case.query or {}).get("at")
    if isinstance(at, str) and not "1900" <= at[:4] <= "2999":
        return True  # an on-call time, like an incident time, lies in the years 1900 to 2999
    body = case.body if isinstance(case.body, dict) else {}
    if "responder" in body:
        return True
    when = body.get("incident_at")
    return isinstance(when, str) and not "1900" <= when[:4] <= "2999"


@pytest.fixture
def chair_token(api: Api) -> str:
    hl = api.hl
    hl.answer(REPORTER, "Someone is harassing people at booth 12, Blake Rivera saw it")
    hl.answer(REPORTER_2, "another report")
    hl.run()
    hl.answer(AVERY, "ACK 1")
    hl.run()
    return api.token("chair", name="schemathesis")


def test_the_docs_page_renders(api: Api) -> None:
    page = api.hl.client.get("/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    document = api.hl.client.get("/openapi.json").json()
    assert "/api/cases/{n}/events/verify" in document["paths"]
    assert document["components"]["securitySchemes"]["token"]["scheme"] == "bearer"


def test_the_sms_webhooks_are_described_without_parameters(api: Api) -> None:
    # Their form is Twilio's, read and checked by signature inside the endpoint: the document
    # names no parameter and no body for them, whether FastAPI or the endpoint reads it.
    document = api.hl.client.get("/openapi.json").json()
    for path in ("/twilio/sms", "/twilio/sms/fallback"):
        operation = document["paths"][path]["post"]
        assert set(operation) == {"operationId", "summary", "tags", "responses"}
        assert operation["tags"] == ["twilio"]
        assert operation["responses"] == {"200": {"description": "Successful Response"}}


@pytest.mark.parametrize("mode", list(EXAMPLES), ids=lambda m: m.value)
def test_every_answer_matches_the_documented_schema(
    api: Api, chair_token: str, mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.hl.app)
    headers = {"Authorization": f"Bearer {chair_token}"}
    operations = [
        result.ok() for result in schema.include(path_regex="^/api/").get_all_operations()
    ]
    assert len(operations) == 13

    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES[mode],
            deadline=None,
            database=None,
            derandomize=True,  # the same examples on every run: CI never flakes on a new one
            suppress_health_check=list(HealthCheck),
        )
        def call(case) -> None:  # type: ignore[no-untyped-def]
            accepted = mode == GenerationMode.POSITIVE and not rightly_refused(case)
            checks = CHECKS + ([positive_data_acceptance] if accepted else [])
            case.call_and_validate(headers=headers, checks=checks)

        call()
