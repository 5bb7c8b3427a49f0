"""Your data across restarts (DESIGN.md decision 14). The emulators keep everything in memory,
so `make down` saves the tables that feed the stream and that nothing feeds (today `users`) to
the run directory, and the next `make up` writes them back through the normal write path
(BatchWriteItem into the table): the stream then rebuilds every view and every consumer's
table, which are never restored themselves - they are recomputed. Queues, logs and stream
positions are not kept. A snapshot is written back only into an empty table, and removed once
written, so an older snapshot never overwrites newer data."""
from __future__ import annotations

import base64
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ddblab.core.aws import find, paged
from ddblab.core.settings import per_port
from ddblab.data import batches
from ddblab.stack.code import handler_module
from ddblab.stack.model import Names

projection = handler_module("projection")
FOLDER = "snapshot"  # in the run directory: <table>.jsonl, one item a line in DynamoDB JSON
SEGMENTS = 4  # parallel scan


@dataclass(frozen=True)
class Kept:
    table: str
    items: int
    seconds: float
    path: Path
    note: str = ""  # why it was not restored, when it was not
    placed: int = 0  # of the items written back, those replicate places in users_by_location


def source_tables(stack) -> list:
    """The tables that feed the stream and that no consumer writes: the data that is yours."""
    return [t.name for t in stack.tables if t.stream]


USERS = Names("").users  # a stack's users table is <prefix>users


def prefix_of(table: str) -> str | None:
    """The stack prefix of a saved users table (None for any other table)."""
    return table[: -len(USERS)] if table.endswith(USERS) else None


def stack_prefixes(client, base: str = USERS) -> list:
    """The prefixes of every stack on the emulator (STACK_PREFIX=dev1- makes dev1-users): each
    stream-enabled table named <prefix>users. make down keeps them all, since stopping the
    emulator loses every stack's data, not only this one's."""
    prefixes = []
    for table in sorted(t for t in paged(client, "list_tables", "TableNames") if t.endswith(base)):
        described = find(client.describe_table, "ResourceNotFoundException", TableName=table)
        if described and described["Table"].get("StreamSpecification", {}).get("StreamEnabled"):
            prefixes.append(table[: -len(base)])
    return sorted(prefixes)


def waiting(settings, restored: list) -> list:
    """Saved tables still in the folder after a make up wrote back its own: other stacks' data."""
    done = {k.table for k in restored}
    return sorted(p.stem for p in folder(settings).glob("*.jsonl") if p.stem not in done) if folder(settings).exists() else []


def folder(settings) -> Path:
    return Path(settings.run_dir) / per_port(FOLDER, settings.port)


def stream_form(value):
    """An item's value as JSON can hold it: binaries as base64 text, as stream records carry them."""
    if isinstance(value, dict):
        return {k: base64.b64encode(v).decode() if k == "B" and isinstance(v, (bytes, bytearray)) else
                [base64.b64encode(b).decode() for b in v] if k == "BS" else stream_form(v) for k, v in value.items()}
    if isinstance(value, list):
        return [stream_form(v) for v in value]
    return value


def scan_all(client, table: str) -> list:
    def segment(number: int) -> list:
        pages = client.get_paginator("scan").paginate(TableName=table, Segment=number, TotalSegments=SEGMENTS,
                                                      ConsistentRead=True)
        return [item for page in pages for item in page["Items"]]
    with ThreadPoolExecutor(SEGMENTS) as pool:
        return [item for part in pool.map(segment, range(SEGMENTS)) for item in part]


def save(client, settings, tables: list) -> list:
    """Write each table to <run dir>/snapshot/<table>.jsonl (whole, or not at all)."""
    kept = []
    folder(settings).mkdir(parents=True, exist_ok=True)
    for table in tables:
        started = time.monotonic()
        items = scan_all(client, table)
        path = folder(settings) / f"{table}.jsonl"
        partial = path.with_suffix(".jsonl.partial")
        with open(partial, "w") as f:
            for item in items:
                f.write(json.dumps(stream_form(item), sort_keys=True) + "\n")
        os.replace(partial, path)
        kept.append(Kept(table, len(items), time.monotonic() - started, path))
    return kept


def restore(client, settings, tables: list, workers: int = 8) -> list:
    """Write each saved table back into its (empty) table, then remove the snapshot."""
    done = []
    for table in tables:
        path = folder(settings) / f"{table}.jsonl"
        if not path.exists():
            continue
        if client.scan(TableName=table, Limit=1, Select="COUNT").get("Count"):
            done.append(Kept(table, 0, 0.0, path, f"{table} holds items already: the snapshot was not written over "
                                                  f"them (it stays in {path}; make down ARGS=--discard forgets it)"))
            continue
        started = time.monotonic()
        with open(path) as f:
            items = [projection.item_to_client_form(json.loads(line)) for line in f if line.strip()]
        batches.write_all(client, table, batches.puts(items), workers=workers)
        path.unlink()
        done.append(Kept(table, len(items), time.monotonic() - started, path, placed=sum(map(placeable, items))))
    return done


def placeable(item: dict) -> bool:
    try:
        projection.project(item)
        return True
    except projection.Unplaceable:
        return False


def count(client, table: str) -> int:
    return sum(page["Count"] for page in client.get_paginator("scan").paginate(TableName=table, Select="COUNT"))


def discard(settings) -> list:
    """Forget every snapshot; returns the files removed."""
    gone = sorted(folder(settings).glob("*.jsonl*")) if folder(settings).exists() else []
    for path in gone:
        path.unlink()
    return gone
