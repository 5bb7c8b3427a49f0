"""The live users API, fuzzed by schemathesis against openapi.yaml: whatever a client sends
- valid or not, one request or a sequence following the document's links (create -> get ->
patch -> get -> delete -> get) - the answer is one the document promises (never a 5xx), with
the status, content type, headers and body shape it declares; valid input is accepted and
invalid refused.

The CI run is bounded (SCHEMATHESIS_EXAMPLES, SCHEMATHESIS_SEQUENCES; `make fuzz` raises both)
and prints how many requests it sent.
"""
from __future__ import annotations

import os
import unicodedata

import projection
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.checks import positive_data_acceptance
from schemathesis.specs.openapi.checks import unsupported_method

from ddblab.core.settings import ROOT
from tests.integration.helpers import backend_of

schema = schemathesis.openapi.from_path(ROOT / "openapi.yaml")
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "25"))
SEQUENCES = int(os.environ.get("SCHEMATHESIS_SEQUENCES", "15"))
SENT = {"stateless": 0, "stateful": 0, "sequences": 0}
# DynamoDB's sort key limit, as documented: with the handler's own constant, a handler that
# refused keys well under it would have its refusals of valid users excused here.
SORT_KEY_MAX_BYTES = 1024
# The methods API Gateway's ANY covers: a request with another (TRACE) never reaches users_api,
# and API Gateway answers it 403 "Missing Authentication Token", as on AWS (LocalStack
# services/apigateway/next_gen/execute_api/handlers/resource_router.py). MiniStack routes it to
# the handler, which answers 405. test_api_routes checks both answers exactly.
ANY_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
GATEWAY = {}


@pytest.fixture(scope="module")
def base_url(live):
    GATEWAY["routes_any_only"] = backend_of(live.settings) == "localstack"
    yield live.api_url.rsplit("/users", 1)[0]
    print(f"\nschemathesis sent {SENT['stateless']} stateless requests and {SENT['stateful']} requests "
          f"in {SENT['sequences']} stateful sequences")


def beyond_the_document(case) -> list:
    """The checks a case cannot be held to, because JSON Schema cannot say why the API refuses it:
    a location key over DynamoDB's 1,024 bytes (a rule across two fields), a search with neither
    state nor city (at least one of two optional parameters), a `next` token the API never
    issued, a body email that differs from the path's (PUT, PATCH)."""
    def text(value):
        return value if isinstance(value, str) else ""

    body = case.body if isinstance(case.body, dict) else {}
    query = case.query or {}
    path_email = text((case.path_parameters or {}).get("email"))
    email, city = text(body.get("email")) or path_email, text(body.get("city"))
    key = f"{city}{projection.SEPARATOR}{email}".encode("utf-8", "surrogatepass")
    normal = lambda e: unicodedata.normalize("NFC", projection.strip_blank(e).lower())  # noqa: E731 - as the API compares addresses
    if (len(key) > SORT_KEY_MAX_BYTES - 8
            or (case.method == "GET" and case.path == "/users"
                and (not (query.get("state") or query.get("city")) or "next" in query))
            or (case.method in ("PUT", "PATCH") and text(body.get("email")) and path_email
                and normal(body["email"]) != normal(path_email))):
        return [positive_data_acceptance]
    if GATEWAY.get("routes_any_only") and case.method.upper() not in ANY_METHODS:
        return [unsupported_method]
    return []


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_users_api_conforms_to_openapi(case, base_url):
    SENT["stateless"] += 1
    case.call_and_validate(base_url=base_url, excluded_checks=beyond_the_document(case))


def empty_users_table(live) -> None:
    pages = live.dynamodb.get_paginator("scan").paginate(TableName=live.names.users, ProjectionExpression="email")
    for item in (item for page in pages for item in page["Items"]):
        live.dynamodb.delete_item(TableName=live.names.users, Key={"email": item["email"]})


def test_users_api_sequences_follow_links_and_conform(base_url, live):
    class Workflow(schema.as_state_machine()):
        def setup(self):
            # Each sequence starts from an empty users table: hypothesis replays and extends
            # sequences and needs the API to answer a replay as it did the first time (a POST
            # that was a 201 must not become a 409 because an earlier sequence left the user).
            # Every other test makes its own users, so emptying the shared test stack is safe.
            empty_users_table(live)
            SENT["sequences"] += 1

        def get_call_kwargs(self, case):
            SENT["stateful"] += 1
            return {"base_url": base_url}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, additional_checks=additional_checks,
                                   excluded_checks=beyond_the_document(case), transport_kwargs=kwargs or None,
                                   recorder=self.recorder)

    run_state_machine_as_test(Workflow, settings=settings(
        max_examples=SEQUENCES, stateful_step_count=6, deadline=None, suppress_health_check=list(HealthCheck)))
