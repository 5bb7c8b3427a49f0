"""The live users API, fuzzed by schemathesis against openapi.yaml: whatever a client sends
- valid or not - the answer is one the document promises (never a 5xx), with the status,
content type and body shape it declares; valid input is accepted and invalid refused."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from ddblab.core.settings import ROOT

schema = schemathesis.openapi.from_path(ROOT / "openapi.yaml")


@pytest.fixture(scope="module")
def base_url(live):
    return live.api_url.rsplit("/users", 1)[0]


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_users_api_conforms_to_openapi(case, base_url):
    case.call_and_validate(base_url=base_url)
