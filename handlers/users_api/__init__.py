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

# The package is zipped whole with the function (ddblab/stack/code.py); Lambda imports it for
# users_api.handler. These names are its surface for the tests and the tools.
from .fields import (
                     FIELDS,
                     MAX_EMAIL,
                     MAX_TEXT,
                     PATTERNS,
                     check_email,
                     check_text,
                     check_zipcode,
                     from_item,
                     key_errors,
                     to_item,
                     validate_patch,
                     validate_user,
)
from .gateway import MAX_BODY_BYTES, Refused, Request, parse_request, read_json, response
from .paging import DEFAULT_LIMIT, MAX_LIMIT, MAX_TOKEN, Query, decode_token, encode_token, parse_query
from .routes import TARGET_TABLE, USERS_TABLE, handler, route, valid_user

__all__ = ["FIELDS", "MAX_EMAIL", "MAX_TEXT", "PATTERNS", "check_email", "check_text", "check_zipcode", "from_item",
           "key_errors", "to_item", "validate_patch", "validate_user", "MAX_BODY_BYTES", "Refused", "Request",
           "parse_request", "read_json", "response", "DEFAULT_LIMIT", "MAX_LIMIT", "MAX_TOKEN", "Query", "decode_token",
           "encode_token", "parse_query", "TARGET_TABLE", "USERS_TABLE", "handler", "route", "valid_user"]
