"""Compare users_by_location with what it should hold - the projection of every user in
`users` - item by item, with the one typed equality the audit function uses; and repair
what differs (which also backfills a target table created after the users were written).

What is expected is decided by projection.project, the function replicate folds with: a
user it refuses (no key, a key over its byte bound, an item over 400 KB once keyed) was
quarantined by replicate, so reconcile reports it as quarantined, never as missing."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from boto3.dynamodb.types import TypeDeserializer

from ddblab.data import batches
from ddblab.stack.code import handler_module

projection = handler_module("projection")

_deserializer = TypeDeserializer()


def pages(client, table: str, size: int = 2000):
    """A table, page by page: `size` items in memory at a time, whatever the table's size."""
    for page in client.get_paginator("scan").paginate(TableName=table, PaginationConfig={"PageSize": size}):
        yield page["Items"]


def scan(client, table: str):
    """Every item of a table, one page in memory at a time."""
    for page in pages(client, table):
        yield from page


def comparable(item: dict) -> dict:
    """Plain values, for showing a difference to a person (never for deciding one: in
    Python Decimal(1) == True; projection.same_item decides)."""
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


@dataclass
class Drift:
    missing: list = field(default_factory=list)    # expected items not in the target
    extra: list = field(default_factory=list)      # target keys that should not be there
    different: list = field(default_factory=list)  # (expected, actual)
    quarantined: list = field(default_factory=list)  # Quarantined: users replicate cannot place
    users: int = 0
    target_items: int = 0
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return len(self.missing) + len(self.extra) + len(self.different)


@dataclass(frozen=True)
class Quarantined:
    email: str
    reason: str


@dataclass
class Repair:
    written: int
    refused: list  # (what, reason): writes the table refused; the rest was written


def compare(client, users_table: str, target_table: str) -> Drift:
    """Two passes, each holding one page and its look-ups in memory, never the table: every
    user against the target row it should have (BatchGetItem by key), then every target row
    against the user it came from. Memory grows with the drift, not with the tables."""
    started = time.monotonic()
    drift = Drift()
    for page in pages(client, users_table):
        drift.users += len(page)
        expected = []
        for user in page:
            try:
                expected.append(projection.project(user))
            except projection.Unplaceable as reason:  # quarantined by replicate; not expected in the target
                drift.quarantined.append(Quarantined(user.get("email", {}).get("S", "?"), str(reason)))
        found = {projection.key_id(item): item
                 for item in batches.get_all(client, target_table, [projection.key_of(item) for item in expected])}
        for wanted in expected:
            actual = found.get(projection.key_id(wanted))
            if actual is None:
                drift.missing.append(wanted)
            elif not projection.same_item(wanted, actual):
                drift.different.append((wanted, actual))
    for page in pages(client, target_table):
        drift.target_items += len(page)
        emails = list(dict.fromkeys(row["email"]["S"] for row in page if "S" in row.get("email", {})))
        owners = {user["email"]["S"]: user for user in batches.get_all(client, users_table, [
            {"email": {"S": email}} for email in emails])}
        for row in page:
            if not belongs(row, owners.get(row.get("email", {}).get("S"))):
                drift.extra.append(row)
    drift.seconds = time.monotonic() - started
    return drift


def belongs(row: dict, user: dict | None) -> bool:
    """Whether a target row is where its user's projection puts it."""
    if user is None:
        return False
    try:
        return projection.key_id(projection.project(user)) == projection.key_id(projection.key_of(row))
    except (projection.Unplaceable, KeyError):
        return False


def repair(client, target_table: str, drift: Drift) -> Repair:
    """Write everything it can: a write the table refuses is listed, never the end of the run."""
    requests = (batches.puts(drift.missing + [wanted for wanted, _ in drift.different])
                + batches.deletes([projection.key_of(item) for item in drift.extra]))
    refused: list[tuple[dict, str]] = []
    written = batches.write_all(client, target_table, requests, workers=4, refused=refused)
    return Repair(written, [(_label(request.get("PutRequest", {}).get("Item") or request["DeleteRequest"]["Key"]), reason)
                            for request, reason in refused])


def _label(item: dict) -> str:
    return f"{item.get(projection.PARTITION_KEY, {}).get('S')} / {item.get(projection.SORT_KEY, {}).get('S')}"


def describe(drift: Drift, examples: int = 3) -> str:
    label = _label
    lines = [f"users: {drift.users} ({len(drift.quarantined)} quarantined by replicate, kept out of the target); "
             f"target items: {drift.target_items}",
             f"drift: {drift.total} (missing {len(drift.missing)}, extra {len(drift.extra)}, "
             f"different {len(drift.different)}) - compared in {drift.seconds:.2f} s"]
    lines += [f"  quarantined: {q.email}: {q.reason}" for q in drift.quarantined[:examples]]
    for name, items in (("missing", drift.missing), ("extra", drift.extra)):
        lines += [f"  {name}: {label(item)}" for item in items[:examples]]
    for wanted, actual in drift.different[:examples]:
        a, b = comparable(wanted), comparable(actual)
        fields = sorted(k for k in set(wanted) | set(actual) if not projection.same_value(wanted.get(k), actual.get(k)))
        lines.append(f"  different: {label(wanted)}: " + ", ".join(
            f"{k} should be {a.get(k)!r}, is {b.get(k)!r}" for k in fields))
    return "\n".join(lines)
