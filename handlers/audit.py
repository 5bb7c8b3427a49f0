"""One structured log line per users stream record: event, keys, and what changed.

The lines go to the function's log (CloudWatch Logs /aws/lambda/<name>), where `make logs`
follows them. Auditing never fails a batch: a record it cannot decode is logged as such.
"""
from __future__ import annotations

import base64
import json
from decimal import Decimal

from boto3.dynamodb.types import TypeDeserializer

import projection

_deserializer = TypeDeserializer()


def _plain(value):
    """JSON-friendly form of a deserialized value (Decimal, bytes, sets)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    if hasattr(value, "value") and isinstance(getattr(value, "value"), (bytes, bytearray)):
        return base64.b64encode(bytes(value.value)).decode()  # boto3 Binary
    if isinstance(value, (set, frozenset)):
        return sorted((_plain(v) for v in value), key=repr)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _decode(image: dict | None) -> dict:
    if not image:
        return {}
    # Stream records carry binaries as base64 text, which TypeDeserializer will not take.
    return {name: _plain(_deserializer.deserialize(value))
            for name, value in projection.item_to_client_form(image).items()}


def describe(record: dict) -> dict:
    """The audit entry for one stream record (pure: unit tested without an emulator)."""
    change = record.get("dynamodb", {})
    entry = {
        "audit": record.get("eventName"),
        "keys": _decode(change.get("Keys")),
        "sequence": change.get("SequenceNumber"),
    }
    try:
        old, new = _decode(change.get("OldImage")), _decode(change.get("NewImage"))
    except Exception as error:  # a record we cannot read is still reported, never dropped
        entry["error"] = f"cannot decode images: {error}"
        return entry
    changes = {}
    for name in sorted(set(old) | set(new)):
        if old.get(name) != new.get(name) or (name in old) != (name in new):
            changes[name] = {"old": old.get(name), "new": new.get(name)}
    entry["changes"] = changes
    return entry


def handler(event, context):
    records = event.get("Records", [])
    for record in records:
        print(json.dumps(describe(record), sort_keys=True, default=str))
    return {"audited": len(records)}
