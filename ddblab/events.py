"""Event factories: stream records and API Gateway events in the shape Lambda receives.

Part of the package so that your own tests can build events too (`from ddblab.events
import stream_record, user_image`), and `ddblab event` prints them. tests/fixtures holds
one real event of each kind captured from MiniStack; tests/unit/test_factories.py proves
these factories build the same structure.
"""
from __future__ import annotations

import base64
import itertools
import json
import uuid
from urllib.parse import parse_qs, urlsplit

from ddblab.core.settings import DEFAULT_PORT, EMULATOR_ACCOUNT

REGION = "us-east-1"
ACCOUNT = EMULATOR_ACCOUNT
STREAM_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/users/stream/2026-01-01T00:00:00.000"
_sequence = itertools.count(1)


def _attribute(value):
    """A str becomes {"S": value}; a dict is taken as DynamoDB JSON already (wrong types on purpose)."""
    return {"S": value} if isinstance(value, str) else value


def user_image(email: str, state, city, zipcode="11208", **extra) -> dict:
    """A users image in DynamoDB JSON. state/city/zipcode: str, a DynamoDB-JSON value, or None
    to leave the attribute out. extra: further attributes, already in DynamoDB JSON."""
    image = {"email": {"S": email}}
    for name, value in (("state", state), ("city", city), ("zipcode", zipcode)):
        if value is not None:
            image[name] = _attribute(value)
    image.update(extra)
    return image


def stream_record(event_name: str, new: dict | None = None, old: dict | None = None, seq=None,
                  stream_arn: str = STREAM_ARN) -> dict:
    """One DynamoDB stream record (NEW_AND_OLD_IMAGES). As on AWS, an INSERT has no OldImage
    and a REMOVE no NewImage: pass only the images the event carries."""
    image = new or old or {}
    sequence = next(_sequence) if seq is None else seq
    change = {
        "ApproximateCreationDateTime": 1767225600 + int(sequence) % 100000,
        "Keys": {"email": image.get("email", {"S": "nobody@example.com"})},
        "SequenceNumber": str(sequence).zfill(30),
        "SizeBytes": len(json.dumps([new, old])),
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if old is not None:
        change["OldImage"] = old
    if new is not None:
        change["NewImage"] = new
    return {
        "eventID": uuid.uuid4().hex,
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": change,
        "eventSourceARN": stream_arn,
    }


def change_record(before: dict | None, after: dict | None, **options) -> dict:
    """The record a write from `before` to `after` produces (None: no item): INSERT, MODIFY
    or REMOVE, with the images that event carries."""
    if before is None and after is None:
        raise ValueError("a change needs an item before or after it")
    name = "INSERT" if before is None else ("REMOVE" if after is None else "MODIFY")
    return stream_record(name, new=after, old=before, **options)


def stream_event(*records) -> dict:
    return {"Records": list(records)}


def _body(body, base64_body: bool):
    if body is None:
        return None
    text = body if isinstance(body, str) else json.dumps(body)
    return base64.b64encode(text.encode()).decode() if base64_body else text


_HEADERS = {"content-type": "application/json", "host": f"127.0.0.1:{DEFAULT_PORT}", "user-agent": "pytest"}


def _split(path: str) -> tuple:
    """(path, raw query, {name: [values]}) of a request path that may carry ?a=1&b=2."""
    parts = urlsplit(path)
    return parts.path, parts.query, parse_qs(parts.query, keep_blank_values=True)


def api_event_v1(method: str, path: str, body=None, *, base64_body: bool = False, stage: str = "dev") -> dict:
    """API Gateway REST API (Lambda proxy, payload 1.0) event. body: dict/list (sent as
    JSON), str (sent as is) or None; path may carry a query string (?state=Ohio)."""
    path, _, query = _split(path)
    # API Gateway fills resource and pathParameters from the route that matched (the stack
    # declares /users and /users/{email}); any other path gets its own resource.
    parts = [p for p in path.split("/") if p]
    proxy = parts[1] if len(parts) == 2 and parts[0] == "users" else None
    resource = "/users/{email}" if proxy else ("/users" if parts == ["users"] else path)
    request_id = str(uuid.uuid4())
    return {
        "version": "1.0",
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": dict(_HEADERS),
        "multiValueHeaders": {name: [value] for name, value in _HEADERS.items()},
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": {"email": proxy} if proxy else None,
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT,
            "resourceId": "abc123",
            "stage": stage,
            "requestId": request_id,
            "extendedRequestId": request_id,
            "requestTime": "01/Jan/2026:00:00:00 +0000",
            "requestTimeEpoch": 1767225600000,
            "path": f"/{stage}{path}",
            "protocol": "HTTP/1.1",
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "pytest"},
            "resourcePath": resource,
            "httpMethod": method,
            "apiId": "api0001",
        },
        "body": _body(body, base64_body),
        "isBase64Encoded": base64_body,
    }


def api_event_v2(method: str, path: str, body=None, *, base64_body: bool = False, stage: str = "$default") -> dict:
    """API Gateway HTTP API (payload 2.0) event, as documented by AWS (no capture: the
    project deploys a REST API, see DESIGN.md decision 5)."""
    path, raw_query, query = _split(path)
    event = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": dict(_HEADERS),
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "api0002",
            "domainName": "api0002.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "api0002",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "pytest"},
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": stage,
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 1767225600000,
        },
        "isBase64Encoded": base64_body,
    }
    if query:
        event["queryStringParameters"] = {k: ",".join(v) for k, v in query.items()}
    if body is not None:
        event["body"] = _body(body, base64_body)
    return event
