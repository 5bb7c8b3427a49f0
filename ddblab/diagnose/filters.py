"""FilterCriteria as Lambda applies them to a stream record: a record is passed on when
any pattern matches it. The patterns use EventBridge's syntax; this covers what mappings
on a DynamoDB stream use (exact values, prefix, suffix, exists, anything-but, numeric,
equals-ignore-case) and says "unknown" for the rest, rather than guessing."""
from __future__ import annotations

import json


class Unknown(Exception):
    """A pattern operator this checker does not evaluate."""


def passes(criteria: dict | None, record: dict) -> bool:
    """Would a mapping with these FilterCriteria pass the record to its function?"""
    patterns = [json.loads(f["Pattern"]) for f in (criteria or {}).get("Filters", []) if f.get("Pattern")]
    if not patterns:
        return True
    subject = {k: record.get(k) for k in ("eventID", "eventName", "eventVersion", "eventSource", "awsRegion",
                                          "dynamodb", "eventSourceARN") if k in record}
    return any(matches(pattern, subject) for pattern in patterns)


def matches(pattern: dict, value) -> bool:
    for name, wanted in pattern.items():
        present = isinstance(value, dict) and name in value
        inner = value.get(name) if isinstance(value, dict) else None
        if isinstance(wanted, dict):
            if not present or not matches(wanted, inner):
                return False
        elif isinstance(wanted, list):
            if not any(one(rule, present, inner) for rule in wanted):
                return False
        else:
            raise Unknown(f"pattern value {wanted!r} is neither an object nor a list")
    return True


def one(rule, present: bool, value) -> bool:
    values = value if isinstance(value, list) else [value]
    if not isinstance(rule, dict):
        return present and rule in values
    (op, arg), = rule.items()
    if op == "exists":
        return present == bool(arg)
    if not present:
        return op == "anything-but"
    texts = [v for v in values if isinstance(v, str)]
    if op == "prefix":
        return any(t.startswith(arg) for t in texts)
    if op == "suffix":
        return any(t.endswith(arg) for t in texts)
    if op == "equals-ignore-case":
        return any(t.lower() == str(arg).lower() for t in texts)
    if op == "anything-but":
        refused = arg if isinstance(arg, list) else [arg]
        return not any(v in refused for v in values)
    if op == "numeric":
        return any(numeric(arg, v) for v in values)
    raise Unknown(f"operator {op!r}")


def numeric(conditions: list, value) -> bool:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    checks = {"=": number.__eq__, "<": number.__lt__, "<=": number.__le__, ">": number.__gt__, ">=": number.__ge__}
    return all(checks[op](float(limit)) for op, limit in zip(conditions[::2], conditions[1::2], strict=False))
