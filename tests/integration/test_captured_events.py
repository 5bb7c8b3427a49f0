"""The captured events in tests/fixtures (what the factories are checked against) are still
what the emulator delivers: captured again, live, and compared shape for shape."""
from __future__ import annotations

import json

import pytest

from tests.capture import capture, fixtures, shape
from tests.integration.helpers import backend_of, localstack_in_docker


def test_stored_capture_has_the_shape_of_live_events(own):
    if localstack_in_docker(own.settings):
        pytest.skip("captures are kept for MiniStack and LocalStack on the host (tests/fixtures); LocalStack in "
                    "Docker differs in detail (its DynamoDB's records), and no capture of it could be made here")
    STREAM_FIXTURE, API_FIXTURE = fixtures("ministack" if backend_of(own.settings) == "ministack" else "localstack-host")
    # WHEN the stream records and API events are captured again from the running emulator
    records, api = capture(own)
    stored_records, stored_api = json.loads(STREAM_FIXTURE.read_text()), json.loads(API_FIXTURE.read_text())
    # THEN each stored event has the live one's keys and leaf types at every level, and the
    # same change or route (else: python -m tests.capture rewrites the fixtures)
    assert set(records) == set(stored_records) and set(api) == set(stored_api)
    for name, record in records.items():
        assert shape(record) == shape(stored_records[name]), name
        assert {k: v for k, v in record["dynamodb"].items() if k in ("Keys", "NewImage", "OldImage")} == \
            {k: v for k, v in stored_records[name]["dynamodb"].items() if k in ("Keys", "NewImage", "OldImage")}, name
    for route, event in api.items():
        assert shape(event) == shape(stored_api[route]), route
        assert (event["resource"], event["pathParameters"], event["queryStringParameters"]) == \
            (stored_api[route]["resource"], stored_api[route]["pathParameters"], stored_api[route]["queryStringParameters"])
