"""The users stream itself, read with the DynamoDB Streams API (ListShards through
DescribeStream, GetShardIterator, GetRecords), and each record decoded to plain values.

`make watch` reads it; the decoding is audit's own (handlers/audit.py), so a record reads
the same in `make watch` as its audit line does in `make logs`.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ddblab.core.aws import error_code
from ddblab.stack.code import handler_module

if TYPE_CHECKING:
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient

audit = handler_module("audit")
log_lines = handler_module("log_lines")  # the keys of audit's line, as the handler writes them
EVENTS = ("INSERT", "MODIFY", "REMOVE")
CREATED = "created"  # added to audit's entry by entry(): when the record was written (epoch seconds)


def entry(record: dict) -> dict:
    """The record as audit logs it (log_lines.AUDIT_LINE), plus CREATED: when it was written."""
    described = audit.describe(record)
    created = epoch(record.get("dynamodb", {}).get("ApproximateCreationDateTime"))
    if created is not None:
        described[CREATED] = created
    return described


def epoch(value) -> float | None:
    """ApproximateCreationDateTime as seconds: boto3 parses it to a datetime, the Lambda
    event carries a number."""
    if value is None:
        return None
    return value.timestamp() if isinstance(value, datetime) else float(value)


def as_json(record: dict) -> str:
    """The raw record as one JSON line (its times back to the epoch seconds of the wire)."""
    return json.dumps(record, default=lambda v: epoch(v) if isinstance(v, datetime) else str(v), sort_keys=True)


def selected(record: dict, events: tuple = (), keys: tuple = ()) -> bool:
    """Is this record one the user asked to see: one of `events` (all when empty), about
    one of `keys` (values of the table's key attributes; all when empty)."""
    if events and record.get("eventName") not in events:
        return False
    if keys:
        values = {str(v) for v in entry_keys(record).values()}
        return bool(values & set(keys))
    return True


def entry_keys(record: dict) -> dict:
    return audit._decode(record.get("dynamodb", {}).get("Keys"))


@dataclass
class ShardCursor:
    shard_id: str
    start: str = "TRIM_HORIZON"  # where it was first read from: where to go back to if its iterator expires
    iterator: str | None = None
    last_sequence: str | None = None
    closed: bool = False


@dataclass
class StreamReader:
    """Every record of one stream, shard by shard, from now (LATEST) or from the oldest one
    kept (TRIM_HORIZON). Shards that appear later (a shard rolls over, or the stream splits)
    are read from their start, after their parent; an expired iterator is renewed after the
    last record seen, so nothing is skipped or repeated."""
    streams: DynamoDBStreamsClient
    stream_arn: str
    from_start: bool = False
    cursors: dict = field(default_factory=dict)  # shard id -> ShardCursor
    renewed: int = 0  # expired iterators replaced (reported by watch)
    started: bool = False

    def shards(self) -> list:
        found, start = [], None
        while True:
            kwargs: dict[str, Any] = {"StreamArn": self.stream_arn, **({"ExclusiveStartShardId": start} if start else {})}
            description = self.streams.describe_stream(**kwargs)["StreamDescription"]
            found += description.get("Shards", [])
            start = description.get("LastEvaluatedShardId")
            if not start:
                return found

    def discover(self) -> None:
        """Add shards not seen yet. On the first look, LATEST reads only the open shards from
        their end; every shard found later is new, so it is read from its start."""
        for shard in self.shards():
            shard_id = shard["ShardId"]
            if shard_id in self.cursors:
                continue
            closed = "EndingSequenceNumber" in shard.get("SequenceNumberRange", {})
            cursor = ShardCursor(shard_id, start="LATEST" if not self.started and not self.from_start else "TRIM_HORIZON")
            if cursor.start == "LATEST" and closed:
                cursor.closed = True  # all of it is in the past
            else:
                cursor.iterator = self.iterator(shard_id, cursor.start)
            self.cursors[shard_id] = cursor
        self.started = True

    def iterator(self, shard_id: str, kind: str, after: str | None = None) -> str | None:
        kwargs: dict[str, Any] = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after} if after else \
            {"ShardIteratorType": kind}
        answer = self.streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard_id, **kwargs)
        return answer.get("ShardIterator")

    def poll(self, limit: int = 1000) -> list:
        """One pass over the open shards: the records that arrived, in order per shard."""
        if not self.started or not any(not c.closed for c in self.cursors.values()):
            self.discover()
        records = []
        for cursor in list(self.cursors.values()):
            if cursor.closed or cursor.iterator is None:
                continue
            try:
                answer = self.streams.get_records(ShardIterator=cursor.iterator, Limit=limit)
            except ClientError as error:
                if error_code(error) != "ExpiredIteratorException":
                    raise
                # Iterators live 15 minutes on AWS: take a new one just after the last record seen.
                self.renewed += 1
                cursor.iterator = self.iterator(cursor.shard_id, cursor.start, after=cursor.last_sequence)
                continue
            batch = answer.get("Records", [])
            if batch:
                cursor.last_sequence = batch[-1]["dynamodb"]["SequenceNumber"]
            records += batch
            cursor.iterator = answer.get("NextShardIterator")
            if cursor.iterator is None:  # the shard is closed and read to its end: look for its children
                cursor.closed = True
                self.discover()
        return records

    def follow(self, idle: float = 0.25):
        """Records as they arrive, forever (Ctrl-C ends it). A full answer polls again at
        once, so a bulk load is drained as fast as GetRecords serves it."""
        last_discovery = time.monotonic()
        while True:
            batch = self.poll()
            yield from batch
            if time.monotonic() - last_discovery > 5:  # new shards, even while old ones stay open
                self.discover()
                last_discovery = time.monotonic()
            if not batch:
                time.sleep(idle)


def newest_position(streams, stream_arn: str) -> str | None:
    """The sequence number of the newest record the stream holds now (of its shards, the
    highest: an emulator has one), read from the start; None when it holds none."""
    reader = StreamReader(streams, stream_arn, from_start=True)
    while reader.poll():
        pass
    return max((c.last_sequence for c in reader.cursors.values() if c.last_sequence), key=int, default=None)
