"""GET /users: the query (state, city, limit) and its page token."""
from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

import projection

from .fields import check_text
from .gateway import Refused, Request

DEFAULT_LIMIT, MAX_LIMIT = 25, 100
# A pagination token is read only up to this length, the longest encode_token issues for any key
# target_key accepts: a by-city token carries the state (at most 2048 bytes of UTF-8) and the
# email (at most 1022: city#email holds 1024, the city at least 1), each after a 2-byte length,
# behind 6 bytes of header: 3080 bytes, 4107 characters of unpadded base64. Far under the
# 10,240-byte request line API Gateway accepts on AWS. openapi.yaml states the same bound.
MAX_TOKEN = 4107
TOKEN_VERSION = b"\x02"

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
