"""The API Gateway side of a request: the request read from a payload 1.0 or 2.0 event
(method, the path after /users, the body, headers, query), its JSON body read strictly, and the
response (or the refusal, with its status) in the shape API Gateway's proxy integration takes."""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from .fields import FIELDS

MAX_BODY_BYTES = 16 * 1024


class Refused(Exception):
    """A request answered with an error; raised from deep in parsing, turned into a response."""

    def __init__(self, status: int, message: str, errors: dict | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.errors, self.headers = status, message, errors, headers or {}

    def response(self) -> dict:
        body: dict[str, Any] = {"message": self.message}
        if self.errors:
            body["errors"] = self.errors
        return response(self.status, body, self.headers)


@dataclass(frozen=True)
class Request:
    method: str
    rest: list | None  # path segments after "users"; None when the path is not ours
    body: bytes | None
    headers: dict  # lower-case names
    query: dict  # name -> list of values


def _no_duplicates(pairs):
    seen = {}
    for name, value in pairs:
        if name in seen:
            raise ValueError(f"duplicate key {name!r} in one object")
        seen[name] = value
    return seen


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


def read_json(request: Request, media_types=("application/json",)):
    """The body as JSON, or Refused: 415 for another media type, 413 over 16 KiB, 400 otherwise."""
    kind = request.headers.get("content-type", "")
    media, _, params = kind.partition(";")
    charset = dict(p.strip().lower().partition("=")[::2] for p in params.split(";") if "=" in p).get("charset")
    if media.strip().lower() not in media_types or (charset and charset.strip('"') not in ("utf-8", "utf8")):
        raise Refused(415, f"send the body as JSON: Content-Type: {media_types[0]} (got {kind or 'none'!r})",
                      {"Content-Type": "must be " + " or ".join(media_types)})
    if request.body is None or not request.body.strip():
        raise Refused(400, "invalid request body", {"body": "is empty; send a JSON object with " + ", ".join(FIELDS)})
    if len(request.body) > MAX_BODY_BYTES:
        raise Refused(413, f"the body is {len(request.body)} bytes; at most {MAX_BODY_BYTES} are accepted",
                      {"body": f"must be at most {MAX_BODY_BYTES} bytes"})
    try:
        text = request.body.decode()  # UTF-8
    except UnicodeDecodeError as error:
        problem = f"is not valid UTF-8 ({error.reason} at byte {error.start})"
        raise Refused(400, "invalid request body", {"body": problem}) from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:  # RecursionError: "[[[[..." nested too deep
        raise Refused(400, "invalid request body", {"body": f"is not valid JSON ({error})"}) from None


def response(status: int, body=None, headers=None) -> dict:
    kind = {} if body is None else {"Content-Type": "application/json"}  # a 204 has no body to describe
    return {"statusCode": status, "headers": {**kind, **(headers or {})}, "body": "" if body is None else json.dumps(body)}


def not_allowed(method: str, allowed, route: str, instead: str) -> Refused:
    return Refused(405, f"{method} {route} is not supported; allowed: {', '.join(allowed)}. {instead}",
                   headers={"Allow": ", ".join(allowed)})


def parse_request(event: dict) -> Request:
    """The request in a 1.0 or 2.0 payload."""
    method, path, query = _method_path_query(event)
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    return Request(method.upper(), _rest(event, path), _body(event), headers, query)


def _method_path_query(event: dict) -> tuple[str, str, dict]:
    if "requestContext" in event and "http" in event["requestContext"]:  # payload 2.0
        method = event["requestContext"]["http"]["method"]
        path = event.get("rawPath") or event["requestContext"]["http"].get("path", "/")
        query = {name: value.split(",") for name, value in (event.get("queryStringParameters") or {}).items()}
        return method, path, query
    # payload 1.0 (REST API)
    query = dict(event.get("multiValueQueryStringParameters") or {})
    for name, value in (event.get("queryStringParameters") or {}).items():
        query.setdefault(name, [value])
    return event.get("httpMethod", ""), event.get("path") or "/", query


def _rest(event: dict, path: str) -> list | None:
    """The path segments after "users" (None when the path is not ours), from the route when
    the event names one, else from the path itself."""
    resource = event.get("resource") or event.get("routeKey", "").partition(" ")[2]
    email = (event.get("pathParameters") or {}).get("email")
    try:
        if resource.endswith("/users/{email}") and email is not None:
            return [unquote(email, errors="strict")]
        if resource.endswith("/users"):
            return []
        return _rest_of_path(path)  # no route information (a $default route, a test)
    except UnicodeDecodeError:
        return ["\ufffd"]  # refused by the email rule, which names the character


def _rest_of_path(path: str) -> list | None:
    segments = [unquote(s, errors="strict") for s in path.split("/") if s]
    if segments[-1:] == ["users"]:
        return []
    if segments[-2:-1] == ["users"]:
        return segments[-1:]
    return None


def _body(event: dict) -> bytes | None:
    body = event.get("body")
    if body is None:
        return None
    if not event.get("isBase64Encoded"):
        return body.encode(errors="surrogatepass")  # UTF-8; a lone surrogate fails in read_json
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return b"\xff"  # not what a client sent: refused as invalid UTF-8
