"""HTTP API for users, behind API Gateway (Lambda proxy, payload format 1.0 or 2.0).

POST /users            store a user (a new one, or a new version of one): 201 with the
                       stored user, and a "replaced" header when one existed; 400 bad input
GET /users/{email}     200 with the user, 404 if there is none
DELETE /users/{email}  204, 404 if there is none

Validation is a pure function (validate_user) and runs before anything is written: bad
input gets a 400 naming each bad field and why, and the table is left untouched. Nothing a
client can send produces a 500.
"""
from __future__ import annotations

import base64
import json
import os
import re
from urllib.parse import unquote

import boto3
import projection  # zipped with every function: the key separator is defined there
from botocore.exceptions import BotoCoreError, ClientError

USERS_TABLE = os.environ.get("USERS_TABLE", "users")
FIELDS = ("email", "state", "city", "zipcode")
# The rules are written out, not left to \s and str.strip(), whose idea of whitespace is
# wider in Python than in the OpenAPI document's (ECMA) patterns: openapi.yaml states the
# same rules, and the contract test holds the two together.
SPACE = " \t\n\r\f\v"  # what is trimmed around values
EMAIL = re.compile(r"[^@\x00-\x20\x7f]+@[^@\x00-\x20\x7f]+\.[^@\x00-\x20\x7f.]+")  # fullmatch: "$" lets "\n" by
ZIPCODE = re.compile(r"[0-9]{5}")
MAX_TEXT = 100

dynamodb = boto3.client("dynamodb")


def validate_user(payload) -> tuple[dict | None, dict]:
    """Returns (user, {}) for a valid payload, or (None, {field: reason}) naming every bad field."""
    if not isinstance(payload, dict):
        return None, {"body": "must be a JSON object with fields " + ", ".join(FIELDS)}
    errors = {}
    for name in sorted(set(payload) - set(FIELDS)):
        errors[name] = ("is set by the API (a stored user is active)" if name == "active" else
                        "unknown field (allowed: " + ", ".join(FIELDS) + ")")
    email = payload.get("email")
    if email is None:
        errors["email"] = "is required"
    elif not isinstance(email, str):
        errors["email"] = "must be a string"
    elif len(email) > 254 or not EMAIL.fullmatch(email.strip(SPACE)):
        errors["email"] = "must be a well-formed address like name@example.com"
    for name in ("state", "city"):
        value = payload.get(name)
        if value is None:
            errors[name] = "is required"
        elif not isinstance(value, str) or not value.strip(SPACE):
            errors[name] = "must be a non-empty string"
        elif len(value) > MAX_TEXT:
            errors[name] = f"must be at most {MAX_TEXT} characters"
        elif name == "city" and projection.SEPARATOR in value:
            errors[name] = f"must not contain {projection.SEPARATOR!r}"
    zipcode = payload.get("zipcode")
    if zipcode is None:
        errors["zipcode"] = "is required"
    elif not isinstance(zipcode, str) or not ZIPCODE.fullmatch(zipcode):
        errors["zipcode"] = "must be a string of exactly five digits, like \"11208\""
    if errors:
        return None, errors
    return {
        "email": email.strip(SPACE).lower(),  # one user per address, whatever its case
        "state": payload["state"].strip(SPACE),
        "city": payload["city"].strip(SPACE),
        "zipcode": zipcode,
        "active": True,
    }, {}


def to_item(user: dict) -> dict:
    item = {name: {"S": user[name]} for name in FIELDS}
    item["active"] = {"BOOL": user["active"]}
    return item


def from_item(item: dict) -> dict:
    user = {name: item[name]["S"] for name in FIELDS if "S" in item.get(name, {})}
    if "BOOL" in item.get("active", {}):
        user["active"] = item["active"]["BOOL"]
    return user


def response(status: int, body=None, headers=None) -> dict:
    kind = {} if body is None else {"Content-Type": "application/json"}  # a 204 has no body to describe
    return {"statusCode": status, "headers": {**kind, **(headers or {})}, "body": "" if body is None else json.dumps(body)}


def parse_request(event: dict) -> tuple[str, list, str | None]:
    """(method, path segments after 'users', raw body) from a 1.0 or 2.0 payload."""
    if "requestContext" in event and "http" in event["requestContext"]:  # payload 2.0
        method = event["requestContext"]["http"]["method"]
        path = event.get("rawPath") or event["requestContext"]["http"].get("path", "/")
    else:  # payload 1.0 (REST API)
        method = event.get("httpMethod", "")
        path = event.get("path") or "/"
    resource = event.get("resource") or event.get("routeKey", "").partition(" ")[2]
    email = (event.get("pathParameters") or {}).get("email")
    if resource.endswith("/users/{email}") and email is not None:
        rest = [unquote(email)]
    elif resource.endswith("/users"):
        rest = []
    else:  # no route information (a $default route, a test): read the path itself
        segments = [unquote(s) for s in path.split("/") if s]
        if segments[-1:] == ["users"]:
            rest = []
        elif segments[-2:-1] == ["users"]:
            rest = segments[-1:]
        else:
            rest = None
    body = event.get("body")
    if body is not None and event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8", errors="replace")
    return method.upper(), rest, body


def handle(method: str, rest, body, client) -> dict:
    if rest is None or len(rest) > 1:
        return response(404, {"message": "not found: the resources are /users and /users/{email}"})
    if not rest:
        if method != "POST":
            return response(405, {"message": f"{method} /users is not supported; use POST"}, {"Allow": "POST"})
        if not (body or "").strip():
            return response(400, {"message": "invalid request body", "errors": {
                "body": "is empty; send a JSON object with " + ", ".join(FIELDS)}})
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError) as error:  # RecursionError: "[[[[..." nested too deep
            return response(400, {"message": "invalid request body", "errors": {"body": f"is not valid JSON ({error})"}})
        user, errors = validate_user(payload)
        if errors:
            return response(400, {"message": "invalid user", "errors": errors})
        old = client.put_item(TableName=USERS_TABLE, Item=to_item(user), ReturnValues="ALL_OLD")
        return response(201, user, {"X-User-Replaced": "true" if old.get("Attributes") else "false"})
    email = rest[0].strip(SPACE).lower()
    if len(email) > 254 or not EMAIL.fullmatch(email):
        return response(400, {"message": "invalid request", "errors": {
            "email": "the path needs a well-formed address: /users/name@example.com"}})
    key = {"email": {"S": email}}
    if method == "GET":
        item = client.get_item(TableName=USERS_TABLE, Key=key, ConsistentRead=True).get("Item")
        return response(200, from_item(item)) if item else response(404, {"message": f"no user {email}"})
    if method == "DELETE":
        old = client.delete_item(TableName=USERS_TABLE, Key=key, ReturnValues="ALL_OLD")
        return response(204) if old.get("Attributes") else response(404, {"message": f"no user {email}"})
    return response(405, {"message": f"{method} /users/{{email}} is not supported"}, {"Allow": "GET, DELETE"})


def handler(event, context):
    method, rest, body = parse_request(event)
    try:
        return handle(method, rest, body, dynamodb)
    except (ClientError, BotoCoreError) as error:
        # The client did nothing wrong: say so, and that a retry may work.
        print(json.dumps({"users_api_error": str(error)}))
        return response(503, {"message": "the users table is unavailable; try again"})
