"""What the quarantine and dead-letter queues hold, read without taking anything away.

SQS has no "peek", and a receive returns at most 10 messages - on MiniStack always the oldest
10 visible ones, so receiving with VisibilityTimeout=0 would never see past them. Each message
read is hidden while the reading goes on (HIDE_SECONDS at most, should the reader die), then
all are made visible again at once: reading never takes a message away, and delays a redrive
by the time it takes to read. Only the receive count goes up. Nothing is deleted here.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass

from ddblab.core.aws import function_name
from ddblab.core.kinds import QueueKind
from ddblab.core.output import plural
from ddblab.stack.code import handler_module


@dataclass(frozen=True)
class Message:
    queue: str  # quarantine | dlq
    message_id: str
    sent: float | None  # epoch seconds
    user: str  # the email (or emails) it is about, as far as the body says
    reason: str
    detail: str  # dead letters: the batch (shard, sequence range, size); quarantine: the event
    function: str = ""  # dead letters: the function whose batch it was

    @property
    def age(self) -> float | None:
        return None if self.sent is None else max(0.0, time.time() - self.sent)


HIDE_SECONDS = 30


def peek(sqs, queue_url: str, kind: str, limit: int = 100) -> list:
    """Up to `limit` messages of the queue, oldest first, left in the queue (visible again)."""
    seen: dict = {}
    handles: list = []
    try:
        while len(seen) < limit:
            answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=min(10, limit - len(seen)),
                                         VisibilityTimeout=HIDE_SECONDS, WaitTimeSeconds=0, AttributeNames=["SentTimestamp"])
            messages = answer.get("Messages", [])
            if not messages:
                break
            for raw in messages:
                handles.append(raw["ReceiptHandle"])
                seen.setdefault(raw["MessageId"], parse(kind, raw))
    finally:
        hidden = make_visible(sqs, queue_url, handles)
        if hidden:
            print(f"note: {plural(hidden, 'message')} of {queue_url.rsplit('/', 1)[-1]} could not be made visible again at once: "
                  f"they come back by themselves within {HIDE_SECONDS} s", file=sys.stderr)
    return sorted(seen.values(), key=lambda m: m.sent or 0)


def make_visible(sqs, queue_url: str, handles) -> int:
    """Make the received messages visible again at once (10 a call, as SQS takes them); how
    many SQS would not (they come back when their visibility timeout ends)."""
    handles, failed = list(handles), 0
    for start in range(0, len(handles), 10):
        answer = sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
            for i, handle in enumerate(handles[start:start + 10])])
        failed += len(answer.get("Failed", []))
    return failed


def parse(kind: str, raw: dict) -> Message:
    sent = raw.get("Attributes", {}).get("SentTimestamp")
    sent = int(sent) / 1000 if sent else None
    try:
        body = json.loads(raw.get("Body") or "")
    except ValueError:
        body = {"reason": f"not JSON: {(raw.get('Body') or '')[:200]}"}
    body = body if isinstance(body, dict) else {"raw": body}
    if kind == QueueKind.DLQ:
        user, reason, detail = dead_letter(body)
        arn = str((body.get("requestContext") or {}).get("functionArn", ""))
        return Message(kind, raw["MessageId"], sent, user, reason, detail, function_name(arn) if arn else "")
    user, reason, detail = quarantined(body)
    return Message(kind, raw["MessageId"], sent, user, reason, detail)


def quarantined(body: dict) -> tuple:
    """replicate's message: {"reason", "record"} (handlers/replicate.py quarantine_body)."""
    record = body.get("record") or {}
    keys = (record.get("dynamodb") or {}).get("Keys") or {}
    audit = handler_module("audit")
    user = ",".join(str(v) for v in audit._decode(keys).values()) if keys else "?"
    detail = f"{record.get('eventName', '?')} seq {(record.get('dynamodb') or {}).get('SequenceNumber', '?')}"
    if body.get("truncated"):
        detail += " (record truncated: too big for a message)"
    return user, str(body.get("reason") or body.get("raw") or "?"), detail


def dead_letter(body: dict) -> tuple:
    """A mapping's OnFailure message: the batch, not its records (AWS, LocalStack, MiniStack
    alike send DDBStreamBatchInfo). The users are in the stream at that range, if still kept."""
    info = body.get("DDBStreamBatchInfo") or {}
    context = body.get("requestContext") or {}
    response = body.get("responseContext") or {}
    function = function_name(str(context.get("functionArn", "?")))
    reason = context.get("condition") or "?"
    if response.get("functionError"):
        reason += f" ({response['functionError']})"
    detail = (f"{function}: batch of {info.get('batchSize', '?')} on shard {info.get('shardId', '?')}, "
              f"sequence {info.get('startSequenceNumber', '?')}..{info.get('endSequenceNumber', '?')}")
    if "DDBStreamBatchInfo" not in body:
        detail = json.dumps(body)[:200]
    return "(a batch: run make watch ARGS=--from-start to see its records)", reason, detail


def ago(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"
