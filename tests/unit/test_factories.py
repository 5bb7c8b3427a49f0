"""The factories build the events MiniStack really delivers: checked against a capture of
each kind (tests/capture.py; tests/integration/test_captured_events.py keeps it current)."""
import base64
import json

import pytest

from ddblab.events import api_event_v1, api_event_v2, stream_record, user_image
from tests.capture import API_FIXTURE, STREAM_FIXTURE, shape

STREAM = json.loads(STREAM_FIXTURE.read_text())  # {eventName: record}
API = json.loads(API_FIXTURE.read_text())  # {route: event}


# The capture: ada@example.com put in Brooklyn, moved to Queens, deleted (tests/capture.py).
BROOKLYN = user_image("ada@example.com", "NY", "Brooklyn")
QUEENS = user_image("ada@example.com", "NY", "Queens")
CHANGES = {"INSERT": {"new": BROOKLYN}, "MODIFY": {"new": QUEENS, "old": BROOKLYN}, "REMOVE": {"old": QUEENS}}


@pytest.mark.parametrize("event_name", sorted(CHANGES))
def test_stream_record_matches_the_captured_record(event_name):
    # GIVEN the record MiniStack delivered for that change
    captured = STREAM[event_name]
    # WHEN the factory builds the same change
    built = stream_record(event_name, **CHANGES[event_name])
    # THEN every level has the same keys and leaf types (an INSERT has no OldImage, a REMOVE
    # no NewImage), and the change itself is the same
    assert shape(built) == shape(captured)
    for field in ("Keys", "NewImage", "OldImage", "StreamViewType"):
        assert built["dynamodb"].get(field) == captured["dynamodb"].get(field), field
    assert (built["eventSource"], built["eventVersion"], built["awsRegion"]) == \
        (captured["eventSource"], captured["eventVersion"], captured["awsRegion"])


def test_stream_record_sequence_numbers_increase_in_stream_order():
    first = stream_record("INSERT", new=user_image("a@example.com", "NY", "Queens"))
    second = stream_record("INSERT", new=user_image("b@example.com", "NY", "Queens"))
    assert int(second["dynamodb"]["SequenceNumber"]) > int(first["dynamodb"]["SequenceNumber"])


# What the handlers read of an API event: the factory must place each where the API did.
ROUTED = ("resource", "path", "httpMethod", "pathParameters", "queryStringParameters",
          "multiValueQueryStringParameters", "isBase64Encoded")


@pytest.mark.parametrize("route", sorted(API))
def test_api_event_v1_matches_the_captured_event(route):
    # GIVEN the event MiniStack's REST API proxy delivered for a call of that route
    captured = API[route]
    query = f"?{'&'.join(f'{k}={v}' for k, v in captured['queryStringParameters'].items())}" \
        if captured["queryStringParameters"] else ""
    body = json.loads(captured["body"]) if captured["body"] else None
    # WHEN the factory builds the same request
    built = api_event_v1(captured["httpMethod"], captured["path"] + query, body)
    # THEN every level has the same keys and leaf types, the route is resolved the same way
    # (resource, pathParameters, the query string), and the body is the same JSON
    assert shape(built) == shape(captured)
    assert {k: built[k] for k in ROUTED} == {k: captured[k] for k in ROUTED}
    assert built["requestContext"]["resourcePath"] == captured["requestContext"]["resourcePath"]
    assert built["requestContext"]["path"] == captured["requestContext"]["path"]
    assert (json.loads(built["body"]) if built["body"] else None) == body


def test_api_event_v1_base64_body_is_what_api_gateway_sends_for_binary():
    event = api_event_v1("POST", "/users", {"email": "a@example.com"}, base64_body=True)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b'{"email": "a@example.com"}'


def test_api_event_v2_places_method_path_and_query_as_aws_documents():
    # GIVEN AWS's documented payload 2.0 example (API Gateway developer guide, "Working with AWS
    # Lambda proxy integrations for HTTP APIs"): POST /my/path?parameter1=value1&parameter1=value2&parameter2=value
    # WHEN the factory builds that request
    event = api_event_v2("POST", "/my/path?parameter1=value1&parameter1=value2&parameter2=value",
                         {"message": "hello world", "username": "tom"}, base64_body=True)
    # THEN each part is where, and as, the documented event has it: a repeated parameter
    # joined with a comma, the method and path under requestContext.http
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/my/path"
    assert event["rawQueryString"] == "parameter1=value1&parameter1=value2&parameter2=value"
    assert event["queryStringParameters"] == {"parameter1": "value1,value2", "parameter2": "value"}
    assert (event["requestContext"]["http"]["method"], event["requestContext"]["http"]["path"]) == ("POST", "/my/path")
    assert json.loads(base64.b64decode(event["body"])) == {"message": "hello world", "username": "tom"}
    assert "httpMethod" not in event and "path" not in event
