"""Compare users_by_location with what it should hold - the projection of every user in
`users` - item by item, with the one typed equality the audit function uses; and repair
what differs (which also backfills a target table created after the users were written)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from boto3.dynamodb.types import TypeDeserializer

from ddblab.data import batches
from ddblab.stack.code import handler_module

projection = handler_module("projection")

_deserializer = TypeDeserializer()


def scan(client, table: str, page_size: int = 500):
    """Every item of a table, page by page (never one request for the whole table)."""
    for page in client.get_paginator("scan").paginate(TableName=table, PaginationConfig={"PageSize": page_size}):
        yield from page["Items"]


def comparable(item: dict) -> dict:
    """Plain values, for showing a difference to a person (never for deciding one: in
    Python Decimal(1) == True; projection.same_item decides)."""
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


@dataclass
class Drift:
    missing: list = field(default_factory=list)    # expected items not in the target
    extra: list = field(default_factory=list)      # target keys that should not be there
    different: list = field(default_factory=list)  # (expected, actual)
    users: int = 0
    unplaceable: int = 0
    target_items: int = 0
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return len(self.missing) + len(self.extra) + len(self.different)


def compare(client, users_table: str, target_table: str) -> Drift:
    started = time.monotonic()
    drift = Drift()
    expected = {}
    for user in scan(client, users_table):
        drift.users += 1
        try:
            item = projection.project(user)
        except projection.Unplaceable:
            drift.unplaceable += 1  # quarantined by replicate; not expected in the target
            continue
        expected[projection.key_id(item)] = item
    for actual in scan(client, target_table):
        drift.target_items += 1
        key = (actual.get(projection.PARTITION_KEY, {}).get("S"), actual.get(projection.SORT_KEY, {}).get("S"))
        wanted = expected.pop(key, None)
        if wanted is None:
            drift.extra.append(actual)
        elif not projection.same_item(wanted, actual):
            drift.different.append((wanted, actual))
    drift.missing = list(expected.values())
    drift.seconds = time.monotonic() - started
    return drift


def repair(client, target_table: str, drift: Drift) -> int:
    requests = (batches.puts(drift.missing + [wanted for wanted, _ in drift.different])
                + batches.deletes([projection.key_of(item) for item in drift.extra]))
    return batches.write_all(client, target_table, requests, workers=4)


def describe(drift: Drift, examples: int = 3) -> str:
    def label(item):
        return f"{item.get('state', {}).get('S')} / {item.get('city_email', {}).get('S')}"
    lines = [f"users: {drift.users} ({drift.unplaceable} unplaceable, kept out of the target); "
             f"target items: {drift.target_items}",
             f"drift: {drift.total} (missing {len(drift.missing)}, extra {len(drift.extra)}, "
             f"different {len(drift.different)}) - compared in {drift.seconds:.2f} s"]
    for name, items in (("missing", drift.missing), ("extra", drift.extra)):
        lines += [f"  {name}: {label(item)}" for item in items[:examples]]
    for wanted, actual in drift.different[:examples]:
        a, b = comparable(wanted), comparable(actual)
        fields = sorted(k for k in set(wanted) | set(actual) if not projection.same_value(wanted.get(k), actual.get(k)))
        lines.append(f"  different: {label(wanted)}: " + ", ".join(
            f"{k} should be {a.get(k)!r}, is {b.get(k)!r}" for k in fields))
    return "\n".join(lines)
