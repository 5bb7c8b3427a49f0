"""Small helpers the integration tests share: HTTP calls and reads of the target table."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from ddblab.emulator.health import emulator_name


def http(method: str, url: str, payload=None, raw: bytes | None = None) -> tuple[int, dict]:
    data = raw if raw is not None else (json.dumps(payload).encode() if payload is not None else None)
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            body = answer.read()
            return answer.status, json.loads(body) if body else {}
    except urllib.error.HTTPError as error:
        body = error.read()
        return error.code, json.loads(body) if body else {}


def target_rows(live, email: str) -> list:
    """Every users_by_location item of one user, wherever it is (through the by_city index
    would need the city; a filtered scan finds moved rows too)."""
    pages = live.dynamodb.get_paginator("scan").paginate(
        TableName=live.names.target, FilterExpression="email = :e",
        ExpressionAttributeValues={":e": {"S": email}})
    return [item for page in pages for item in page["Items"]]


def user_item(email: str, state="New York", city="Brooklyn", zipcode="11208", **extra) -> dict:
    item = {"email": {"S": email}, "state": {"S": state}, "city": {"S": city}, "zipcode": {"S": zipcode},
            "active": {"BOOL": True}}
    item.update(extra)
    return item


def backend_of(settings) -> str:
    """"ministack" or "localstack"; fails the test (never a skip, never the other branch) when
    detection cannot tell which emulator answers."""
    name = emulator_name(settings.endpoint_url)
    if name not in ("ministack", "localstack"):
        pytest.fail(f"could not tell which emulator answers on {settings.endpoint_url} (detection said {name!r}): "
                    "this test behaves differently on MiniStack and LocalStack", pytrace=False)
    return name
