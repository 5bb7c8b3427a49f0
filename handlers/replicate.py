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
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

import projection

TARGET_TABLE = os.environ.get("TARGET_TABLE", "users_by_location")
QUARANTINE_QUEUE_URL = os.environ.get("QUARANTINE_QUEUE_URL", "")
BATCH_LIMIT = 25  # BatchWriteItem's limit per call
ATTEMPTS = int(os.environ.get("WRITE_ATTEMPTS", "6"))

# botocore's standard retry mode already backs off on throttling and 5xx; the loop below
# adds the retries of UnprocessedItems, which come back in a 200 and botocore never retries.
_config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=20)
dynamodb = boto3.client("dynamodb", config=_config)
sqs = boto3.client("sqs", config=_config)


class ReplicationFailed(RuntimeError):
    """Raised so the stream retries the whole batch; the message says what was left."""

    def __init__(self, message: str, stats: dict | None = None):
        super().__init__(message)
        self.stats = stats or {}


def _backoff(attempt: int) -> None:
    time.sleep(min(2.0, 0.05 * 2 ** attempt) * random.uniform(0.5, 1.0))


def write(writes: list, client=None, attempts: int = ATTEMPTS) -> dict:
    """Write Put/Delete operations in chunks of 25; returns counts, raises what is left."""
    client = client or dynamodb
    requests = []
    for op in writes:
        if isinstance(op, projection.Put):
            requests.append({"PutRequest": {"Item": projection.item_to_client_form(op.item)}})
        else:
            requests.append({"DeleteRequest": {"Key": op.key}})
    stats = {"written": 0, "retries": 0, "sdk_retries": 0}
    failed, last_error = [], None
    for start in range(0, len(requests), BATCH_LIMIT):
        pending = requests[start:start + BATCH_LIMIT]
        for attempt in range(attempts):
            try:
                answer = client.batch_write_item(RequestItems={TARGET_TABLE: pending})
            except (ClientError, BotoCoreError) as error:
                last_error = error
                if isinstance(error, ClientError):
                    stats["sdk_retries"] += error.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
            else:
                stats["sdk_retries"] += answer.get("ResponseMetadata", {}).get("RetryAttempts", 0)
                left = answer.get("UnprocessedItems", {}).get(TARGET_TABLE, [])
                stats["written"] += len(pending) - len(left)
                pending = left
                if not pending:
                    break
                last_error = f"{len(pending)} unprocessed items"
            if attempt + 1 < attempts:
                stats["retries"] += 1
                _backoff(attempt)
        else:
            failed.extend(pending)  # go on with the other chunks: apply what we can
    if failed:
        raise ReplicationFailed(
            f"{len(failed)} of {len(requests)} writes to {TARGET_TABLE} failed after "
            f"{attempts} attempts (last error: {last_error}); the batch will be retried", stats)
    return stats


def quarantine(poison: list, client=None) -> int:
    """Send each unplaceable record, whole, with its reason. Raises if SQS will not take it."""
    client = client or sqs
    if poison and not QUARANTINE_QUEUE_URL:
        raise ReplicationFailed("QUARANTINE_QUEUE_URL is not set; cannot quarantine poison records")
    for start in range(0, len(poison), 10):
        entries = [
            {"Id": str(i), "MessageBody": json.dumps({"reason": reason, "record": record}, default=str)}
            for i, (record, reason) in enumerate(poison[start:start + 10])
        ]
        answer = client.send_message_batch(QueueUrl=QUARANTINE_QUEUE_URL, Entries=entries)
        if answer.get("Failed"):
            raise ReplicationFailed(f"quarantine queue refused {len(answer['Failed'])} records")
    return len(poison)


def handler(event, context):
    records = event.get("Records", [])
    folded = projection.fold(records)
    summary = {"records": folded.records, "writes": len(folded.writes), "poison": len(folded.poison)}
    try:
        stats = write(list(folded.writes.values()))
        # Quarantine after the writes: if they fail, the retry of the batch quarantines
        # once, rather than every attempt sending the poison again.
        summary.update(retries=stats["retries"], sdk_retries=stats["sdk_retries"], quarantined=quarantine(folded.poison))
    except Exception as error:
        # One line the drill and `make logs` can count, then the batch is retried whole.
        summary.update(getattr(error, "stats", {}))
        print(json.dumps({"replicate_failed": {**summary, "error": str(error)}}))
        raise
    print(json.dumps({"replicate": summary}))
    return summary
