"""What happened to one stream record: its old and new image side by side, and for each
consumer of the stream what it did with it - the line its log wrote about the record (or the
lines of the invocation that took it, for a consumer that logs per batch), the row now in each
table it writes, the messages about the record in each queue it writes, and a dead letter
whose batch holds it. Consumers are the mappings of the stack description, none named here."""
from __future__ import annotations

import json
import re

from ddblab.core.aws import queue_url
from ddblab.core.kinds import QueueKind
from ddblab.flow.chain import writes
from ddblab.inspect import queue_contents as queue_data
from ddblab.inspect import stream as stream_data

DEAD_LETTER_RANGE = re.compile(r"sequence (\d+)\.\.(\d+)")


def diff(record: dict) -> list:
    """[{name, old, new, changed}] for every attribute of either image, in name order."""
    described = stream_data.audit.describe(record)
    change = record.get("dynamodb", {})
    old = stream_data.audit._decode(change.get("OldImage"))
    new = stream_data.audit._decode(change.get("NewImage"))
    changed = set(described.get(stream_data.log_lines.CHANGES) or {})
    return [{"name": name, "old": old.get(name), "new": new.get(name), "changed": name in changed}
            for name in sorted(set(old) | set(new))]


def image(record: dict) -> dict:
    """The item as the record leaves it (its new image; the old one for a REMOVE), typed."""
    change = record.get("dynamodb", {})
    return change.get("NewImage") or change.get("OldImage") or {}


def row_now(dynamodb, table, item: dict) -> dict:
    """The row of `table` about this item now: found by the table's key, or by an index whose
    key attributes the item holds (users_by_location: its by_city index, city and email).
    {"found": bool, "row": {...}} or {"lookup": why not}."""
    for index_name, key in ((None, table.key), *((i.name, i.key) for i in table.indexes)):
        names = [attribute for attribute, _ in key]
        if not all(name in item for name in names):
            continue
        if index_name is None:
            row = dynamodb.get_item(TableName=table.name, Key={n: item[n] for n in names}).get("Item")
        else:
            condition = " AND ".join(f"#k{i} = :v{i}" for i in range(len(names)))
            rows = dynamodb.query(TableName=table.name, IndexName=index_name, KeyConditionExpression=condition,
                                  ExpressionAttributeNames={f"#k{i}": n for i, n in enumerate(names)},
                                  ExpressionAttributeValues={f":v{i}": item[n] for i, n in enumerate(names)}).get("Items", [])
            row = rows[0] if rows else None
        return {"found": row is not None, "row": stream_data.audit._decode(row) if row else {},
                "by": index_name or "key"}
    return {"lookup": "neither its key nor an index's key is in the record"}


def messages_about(sqs, queue: str, kind: str, entry: dict) -> list:
    """The queue's messages about this record, read without taking them (make quarantine's way):
    a quarantined record by its sequence number, a dead letter by its batch's sequence range."""
    url = queue_url(sqs, queue)
    if url is None:
        return []
    found = []
    sequence = int(entry["sequence"]) if entry["sequence"].isdigit() else None
    for message in queue_data.peek(sqs, url, kind, limit=100):
        if kind == QueueKind.DLQ:
            match = DEAD_LETTER_RANGE.search(message.detail)
            if match and sequence is not None and int(match[1]) <= sequence <= int(match[2]):
                found.append({"reason": message.reason, "detail": message.detail})
        elif f"seq {entry['sequence']}" in message.detail:
            found.append({"reason": message.reason, "detail": message.detail})
    return found


def journey(monitor, sequence: str) -> dict | None:
    """The record of this sequence number in the stream window, and each consumer's part."""
    entry = monitor.window.get(sequence)
    if entry is None:
        return None
    stack, live = monitor.stack, monitor.live
    depths = {node_id: figures.get("depth") for node_id, figures in monitor.snapshot()["nodes"].items()}
    record = json.loads(entry["raw"])
    item = image(record)
    source = next(t for t in stack.tables if t.stream)
    keys = record.get("dynamodb", {}).get("Keys") or {}
    # The key's item as it is now: a later write may have moved its row (a MODIFY of the city)
    current = live.dynamodb.get_item(TableName=source.name, Key=keys).get("Item") if keys else None
    consumers = []
    for mapping in stack.mappings:
        function = stack.function(mapping.function)
        tables, queues = writes(function, stack)
        log = monitor.logs[function.name].about(entry["sequence"], entry["created"])
        part = {"function": function.name, "log": log, "tables": [], "queues": []}
        for name in tables:
            found = row_now(live.dynamodb, stack.table(name), item)
            if not found.get("found") and current and current != item:
                found["current"] = row_now(live.dynamodb, stack.table(name), current)
            part["tables"].append({"table": name, **found})
        for queue in queues:
            kind = QueueKind.DLQ if queue == stack.names.dlq else QueueKind.QUARANTINE
            if depths.get(f"queue:{queue}"):  # an empty queue is not read: a read hides its messages for a moment
                part["queues"].append({"queue": queue, "messages": messages_about(live.sqs, queue, kind, entry)})
        consumers.append(part)
    return {"sequence": entry["sequence"], "event": entry["event"], "keys": entry["keys"], "created": entry["created"],
            "diff": diff(record), "consumers": consumers}


def summary(entry: dict) -> dict:
    """An entry of the window as the tail shows it (without the raw record)."""
    return {name: entry[name] for name in ("n", "sequence", "event", "keys", "created", "changed", "read")}
