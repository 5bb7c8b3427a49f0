"""The factories build the same structure as the events MiniStack really delivers."""
import json
from pathlib import Path

import pytest

from ddblab.events import api_event_v1, api_event_v2, stream_record, user_image

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

# Free-form maps whose keys are data (header names), not structure.
FREE_FORM = {"headers", "multiValueHeaders"}


def shape(value, name=None):
    """Keys at every level, and the JSON type of every leaf."""
    if isinstance(value, dict):
        if name in FREE_FORM:
            return "map"
        return {key: shape(inner, key) for key, inner in value.items()}
    if isinstance(value, list):
        return [shape(inner) for inner in value]
    if isinstance(value, bool) or value is None:
        return repr(value) if value is None else "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def load(name):
    return json.loads((FIXTURES / name).read_text())


def test_stream_record_modify_matches_captured_ministack_record():
    # GIVEN the MODIFY record MiniStack delivered for a user moving from Brooklyn to Queens
    captured = load("stream_event_ministack.json")["Records"][0]
    # WHEN the factory builds the same change
    built = stream_record(
        "MODIFY",
        new=user_image("ada@example.com", "NY", "Queens"),
        old=user_image("ada@example.com", "NY", "Brooklyn"),
    )
    # THEN every level has the same keys and leaf types
    assert shape(built) == shape(captured)


def test_stream_record_insert_has_no_old_image_like_a_real_insert():
    built = stream_record("INSERT", new=user_image("ada@example.com", "NY", "Queens"))
    captured = load("stream_event_ministack.json")["Records"][0]
    expected = set(captured["dynamodb"]) - {"OldImage"}
    assert set(built["dynamodb"]) == expected
    assert built["dynamodb"]["Keys"] == {"email": {"S": "ada@example.com"}}


def test_stream_record_remove_has_no_new_image():
    built = stream_record("REMOVE", old=user_image("ada@example.com", "NY", "Queens"))
    assert "NewImage" not in built["dynamodb"]
    assert built["dynamodb"]["OldImage"]["city"] == {"S": "Queens"}


def test_stream_record_sequence_numbers_increase_in_stream_order():
    first = stream_record("INSERT", new=user_image("a@example.com", "NY", "Queens"))
    second = stream_record("INSERT", new=user_image("b@example.com", "NY", "Queens"))
    assert int(second["dynamodb"]["SequenceNumber"]) > int(first["dynamodb"]["SequenceNumber"])


def test_api_event_v1_post_users_matches_captured_ministack_event():
    # GIVEN the event MiniStack's REST API proxy delivered for POST /users
    captured = load("api_event_v1_ministack.json")
    # WHEN the factory builds the same request
    built = api_event_v1("POST", "/users", json.loads(captured["body"]))
    # THEN every level has the same keys and leaf types
    assert shape(built) == shape(captured)
    assert json.loads(built["body"]) == json.loads(captured["body"])


@pytest.mark.parametrize("factory", [api_event_v1, api_event_v2])
def test_api_event_base64_body_decodes_to_json(factory):
    import base64

    event = factory("POST", "/users", {"email": "a@example.com"}, base64_body=True)
    assert event["isBase64Encoded"] is True
    assert json.loads(base64.b64decode(event["body"])) == {"email": "a@example.com"}


def test_api_event_v2_carries_method_and_path_where_payload_2_puts_them():
    event = api_event_v2("GET", "/users/a@example.com")
    assert event["version"] == "2.0"
    assert event["requestContext"]["http"]["method"] == "GET"
    assert event["rawPath"] == "/users/a@example.com"
    assert "httpMethod" not in event and "body" not in event
