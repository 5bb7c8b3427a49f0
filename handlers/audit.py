"""One structured log line per users stream record: event, keys, and what changed.

The lines go to the function's log (CloudWatch Logs /aws/lambda/<name>), where `make logs`
follows them. Auditing never fails a batch: a record it cannot decode is logged as such.
"""
from __future__ import annotations

import base64
import json
from decimal import Decimal

import log_lines
import projection
from boto3.dynamodb.types import Binary, TypeDeserializer

_deserializer = TypeDeserializer()


def _plain(value):
    """JSON-friendly form of a deserialized value (Decimal, Binary, sets)."""
    if isinstance(value, Decimal):
        if value == value.to_integral_value():
            return int(value)
        # A float only where it is the same number; otherwise the exact digits, as text.
        return float(value) if Decimal(repr(float(value))) == value else str(value)
    if isinstance(value, Binary):  # what TypeDeserializer makes of B, and of each BS member
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, (set, frozenset)):
        # One set holds one type: numbers in numeric order, strings in text order, binaries in byte order.
        return [_plain(v) for v in sorted(value, key=lambda v: bytes(v) if isinstance(v, Binary) else v)]
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
        log_lines.AUDIT: record.get("eventName"),
        log_lines.KEYS: _decode(change.get("Keys")),
        log_lines.SEQUENCE: change.get("SequenceNumber"),
    }
    old_image, new_image = change.get("OldImage") or {}, change.get("NewImage") or {}
    try:
        old, new = _decode(old_image), _decode(new_image)
    except Exception as error:  # a record we cannot read is still reported, never dropped
        entry[log_lines.ERROR] = f"cannot decode images: {error}"
        return entry
    # Compare the typed DynamoDB values, not their JSON forms: N 1 -> BOOL true, or SS -> L,
    # is a change even where the plain values look equal.
    entry[log_lines.CHANGES] = {
        name: {log_lines.OLD: old.get(name), log_lines.NEW: new.get(name)}
        for name in sorted(set(old_image) | set(new_image))
        if not projection.same_value(old_image.get(name), new_image.get(name))}
    return entry


def handler(event, context):
    records = event.get("Records", [])
    for record in records:
        print(json.dumps(describe(record), sort_keys=True))  # describe gives plain JSON values only
    return {"audited": len(records)}
