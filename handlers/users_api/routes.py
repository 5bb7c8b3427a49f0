"""The routes: the only code that talks to DynamoDB, and the function's handler."""
from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

import boto3
import environment
import log_lines
import projection
from botocore.exceptions import BotoCoreError, ClientError

from .fields import check_email, from_item, to_item, validate_patch, validate_user
from .gateway import Refused, Request, not_allowed, parse_request, read_json, response
from .paging import decode_token, encode_token, parse_query

USERS_TABLE, TARGET_TABLE = environment.require(environment.USERS_TABLE, environment.TARGET_TABLE)
COLLECTION_METHODS = ("GET", "POST")
USER_METHODS = ("DELETE", "GET", "PATCH", "PUT")


def valid_user(payload, message: str) -> dict:
    """The valid user, or Refused (400, message) naming every bad field."""
    user, errors = validate_user(payload)
    if errors or user is None:
        raise Refused(400, message, errors)
    return user


def path_email(rest: list) -> str:
    email, why = check_email(rest[0])
    if why or email is None:
        raise Refused(400, "invalid request", {"email": f"in the path {why}: /users/name@example.com"})
    return email


def create(request: Request, client) -> dict:
    user = valid_user(read_json(request), "invalid user")
    try:
        client.put_item(TableName=USERS_TABLE, Item=to_item(user), ConditionExpression="attribute_not_exists(email)")
    except ClientError as error:
        if projection.error_code(error) != "ConditionalCheckFailedException":
            raise
        raise Refused(409, f"user {user['email']} exists; to replace it use PUT /users/{{email}}, "
                           "to change some fields PATCH /users/{email}", {"email": "exists"}) from None
    # Relative to the request URL (<base>/users), so it resolves on AWS and on both emulators' path form.
    return response(201, user, {"Location": "users/" + quote(user["email"], safe="@")})


def replace(request: Request, email: str, client) -> dict:
    payload = read_json(request)
    if isinstance(payload, dict) and "email" in payload:
        given, why = check_email(payload["email"])
        if not why and given != email:
            raise Refused(400, "invalid user", {"email": f"must match the path ({email}), or be left out"})
    user = valid_user({"email": email, **payload} if isinstance(payload, dict) else payload, "invalid user")
    item = to_item(user)
    key = {"email": item["email"]}
    if client.get_item(TableName=USERS_TABLE, Key=key, ConsistentRead=True).get("Item") == item:
        return response(200, user, {"X-User-Changed": "false"})  # no write, no stream record
    old = client.put_item(TableName=USERS_TABLE, Item=item, ReturnValues="ALL_OLD").get("Attributes")
    if not old:
        return response(201, user, {"Location": quote(user["email"], safe="@"), "X-User-Changed": "true"})
    return response(200, user, {"X-User-Changed": "true"})


def change(request: Request, email: str, client) -> dict:
    changes, errors = validate_patch(read_json(request, ("application/json", "application/merge-patch+json")), email)
    if errors or changes is None:
        raise Refused(400, "invalid change", errors)
    key = {"email": {"S": email}}
    stored = client.get_item(TableName=USERS_TABLE, Key=key, ConsistentRead=True).get("Item")
    if not stored:
        raise Refused(404, f"no user {email}; to create one use PUT /users/{{email}} or POST /users")
    merged = valid_user({**{k: v for k, v in from_item(stored).items() if k != "active"}, **changes},
                        "invalid user once changed")
    if not changes:
        return response(200, from_item(stored))
    names = {f"#{name}": name for name in [*changes, "active"]}
    values = {f":{name}": {"S": merged[name]} for name in changes}
    values[":active"] = {"BOOL": True}
    try:
        new = client.update_item(
            TableName=USERS_TABLE, Key=key, ReturnValues="ALL_NEW",
            UpdateExpression="SET " + ", ".join(f"#{name} = :{name}" for name in [*changes, "active"]),
            # A delete between our read and this write must not bring the user back.
            ConditionExpression="attribute_exists(email)",
            ExpressionAttributeNames=names, ExpressionAttributeValues=values)["Attributes"]
    except ClientError as error:
        if projection.error_code(error) != "ConditionalCheckFailedException":
            raise
        raise Refused(404, f"no user {email} (deleted meanwhile)") from None
    return response(200, from_item(new))


def find(request: Request, client) -> dict:
    query, token = parse_query(request)
    kwargs = {"TableName": TARGET_TABLE, "Limit": query.limit}
    if query.by == "city":
        kwargs.update(IndexName=projection.CITY_INDEX, KeyConditionExpression="#c = :c",
                      ExpressionAttributeNames={"#c": "city"}, ExpressionAttributeValues={":c": {"S": query.city}})
    elif query.by == "state":
        kwargs.update(KeyConditionExpression="#s = :s", ExpressionAttributeNames={"#s": projection.PARTITION_KEY},
                      ExpressionAttributeValues={":s": {"S": query.state}})
    else:
        kwargs.update(KeyConditionExpression="#s = :s AND begins_with(#k, :k)",
                      ExpressionAttributeNames={"#s": projection.PARTITION_KEY, "#k": projection.SORT_KEY},
                      ExpressionAttributeValues={":s": {"S": query.state},
                                                 ":k": {"S": f"{query.city}{projection.SEPARATOR}"}})
    if token is not None:
        kwargs["ExclusiveStartKey"] = decode_token(query, token)
    page = client.query(**kwargs)
    body: dict[str, Any] = {"users": [from_item(item, ("email", "state", "city")) for item in page.get("Items", [])]}
    if page.get("LastEvaluatedKey"):
        body["next"] = encode_token(query, page["LastEvaluatedKey"])
    return response(200, body)


def route(request: Request, client) -> dict:
    if request.rest is None:  # parse_request finds at most one segment after "users"
        raise Refused(404, "not found: the resources are /users and /users/{email}")
    if not request.rest:
        return route_collection(request, client)
    if request.method not in USER_METHODS:
        raise not_allowed(request.method, USER_METHODS, "/users/{email}", "To create a user use POST /users.")
    return route_user(request, path_email(request.rest), client)


def route_collection(request: Request, client) -> dict:
    if request.method == "POST":
        return create(request, client)
    if request.method == "GET":
        return find(request, client)
    raise not_allowed(request.method, COLLECTION_METHODS, "/users",
                      "To create or replace one user use PUT /users/{email}; to change or delete one, "
                      "PATCH or DELETE /users/{email}.")


def route_user(request: Request, email: str, client) -> dict:
    if request.method == "PUT":
        return replace(request, email, client)
    if request.method == "PATCH":
        return change(request, email, client)
    if request.method == "GET":
        return read(email, client)
    return delete(email, client)


def read(email: str, client) -> dict:
    item = client.get_item(TableName=USERS_TABLE, Key={"email": {"S": email}}, ConsistentRead=True).get("Item")
    if not item:
        raise Refused(404, f"no user {email}")
    return response(200, from_item(item))


def delete(email: str, client) -> dict:
    old = client.delete_item(TableName=USERS_TABLE, Key={"email": {"S": email}}, ReturnValues="ALL_OLD")
    if not old.get("Attributes"):
        raise Refused(404, f"no user {email}")
    return response(204)


dynamodb = boto3.client("dynamodb")


def handler(event, context):
    started = time.perf_counter()
    request = None
    try:
        request = parse_request(event)
        answer = route(request, dynamodb)
    except Refused as refused:
        answer = refused.response()
    except (ClientError, BotoCoreError) as error:
        # The client did nothing wrong: say so, and that a retry may work.
        print(json.dumps({log_lines.USERS_API_ERROR: str(error)}))
        return response(503, {"message": "the users table is unavailable; try again"})
    print(json.dumps({log_lines.USERS_API: access_line(request, answer, started)}))
    return answer


def access_line(request: Request | None, answer: dict, started: float) -> dict:
    """What one request did, for the function's log: no address, no body, no query."""
    route_name = None if request is None or request.rest is None else "/users/{email}" if request.rest else "/users"
    return {log_lines.METHOD: request.method if request else None, log_lines.ROUTE: route_name,
            log_lines.STATUS: answer["statusCode"], log_lines.MS: round((time.perf_counter() - started) * 1000, 1)}
