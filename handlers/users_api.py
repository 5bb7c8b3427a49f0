"""HTTP API for users, behind API Gateway (Lambda proxy, payload format 1.0 or 2.0).

POST   /users                  create: 201 + Location; 409 if the email exists
GET    /users?state=..&city=.. users by location, read from users_by_location (the view the
       /users?city=..          stream keeps; it may lag a write by milliseconds), paginated
PUT    /users/{email}          create (201) or replace (200)
PATCH  /users/{email}          change some fields: 200, 404 if there is none
GET    /users/{email}          200, 404 if there is none
DELETE /users/{email}          204, 404 if there is none

Input is strict (JSON only, 16 KiB, no unknown or duplicate fields) and a user is accepted
only if the pipeline can place it: the rules below and projection.target_key agree (a
property test holds them together). The validation is pure; the boto3 calls are at the end.
Every error is a JSON body with a message and, for bad fields, one entry per field. Nothing a
client can send produces a 5xx.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import boto3
import environment
import projection  # zipped with every function: the key separator, "blank" and key bounds
from botocore.exceptions import BotoCoreError, ClientError

USERS_TABLE, TARGET_TABLE = environment.require(environment.USERS_TABLE, environment.TARGET_TABLE)
FIELDS = ("email", "state", "city", "zipcode")
MAX_BODY_BYTES = 16 * 1024
MAX_EMAIL = 254  # characters, as RFC 5321 bounds an address
MAX_TEXT = 100
DEFAULT_LIMIT, MAX_LIMIT = 25, 100
# A pagination token is read only up to this length, the longest encode_token issues for any key
# target_key accepts: a by-city token carries the state (at most 2048 bytes of UTF-8) and the
# email (at most 1022: city#email holds 1024, the city at least 1), each after a 2-byte length,
# behind 6 bytes of header: 3080 bytes, 4107 characters of unpadded base64. Far under the
# 10,240-byte request line API Gateway accepts on AWS. openapi.yaml states the same bound.
MAX_TOKEN = 4107
TOKEN_VERSION = b"\x02"
COLLECTION_METHODS = ("GET", "POST")
USER_METHODS = ("DELETE", "GET", "PATCH", "PUT")

# --- what a field may hold -----------------------------------------------------------------
# The rules are regular expressions built from explicit character sets, so that openapi.yaml
# states exactly the same ones (its patterns are these strings; a unit test compares them) and
# schemathesis can hold the live API to them. Only BMP code points are named: OpenAPI patterns
# are ECMA-262, which has no escape for the others outside unicode mode.
_CONTROL = [(0x00, 0x1F), (0x7F, 0x9F)]  # Cc
_SURROGATE = [(0xD800, 0xDFFF)]  # Cs: a lone one is not valid Unicode and cannot be encoded
_REPLACEMENT = [(0xFFFD, 0xFFFD)]  # what a decoder leaves where the bytes were not UTF-8
_FORMAT = [  # Cf in the BMP: soft hyphen, Arabic marks, zero-width, bidi controls and overrides, BOM
    (0xAD, 0xAD), (0x600, 0x605), (0x61C, 0x61C), (0x6DD, 0x6DD), (0x70F, 0x70F), (0x890, 0x891),
    (0x8E2, 0x8E2), (0x180E, 0x180E), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x2064),
    (0x2066, 0x206F), (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB)]
_BLANK = [(ord(c), ord(c)) for c in projection.BLANK]  # includes every Zs, Zl, Zp character


# Both run once, at import, to build PATTERNS: no mutant of theirs can be switched on after
# that (make mutants), and test_users_api_routes holds what they built to openapi.yaml.
def _class(ranges, extra: str = "") -> str:  # pragma: no mutate block
    """The inside of a regex character class for code point ranges, in ASCII-only escapes."""
    def esc(cp: int) -> str:
        return f"\\x{cp:02x}" if cp < 0x100 else f"\\u{cp:04x}"
    merged: list[list[int]] = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], high)
        else:
            merged.append([low, high])
    return extra + "".join(esc(low) if low == high else f"{esc(low)}-{esc(high)}" for low, high in merged)


_B = _class(_BLANK)
# Never in a state or city (inside its trimmed value). Format characters are invisible: a bidi
# override (U+202E) would make "Springfield" display as another name, and a zero-width one make
# two cities that look the same.
_TEXT_BAD = _CONTROL + _SURROGATE + _REPLACEMENT + _FORMAT
_EMAIL_BAD = _TEXT_BAD + _BLANK  # never in an email, anywhere in it after trimming
# Nor these: an email is a path segment, /users/{email}, and gateways differ in whether they
# decode %2F before routing and whether pathParameters arrive decoded. Without "/" and "%",
# one decoding or two give the same address.
_URL_UNSAFE = "/%"


def _trimmed(bad, extra: str = "") -> str:  # pragma: no mutate block
    """Blank around a core that starts and ends with a non-blank character and holds nothing bad."""
    core_char, edge_char = f"[^{_class(bad, extra)}]", f"[^{_class(bad + _BLANK, extra)}]"
    return f"^[{_B}]*{edge_char}(?:{core_char}*{edge_char})?[{_B}]*$"


# The patterns leave surrogates out: no UTF-8 text holds one, and regex engines that work on
# Unicode scalar values (Rust's, which schemathesis validates with) refuse the range. A lone
# surrogate can still arrive through a JSON escape ("\ud800"): the checks refuse it first.
_E = _class([r for r in _EMAIL_BAD if r not in _SURROGATE], _URL_UNSAFE)
_T = [r for r in _TEXT_BAD if r not in _SURROGATE]
PATTERNS = {
    "email": f"^[{_B}]*[^@{_E}]+@[^@{_E}]+\\.[^@.{_E}]+[{_B}]*$",
    "state": _trimmed(_T),
    "city": _trimmed(_T, projection.SEPARATOR),
    "zipcode": "^[0-9]{5}$",
}
_MATCHERS = {name: re.compile(pattern.removeprefix("^").removesuffix("$")) for name, pattern in PATTERNS.items()}
_KINDS = ((_REPLACEMENT, "the replacement character U+FFFD: the text was not valid UTF-8"),
          (_SURROGATE, "a lone surrogate: not valid Unicode"),
          (_FORMAT, "an invisible format character (zero-width, bidi control or override)"),
          (_BLANK, "whitespace"), (_CONTROL, "a control character"))


def _describe(char: str) -> str:
    cp = ord(char)
    kind = next((text for ranges, text in _KINDS if any(lo <= cp <= hi for lo, hi in ranges)), "not allowed here")
    if char == "\xa0":
        kind = "a non-breaking space"
    return f"U+{cp:04X} ({kind})"


def _first_bad(text: str, ranges) -> str | None:
    return next((c for c in text if any(lo <= ord(c) <= hi for lo, hi in ranges)), None)


def check_email(raw) -> tuple[str | None, str | None]:
    """(normalised email, None) or (None, why not)."""
    if not isinstance(raw, str):
        return None, "must be a string"
    if len(raw) > MAX_EMAIL:
        return None, f"must be a well-formed address of at most {MAX_EMAIL} characters"
    core = projection.strip_blank(raw)
    bad = _first_bad(core, _EMAIL_BAD)
    if bad is not None:
        return None, f"must not contain {_describe(bad)}"
    unsafe = next((c for c in core if c in _URL_UNSAFE), None)
    if unsafe:
        return None, f"must not contain {unsafe!r} (it cannot travel unambiguously in the URL /users/{{email}})"
    if not _MATCHERS["email"].fullmatch(raw):
        return None, "must be a well-formed address like name@example.com"
    # One user per address, whatever its case or Unicode normal form (NFC before lower-casing so
    # that the same text in NFD lowers the same; after, since lower() can decompose).
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", core).lower()), None


def check_text(name: str, raw, required: bool = True) -> tuple[str | None, str | None]:
    """(trimmed value, None) or (None, why not), for state and city."""
    if raw is None:
        return None, "is required" if required else "must be a string, not null"
    if not isinstance(raw, str):
        return None, "must be a non-empty string"
    if len(raw) > MAX_TEXT:
        return None, f"must be at most {MAX_TEXT} characters"
    core = projection.strip_blank(raw)
    if not core:
        return None, "must be a non-empty string (it is blank: whitespace only)"
    bad = _first_bad(core, _TEXT_BAD)
    if bad is not None:
        return None, f"must not contain {_describe(bad)}"
    if name == "city" and projection.SEPARATOR in core:
        return None, f"must not contain {projection.SEPARATOR!r}"
    return projection.normal(core), None  # one place, whatever the normal form it was typed in


def check_zipcode(raw) -> str | None:
    if raw is None:
        return "is required"
    if not isinstance(raw, str) or not _MATCHERS["zipcode"].fullmatch(raw) or len(raw) != 5:
        return "must be a string of exactly five digits, like \"11208\""
    return None


def _unknown(payload: dict, allowed) -> dict:
    return {name: ("is set by the API (a stored user is active)" if name == "active" else
                   "unknown field (allowed: " + ", ".join(allowed) + ")")
            for name in sorted(set(payload) - set(allowed))}


def key_errors(user: dict) -> dict:
    """The one rule across fields: the target's sort key <city>#<email> fits DynamoDB's bound."""
    try:
        projection.target_key(to_item(user))
    except projection.Unplaceable as reason:
        size = len(f"{user['city']}{projection.SEPARATOR}{user['email']}".encode("utf-8", "surrogatepass"))
        return {"city": f"with the email, the location key would be {size} bytes in UTF-8, over DynamoDB's "
                        f"{projection.SORT_KEY_MAX_BYTES}; use a shorter city or email ({reason})"}
    return {}


def validate_user(payload) -> tuple[dict | None, dict]:
    """Returns (user, {}) for a valid payload, or (None, {field: reason}) naming every bad field."""
    if not isinstance(payload, dict):
        return None, {"body": "must be a JSON object with fields " + ", ".join(FIELDS)}
    errors = _unknown(payload, FIELDS)
    user: dict[str, Any] = {}
    if payload.get("email") is None:
        errors["email"] = "is required"
    else:
        user["email"], why = check_email(payload["email"])
        if why:
            errors["email"] = why
    for name in ("state", "city"):
        user[name], why = check_text(name, payload.get(name))
        if why:
            errors[name] = why
    why = check_zipcode(payload.get("zipcode"))
    if why:
        errors["zipcode"] = why
    if errors:
        return None, errors
    user = {**user, "zipcode": payload["zipcode"], "active": True}
    errors = key_errors(user)
    return (None, errors) if errors else (user, {})


def valid_user(payload, message: str) -> dict:
    """The valid user, or Refused (400, message) naming every bad field."""
    user, errors = validate_user(payload)
    if errors or user is None:
        raise Refused(400, message, errors)
    return user


def validate_patch(payload, email: str) -> tuple[dict | None, dict]:
    """The fields a PATCH sets ({} when it sets none), or (None, errors). The email, if given,
    must be the one in the path: an address is the user's identity, not a field to change."""
    if not isinstance(payload, dict):
        return None, {"body": "must be a JSON object with one or more of state, city, zipcode"}
    errors = _unknown(payload, FIELDS)
    changes = {}
    if "email" in payload:
        given, why = check_email(payload["email"])
        if why or given != email:
            errors["email"] = why or f"must match the path ({email}); a user's email cannot change"
    for name in ("state", "city"):
        if name in payload:
            changes[name], why = check_text(name, payload[name], required=False)
            if why:
                errors[name] = why
    if "zipcode" in payload:
        why = check_zipcode(payload["zipcode"]) if payload["zipcode"] is not None else "must be a string, not null"
        if why:
            errors["zipcode"] = why
        changes["zipcode"] = payload["zipcode"]
    return (None, errors) if errors else (changes, {})


# --- requests ------------------------------------------------------------------------------

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


def path_email(rest: list) -> str:
    email, why = check_email(rest[0])
    if why or email is None:
        raise Refused(400, "invalid request", {"email": f"in the path {why}: /users/name@example.com"})
    return email


# --- the pagination token -------------------------------------------------------------------
# Opaque to clients; here, the last key of a page, tied to the query it came from. A token is
# accepted only if it has exactly that structure and its key could be a row of this very query
# (same state/city, a well-formed key within DynamoDB's bounds), so a tampered token is a 400
# and never an arbitrary start key.

@dataclass(frozen=True)
class Query:
    state: str | None
    city: str | None
    limit: int

    @property
    def by(self) -> str:
        return "city" if self.state is None else ("state_city" if self.city else "state")

    def key_names(self) -> tuple:
        base = (projection.PARTITION_KEY, projection.SORT_KEY)
        return base + ("city", "email") if self.by == "city" else base


# The token: what the next page starts after, and nothing the query itself says. Binary, not JSON,
# so no character is escaped into several: its length is bounded by the key's own bytes
# (MAX_TOKEN). Layout: version, the query's kind, 4 bytes binding it to the query (a token of
# another query is refused, not followed from somewhere else), then each part as a 2-byte length
# and its UTF-8: the email (state and city query), city_email (state), state and email (city).
TOKEN_PARTS = {"state_city": ("email",), "state": (projection.SORT_KEY,), "city": (projection.PARTITION_KEY, "email")}
BY_CODE = {"state_city": b"p", "state": b"s", "city": b"c"}


def _binding(query: Query) -> bytes:
    return hashlib.sha256(f"{query.by}\0{query.state or ''}\0{query.city or ''}".encode()).digest()[:4]


def encode_token(query: Query, last_key: dict) -> str:
    city, _, email = last_key[projection.SORT_KEY]["S"].partition(projection.SEPARATOR)
    values = {projection.PARTITION_KEY: last_key[projection.PARTITION_KEY]["S"],
              projection.SORT_KEY: last_key[projection.SORT_KEY]["S"], "email": email}
    raw = TOKEN_VERSION + BY_CODE[query.by] + _binding(query)
    for name in TOKEN_PARTS[query.by]:
        part = values[name].encode()
        raw += len(part).to_bytes(2, "big") + part
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(query: Query, token: str) -> dict:
    """The ExclusiveStartKey a token stands for, or Refused (400) if this query never issued it."""
    parts = _token_parts(query, token)
    if parts is None:
        raise Refused(400, "invalid request", {"next": "is not a token this query returned; start again without it"})
    return _start_key(query, dict(zip(TOKEN_PARTS[query.by], parts, strict=True)))


def _token_parts(query: Query, token) -> list | None:
    """The token's parts if it is well formed and bound to this query; None otherwise."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN or not re.fullmatch(r"[A-Za-z0-9_-]+", token):
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, binascii.Error):
        return None
    if raw[:6] != TOKEN_VERSION + BY_CODE[query.by] + _binding(query):
        return None
    parts, at = [], 6
    while at < len(raw):
        size = int.from_bytes(raw[at:at + 2], "big")
        part = raw[at + 2:at + 2 + size]
        try:
            parts.append(part.decode())
        except UnicodeDecodeError:
            return None
        at += 2 + size
    return parts if len(parts) == len(TOKEN_PARTS[query.by]) and all(parts) and at == len(raw) else None


def _start_key(query: Query, parts: dict) -> dict:
    """The key (with the index's, for by_city) of the row a page ended on; Refused unless it is a
    key target_key would give."""
    state = parts.get(projection.PARTITION_KEY, query.state)
    city_email = parts.get(projection.SORT_KEY) or f"{query.city}{projection.SEPARATOR}{parts['email']}"
    city, _, email = city_email.partition(projection.SEPARATOR)
    try:
        projection.target_key({"email": {"S": email}, "state": {"S": state}, "city": {"S": city}})
    except projection.Unplaceable:
        raise Refused(400, "invalid request", {"next": "is not a token this query returned; start again without it"}) \
            from None
    key = {projection.PARTITION_KEY: state, projection.SORT_KEY: city_email}
    if query.by == "city":
        key.update(city=city, email=email)
    return {name: {"S": value} for name, value in key.items()}


QUERY_PARAMETERS = ("state", "city", "limit", "next")


def parse_query(request: Request) -> tuple[Query, str | None]:
    """The query and the page token, or Refused naming every bad parameter."""
    errors: dict[str, str] = {}
    values = _single_values(request.query, errors)
    place = {name: _query_text(name, values, errors) for name in ("state", "city")}
    limit = _limit(values.get("limit"), errors)
    if not errors and place["state"] is None and place["city"] is None:
        errors["state"] = "give state, city, or both: GET /users?state=New%20York&city=Brooklyn"
    if errors:
        raise Refused(400, "invalid query", errors)
    return Query(place["state"], place["city"], limit), values.get("next")


def _single_values(query: dict, errors: dict) -> dict:
    """name -> its one value, for the parameters we know; an unknown or repeated one is an error."""
    errors.update({name: "unknown parameter (allowed: " + ", ".join(QUERY_PARAMETERS) + ")" for name in query
                   if name not in QUERY_PARAMETERS})
    values = {}
    for name in QUERY_PARAMETERS:
        given = query.get(name, [])
        if len(given) > 1:
            errors[name] = "is given more than once"
        elif given:
            values[name] = given[0]
    return values


def _query_text(name: str, values: dict, errors: dict) -> str | None:
    if name not in values:
        return None
    value, why = check_text(name, values[name])
    if why:
        errors[name] = why
    return value


def _limit(text: str | None, errors: dict) -> int:
    if text is None:
        return DEFAULT_LIMIT
    if not re.fullmatch(r"[0-9]{1,3}", text) or not 1 <= int(text) <= MAX_LIMIT:
        errors["limit"] = f"must be a whole number from 1 to {MAX_LIMIT}"
        return DEFAULT_LIMIT
    return int(text)


# --- DynamoDB items and responses -------------------------------------------------------------

def to_item(user: dict) -> dict:
    item = {name: {"S": user[name]} for name in FIELDS}
    item["active"] = {"BOOL": user["active"]}
    return item


def from_item(item: dict, fields=FIELDS) -> dict:
    user = {name: item[name]["S"] for name in fields if "S" in item.get(name, {})}
    if "BOOL" in item.get("active", {}):
        user["active"] = item["active"]["BOOL"]
    return user


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


# --- the routes: the only code that talks to DynamoDB -----------------------------------------

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
    try:
        return route(parse_request(event), dynamodb)
    except Refused as refused:
        return refused.response()
    except (ClientError, BotoCoreError) as error:
        # The client did nothing wrong: say so, and that a retry may work.
        print(json.dumps({"users_api_error": str(error)}))
        return response(503, {"message": "the users table is unavailable; try again"})
