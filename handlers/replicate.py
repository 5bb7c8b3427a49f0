"""Keeps users_by_location in step with the users stream.

A batch is folded into the final write per target key (projection.fold), written with
BatchWriteItem, and the records that cannot be placed go to the quarantine queue with the
reason - they never block the stream. If a write still fails after retries, the function
raises *after* applying what it could: the whole batch is then retried, which is cheap and
correct because the fold is idempotent. Partial batch responses are not used on purpose:
MiniStack ignores them for streams and would drop the records reported as failed.
"""
from __future__ import annotations

import json
import os
import random
import time

import boto3
import environment
import log_lines
import projection
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

TARGET_TABLE, QUARANTINE_QUEUE_URL = environment.require(environment.TARGET_TABLE, environment.QUARANTINE_QUEUE_URL)
BATCH_LIMIT = 25  # BatchWriteItem's limit per call
# SQS took 256 KiB per message and per batch until 2025 (1 MiB since); stay under the old
# limit so the quarantine works on every backend.
QUARANTINE_MESSAGE_LIMIT = 256 * 1024 - 1024
ATTEMPTS = int(os.environ.get("WRITE_ATTEMPTS", "8"))
SAFETY_SECONDS = 5  # stop retrying this long before the function would time out

# One retry policy for the target writes, ours: throttling, 5xx, connection errors and
# UnprocessedItems (which botocore never retries) all go through _write_chunk's loop -
# short jittered backoff from 50 ms to 2 s. botocore's own backoff grows to seconds per
# call, and a stream handler that sleeps holds up its whole shard (on MiniStack, every
# stream).
_config = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=5, read_timeout=20)
_queue_config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=20)
dynamodb = boto3.client("dynamodb", config=_config)
sqs = boto3.client("sqs", config=_queue_config)


class ReplicationFailed(RuntimeError):
    """Raised so the stream retries the whole batch; the message says what was left."""

    def __init__(self, message: str, stats: dict | None = None):
        super().__init__(message)
        self.stats = stats or {}


def _backoff(attempt: int) -> None:
    time.sleep(min(2.0, 0.05 * 2 ** attempt) * random.uniform(0.5, 1.0))


def _request(op) -> dict:
    if isinstance(op, projection.Put):
        return {"PutRequest": {"Item": projection.item_to_client_form(op.item)}}
    return {"DeleteRequest": {"Key": op.key}}


def _write_chunk(client, requests: list, attempts: int, stats: dict, deadline: float | None) -> tuple:
    """One BatchWriteItem chunk with retries. Returns (requests left unwritten, last error,
    whether the table refused them for good)."""
    pending: list = requests
    last_error: Exception | str | None = None
    for attempt in range(attempts):
        try:
            answer = client.batch_write_item(RequestItems={TARGET_TABLE: pending})
        except ClientError as error:
            if projection.refused_for_good(error):
                return pending, error, True
            last_error = error
        except BotoCoreError as error:
            last_error = error
        else:
            pending = answer.get("UnprocessedItems", {}).get(TARGET_TABLE, [])
            if not pending:
                return [], None, False
            last_error = f"{len(pending)} unprocessed items"
        if attempt + 1 == attempts or (deadline is not None and time.monotonic() > deadline):
            break
        stats["retries"] += 1
        _backoff(attempt)
    return pending, last_error, False


def write(writes: list, client=None, attempts: int = ATTEMPTS, deadline: float | None = None) -> dict:
    """Write Put/Delete operations in chunks of 25, retrying throttling, errors and
    UnprocessedItems until `attempts` or `deadline` (time.monotonic()). A chunk the table
    refuses for good is retried one write at a time, so only the writes that can never
    succeed are set apart - returned as stats["rejected"], [(op, reason)] - and the rest
    are applied. Raises ReplicationFailed, after applying what it could, if writes are
    still left: the stream then retries the batch."""
    client = client or dynamodb
    stats: dict = {"retries": 0, "rejected": []}
    failed: list = []
    last_error: Exception | str | None = None
    for start in range(0, len(writes), BATCH_LIMIT):
        chunk = writes[start:start + BATCH_LIMIT]
        left, error, permanent = _write_chunk(client, [_request(op) for op in chunk], attempts, stats, deadline)
        if permanent:
            for op in chunk:  # find which of them the table refuses (re-writing the others is harmless)
                single_left, single_error, single_permanent = _write_chunk(client, [_request(op)], attempts, stats, deadline)
                if single_permanent:
                    stats["rejected"].append((op, f"{TARGET_TABLE} refused the write: {single_error}"))
                elif single_left:
                    failed.extend(single_left)
                    last_error = single_error
        elif left:
            failed.extend(left)  # go on with the other chunks: apply what we can
            last_error = error
    if failed:
        raise ReplicationFailed(
            f"{len(failed)} of {len(writes)} writes to {TARGET_TABLE} failed after retries "
            f"(last error: {last_error}); the batch will be retried", stats)
    return stats


def quarantine_body(record: dict, reason: str, limit: int | None = None) -> str:
    """The message for one unplaceable record: the reason and the whole record - or, for a
    record too big for a queue message (two 400 KB images can be), its keys and position,
    so that one large record can never block the stream either."""
    limit = limit or QUARANTINE_MESSAGE_LIMIT
    body = json.dumps({"reason": reason, "record": record}, default=str)
    size = len(body.encode())
    if size <= limit:
        return body
    change = record.get("dynamodb", {})
    slim = {k: record.get(k) for k in ("eventID", "eventName", "eventSourceARN")}
    slim["dynamodb"] = {k: change.get(k) for k in ("Keys", "SequenceNumber", "ApproximateCreationDateTime", "SizeBytes")}
    return json.dumps({"reason": reason, "record": slim, "truncated":
                       f"the record is {size} bytes, over {limit}: its images are left out; "
                       "read the item from the source table by its keys"}, default=str)


def quarantine(poison: list, client=None) -> int:
    """Send each unplaceable record with its reason, in batches of at most 10 messages and
    QUARANTINE_MESSAGE_LIMIT bytes. Raises if SQS will not take them (the batch is retried)."""
    client = client or sqs
    if poison and not QUARANTINE_QUEUE_URL:
        raise ReplicationFailed("QUARANTINE_QUEUE_URL is not set; cannot quarantine poison records")
    batches: list[list] = []
    batch: list = []
    size = 0
    for record, reason in poison:
        body = quarantine_body(record, reason)
        body_size = len(body.encode())
        if batch and (len(batch) == 10 or size + body_size > QUARANTINE_MESSAGE_LIMIT):
            batches.append(batch)
            batch, size = [], 0
        batch.append(body)
        size += body_size
    if batch:
        batches.append(batch)
    for bodies in batches:
        entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies)]
        answer = client.send_message_batch(QueueUrl=QUARANTINE_QUEUE_URL, Entries=entries)
        if answer.get("Failed"):
            raise ReplicationFailed(f"quarantine queue refused {len(answer['Failed'])} records: {answer['Failed'][0]}")
    return len(poison)


def handler(event, context):
    records = event.get("Records", [])
    folded = projection.fold(records)
    summary = {log_lines.RECORDS: folded.records, log_lines.WRITES: len(folded.writes),
               log_lines.POISON: len(folded.poison)}
    deadline = None
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        # Give up retrying in time to say so, rather than be cut off by the timeout.
        deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - SAFETY_SECONDS
    stats = {}
    try:
        stats = write(list(folded.writes.values()), deadline=deadline)
        poison = list(folded.poison)
        if stats["rejected"]:
            # The target refused these for good: quarantine the records that asked for them,
            # and make sure no older version of those rows stays behind.
            poison += [(folded.sources[projection.key_id(op.key)], reason) for op, reason in stats["rejected"]]
            cleanup = write([projection.Delete(op.key) for op, _ in stats["rejected"] if isinstance(op, projection.Put)],
                            deadline=deadline)
            stats["retries"] += cleanup["retries"]
        # Quarantine after the writes: if they fail, the retry of the batch quarantines
        # once, rather than every attempt sending the poison again.
        summary.update({log_lines.RETRIES: stats["retries"], log_lines.REJECTED: len(stats["rejected"]),
                        log_lines.QUARANTINED: quarantine(poison)})
    except Exception as error:
        # One line the drill and `make logs` can count, then the batch is retried whole.
        failed = getattr(error, "stats", None) or stats
        summary.update({log_lines.RETRIES: failed.get("retries", 0), log_lines.ERROR: str(error)})
        print(json.dumps({log_lines.REPLICATE_FAILED: summary}))
        raise
    # Always one line per batch, even when nothing happened: besides `make logs`, MiniStack
    # waits up to 50 ms for output from a stream-triggered function that prints nothing,
    # and its one poller thread (every mapping's) waits with it.
    print(json.dumps({log_lines.REPLICATE: summary}))
    return summary
