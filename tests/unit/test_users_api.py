"""users_api: validation (pure) and the handler through a fake DynamoDB client."""
import json
import re

import pytest
import users_api
from botocore.exceptions import ClientError, EndpointConnectionError

from ddblab.events import api_event_v1, api_event_v2

GOOD = {"email": "ada@example.com", "state": "NY", "city": "Brooklyn", "zipcode": "11208"}


# --- validate_user ----------------------------------------------------------------------

def test_validate_user_good_payload_normalised():
    user, errors = users_api.validate_user({**GOOD, "email": " Ada@Example.COM ", "city": " Brooklyn "})
    assert errors == {}
    assert user == {"email": "ada@example.com", "state": "NY", "city": "Brooklyn", "zipcode": "11208",
                    "active": True}


@pytest.mark.parametrize("field, bad, reason", [
    ("email", None, "is required"),
    ("email", 42, "must be a string"),
    ("email", "", "must be a well-formed address"),
    ("email", "ada.example.com", "must be a well-formed address"),
    ("email", "ada@example", "must be a well-formed address"),
    ("email", "a da@example.com", "must not contain U+0020 (whitespace)"),
    ("email", "a" * 250 + "@x.io", "must be a well-formed address"),
    ("state", None, "is required"),
    ("state", ["NY"], "must be a non-empty string"),
    ("state", "  ", "must be a non-empty string"),
    ("state", "N" * 101, "at most 100 characters"),
    ("city", None, "is required"),
    ("city", 7, "must be a non-empty string"),
    ("city", "", "must be a non-empty string"),
    ("city", "Brook#lyn", "must not contain '#'"),
    ("zipcode", None, "is required"),
    ("zipcode", 11208, "exactly five digits"),
    ("zipcode", "1234", "exactly five digits"),
    ("zipcode", "123456", "exactly five digits"),
    ("zipcode", "1234a", "exactly five digits"),
    ("zipcode", "١٢٣٤٥", "exactly five digits"),  # Arabic-Indic digits are not [0-9]
])
def test_validate_user_bad_field_named_with_reason(field, bad, reason):
    payload = {k: v for k, v in GOOD.items() if k != field}
    if bad is not None:
        payload[field] = bad
    user, errors = users_api.validate_user(payload)
    assert user is None
    assert list(errors) == [field]
    assert reason in errors[field]


def test_validate_user_zipcode_with_trailing_newline_rejected():
    user, errors = users_api.validate_user({**GOOD, "zipcode": "11208\n"})
    assert "zipcode" in errors and user is None


def test_validate_user_unknown_field_named():
    user, errors = users_api.validate_user({**GOOD, "active": False, "role": "admin"})
    assert user is None
    assert set(errors) == {"active", "role"}
    assert errors["role"].startswith("unknown field")


def test_validate_user_every_bad_field_named_at_once():
    _, errors = users_api.validate_user({"email": "nope", "state": "", "city": "a#b", "zipcode": 1, "x": 1})
    assert set(errors) == {"email", "state", "city", "zipcode", "x"}


@pytest.mark.parametrize("payload", [[GOOD], "ada@example.com", None, 3])
def test_validate_user_not_an_object_names_body(payload):
    user, errors = users_api.validate_user(payload)
    assert user is None and list(errors) == ["body"]


# --- handler ----------------------------------------------------------------------------

class FakeDynamoDB:
    """The few calls users_api makes, on a dict; or raises `error` on every call."""

    def __init__(self, items=None, error=None):
        self.items = dict(items or {})
        self.error = error
        self.calls = []
        self.pages = []  # answers to query, in order

    def _call(self, name, kwargs):
        self.calls.append((name, kwargs))
        assert kwargs["TableName"] == users_api.USERS_TABLE
        if self.error:
            raise self.error

    def put_item(self, **kwargs):
        self._call("put_item", kwargs)
        email = kwargs["Item"]["email"]["S"]
        old = self.items.get(email)
        if kwargs.get("ConditionExpression") == "attribute_not_exists(email)" and old:
            raise ClientError({"Error": {"Code": "ConditionalCheckFailedException", "Message": "exists"}}, "PutItem")
        self.items[email] = kwargs["Item"]
        return {"Attributes": old} if old and kwargs.get("ReturnValues") == "ALL_OLD" else {}

    def update_item(self, **kwargs):
        self._call("update_item", kwargs)
        email = kwargs["Key"]["email"]["S"]
        assert kwargs["ConditionExpression"] == "attribute_exists(email)"
        if email not in self.items:
            raise ClientError({"Error": {"Code": "ConditionalCheckFailedException", "Message": "gone"}}, "UpdateItem")
        names, values = kwargs["ExpressionAttributeNames"], kwargs["ExpressionAttributeValues"]
        for assignment in kwargs["UpdateExpression"].removeprefix("SET ").split(", "):
            name, value = assignment.split(" = ")
            self.items[email][names[name]] = values[value]
        return {"Attributes": self.items[email]} if kwargs.get("ReturnValues") == "ALL_NEW" else {}

    def query(self, **kwargs):
        self.calls.append(("query", kwargs))
        assert kwargs["TableName"] == users_api.TARGET_TABLE
        # What DynamoDB checks before it runs a query: every placeholder defined and every
        # definition used, values typed, and the condition on the keys of the table or index.
        names, values = kwargs["ExpressionAttributeNames"], kwargs["ExpressionAttributeValues"]
        assert set(re.findall(r"[#:]\w+", kwargs["KeyConditionExpression"])) == set(names) | set(values)
        assert all(list(value) == ["S"] for value in values.values()), values
        keys = {"by_city": {"city", "email"}}.get(kwargs.get("IndexName"), {"state", "city_email"})
        assert set(names.values()) <= keys, names
        return self.pages.pop(0)

    def get_item(self, **kwargs):
        # users_api reads a user right after it may have been written: an eventually consistent
        # read could miss that write (a PUT answered "unchanged", a PATCH merged into stale data)
        assert kwargs.get("ConsistentRead") is True, "read users with ConsistentRead=True"
        self._call("get_item", kwargs)
        item = self.items.get(kwargs["Key"]["email"]["S"])
        return {"Item": item} if item else {}

    def delete_item(self, **kwargs):
        self._call("delete_item", kwargs)
        old = self.items.pop(kwargs["Key"]["email"]["S"], None)
        return {"Attributes": old} if old and kwargs.get("ReturnValues") == "ALL_OLD" else {}


@pytest.fixture
def table(monkeypatch):
    fake = FakeDynamoDB()
    monkeypatch.setattr(users_api.routes, "dynamodb", fake)
    return fake


EVENTS = pytest.mark.parametrize("event", [api_event_v1, api_event_v2], ids=["payload1.0", "payload2.0"])


def call(event):
    answer = users_api.handler(event, None)
    assert answer["headers"]["Content-Type"] == "application/json"
    return answer["statusCode"], (json.loads(answer["body"]) if answer["body"] else None)


@EVENTS
def test_handler_post_new_user_201_and_written(table, event):
    status, body = call(event("POST", "/users", GOOD))
    assert status == 201
    assert body == {**GOOD, "active": True}
    assert table.items["ada@example.com"] == {
        "email": {"S": "ada@example.com"}, "state": {"S": "NY"}, "city": {"S": "Brooklyn"},
        "zipcode": {"S": "11208"}, "active": {"BOOL": True}}


@EVENTS
def test_handler_post_existing_user_409_nothing_changed(table, event):
    first = users_api.handler(event("POST", "/users", GOOD), None)
    assert first["statusCode"] == 201 and first["headers"]["Location"] == "users/ada@example.com"
    status, body = call(event("POST", "/users", {**GOOD, "email": "ADA@example.com", "city": "Queens"}))
    assert status == 409 and "PUT /users/{email}" in body["message"] and body["errors"] == {"email": "exists"}
    assert table.items["ada@example.com"]["city"] == {"S": "Brooklyn"}


@EVENTS
def test_handler_post_bad_user_400_nothing_written(table, event):
    status, body = call(event("POST", "/users", {**GOOD, "zipcode": "1234a", "city": "a#b"}))
    assert status == 400
    assert set(body["errors"]) == {"zipcode", "city"}
    assert table.calls == []


@EVENTS
@pytest.mark.parametrize("raw", ["{not json", "[1, 2"])
def test_handler_post_invalid_json_400_names_body(table, event, raw):
    status, body = call(event("POST", "/users", raw))
    assert status == 400 and "not valid JSON" in body["errors"]["body"]
    assert table.calls == []


@EVENTS
@pytest.mark.parametrize("raw", ["", "  \n"])
def test_handler_post_empty_body_400_says_empty(table, event, raw):
    status, body = call(event("POST", "/users", raw))
    assert status == 400 and body["errors"]["body"].startswith("is empty")
    assert table.calls == []


@EVENTS
def test_handler_post_without_body_400(table, event):
    status, body = call(event("POST", "/users", None))
    assert status == 400 and "body" in body["errors"]


@EVENTS
def test_handler_post_base64_body_decoded(table, event):
    status, _ = call(event("POST", "/users", GOOD, base64_body=True))
    assert status == 201 and "ada@example.com" in table.items


@EVENTS
def test_handler_post_deeply_nested_json_400_not_500(table, event):
    status, _ = call(event("POST", "/users", "[" * 16000))
    assert status == 400


@EVENTS
def test_handler_post_over_16_kib_413(table, event):
    status, body = call(event("POST", "/users", {**GOOD, "pad": "x" * 16384}))
    assert status == 413 and "16384" in body["message"]
    assert table.calls == []


@EVENTS
def test_handler_stage_prefixed_path_still_routed(table, event):
    status, _ = call(event("POST", "/dev/users", GOOD))
    assert status == 201


@EVENTS
@pytest.mark.parametrize("path", ["/", "/people", "/users/a@example.com/extra", "/userss"])
def test_handler_unknown_path_404(table, event, path):
    status, body = call(event("GET", path))
    assert status == 404 and "not found" in body["message"]
    assert table.calls == []


@EVENTS
@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "HEAD"])
def test_handler_wrong_method_on_collection_405(table, event, method):
    status, body = call(event(method, "/users", GOOD))
    answer = users_api.handler(event(method, "/users", GOOD), None)
    assert status == 405 and answer["headers"]["Allow"] == "GET, POST"
    assert "allowed: GET, POST" in body["message"] and "PUT /users/{email}" in body["message"]
    assert table.calls == []


@EVENTS
@pytest.mark.parametrize("method", ["POST", "HEAD", "OPTIONS"])
def test_handler_wrong_method_on_user_405(table, event, method):
    answer = users_api.handler(event(method, "/users/ada@example.com", GOOD), None)
    assert answer["statusCode"] == 405 and answer["headers"]["Allow"] == "DELETE, GET, PATCH, PUT"
    assert "POST /users" in json.loads(answer["body"])["message"]


@EVENTS
def test_handler_get_existing_user_200(table, event):
    call(event("POST", "/users", GOOD))
    status, body = call(event("GET", "/users/Ada%40Example.com"))
    assert status == 200 and body == {**GOOD, "active": True}
    assert table.calls[-1][1]["ConsistentRead"] is True


@EVENTS
def test_handler_get_unknown_user_404(table, event):
    status, body = call(event("GET", "/users/nobody@example.com"))
    assert status == 404 and "nobody@example.com" in body["message"]


@EVENTS
def test_handler_delete_existing_user_204_then_404(table, event):
    call(event("POST", "/users", GOOD))
    answer = users_api.handler(event("DELETE", "/users/ada@example.com"), None)
    assert answer["statusCode"] == 204 and answer["body"] == "" and "Content-Type" not in answer["headers"]
    assert table.items == {}
    status, _ = call(event("DELETE", "/users/ada@example.com"))
    assert status == 404


@EVENTS
@pytest.mark.parametrize("method, path, body", [
    ("POST", "/users", GOOD), ("GET", "/users/ada@example.com", None), ("DELETE", "/users/ada@example.com", None)])
@pytest.mark.parametrize("error", [
    ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "no table"}}, "PutItem"),
    ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}}, "PutItem"),
    EndpointConnectionError(endpoint_url="http://localhost:4566"),
], ids=["no-table", "throttled", "no-endpoint"])
def test_handler_table_unavailable_503_not_500(monkeypatch, capsys, event, method, path, body, error):
    monkeypatch.setattr(users_api.routes, "dynamodb", FakeDynamoDB(error=error))
    status, answer = call(event(method, path, body))
    assert (status, answer) == (503, {"message": "the users table is unavailable; try again"})
    # AND the function's log says what the table answered
    assert json.loads(capsys.readouterr().out) == {"users_api_error": str(error)}


@EVENTS
def test_handler_client_error_without_error_section_503(monkeypatch, event):
    monkeypatch.setattr(users_api.routes, "dynamodb", FakeDynamoDB(error=ClientError({}, "PutItem")))
    assert call(event("POST", "/users", GOOD))[0] == 503


@pytest.mark.parametrize(("method", "path", "body", "expected"), [
    ("POST", "/users", {**GOOD, "email": "grace@example.com"}, ("POST", "/users", 201)),
    ("GET", "/users/ada@example.com", None, ("GET", "/users/{email}", 200)),
    ("PATCH", "/users", None, ("PATCH", "/users", 405)),
    ("GET", "/users/nobody@example.com", None, ("GET", "/users/{email}", 404)),
])
def test_handler_logs_one_line_per_request_without_the_address(monkeypatch, capsys, method, path, body, expected):
    # GIVEN the API on a table holding ada@example.com
    table = FakeDynamoDB()
    monkeypatch.setattr(users_api.routes, "dynamodb", table)
    call(api_event_v1("PUT", "/users/ada@example.com", {k: v for k, v in GOOD.items() if k != "email"}))
    capsys.readouterr()
    # WHEN one request is answered
    call(api_event_v1(method, path, body))
    [line] = [json.loads(text) for text in capsys.readouterr().out.splitlines()]
    # THEN one line says what it was and how it ended, in the declared keys, and never the address
    assert list(line) == ["users_api"]
    entry = line["users_api"]
    assert sorted(entry) == ["method", "ms", "route", "status"]
    assert (entry["method"], entry["route"], entry["status"]) == expected
    assert entry["ms"] >= 0 and "@example.com" not in json.dumps(line)
