"""Bring back what the quarantine and dead-letter queues hold, never going back in time
(DESIGN.md decision 10): a message only names users; each named user's *current* item in
`users` is re-projected (or, if the user is gone or still cannot be placed, the user's rows
are removed), and a message is deleted only once every user it names is in step.

Quarantine messages carry the record (or its keys, when it was too big). Dead-letter
messages carry the function that failed the batch and where the batch was - stream, shard,
first and last sequence number (DDBStreamBatchInfo) - not the records: they are read back
from the stream while it still holds them (24 hours on AWS). What is done with them depends on
the consumer that failed them (ddblab/stack/consumers.py): replicate's view is recomputed from
each named user's current item; every other consumer ("replay only": audit logs what
happened, a consumer from the template writes a row only if the change is newer than the
row's) gets its batch handed back, in order, and the message goes only once the function has
succeeded on every record. A dead letter of a function the description does not know stays.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime

from botocore.exceptions import ClientError

from ddblab.core.aws import error_code, error_message, function_name
from ddblab.core.kinds import QueueKind
from ddblab.core.output import count_of, plural
from ddblab.data.reconciliation import scan
from ddblab.stack.code import handler_module

projection = handler_module("projection")
HIDE_SECONDS = 120  # messages being worked on are invisible to other readers meanwhile
ROUNDS = 3  # re-read and re-check this often when the stream changes a user meanwhile
REPLAY_CHUNK = 100  # records per invocation when a batch is handed back (the payload stays well under 6 MB)
RECOMPUTED = "replicate"  # the consumer whose dead letters are put right from users' current state


@dataclass
class Message:
    queue: str  # quarantine | dlq
    receipt: str
    body: dict
    emails: set = field(default_factory=set)
    replay: list | None = None  # a replay-only consumer's dead letter: the records to hand it again
    left: str = ""  # why it stays, when it does

    @property
    def function(self) -> str:
        """The function that failed the batch (a dead letter's requestContext), '' if none is named."""
        return function_of(self.body)

    @property
    def label(self) -> str:
        if self.queue == QueueKind.QUARANTINE:
            return f"quarantine: {', '.join(sorted(self.emails)) or '?'} ({self.body.get('reason', 'no reason given')})"
        info = self.body.get("DDBStreamBatchInfo", {})
        return (f"dead letter of {self.function or '?'}: {count_of(info.get('batchSize'), 'record')}, sequence "
                f"{info.get('startSequenceNumber')}..{info.get('endSequenceNumber')} "
                f"({self.body.get('requestContext', {}).get('condition', '?')})")


def function_of(body: dict) -> str:
    """The function a dead letter names (its requestContext), '' when it names none."""
    arn = str(body.get("requestContext", {}).get("functionArn", ""))
    return function_name(arn) if ":function:" in arn else ""


def lambda_record(record: dict, stream_arn: str) -> dict:
    """A record as GetRecords returns it through boto3, in the form Lambda hands it to a
    function: times as epoch seconds, binaries as base64 text, the stream's ARN added."""
    def plain(value):
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, (bytes, bytearray)):
            return base64.b64encode(value).decode()
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple, set)):
            return [plain(v) for v in value]
        return value
    return {**plain(record), "eventSourceARN": stream_arn}


@dataclass
class Outcome:
    redriven: list = field(default_factory=list)  # Message
    left: list = field(default_factory=list)  # Message (with .left)
    users: dict = field(default_factory=dict)  # email -> what was done, or why it is not in step
    stuck: set = field(default_factory=set)  # emails not in step


def receive_all(sqs, url: str, queue: str) -> list:
    """Every message of a queue, hidden while we work (they come back if we stop)."""
    messages: list[Message] = []
    while True:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=HIDE_SECONDS,
                                     WaitTimeSeconds=0)
        batch = answer.get("Messages", [])
        if not batch:
            return messages
        for m in batch:
            try:
                body = json.loads(m["Body"])
            except ValueError:
                body = {"unreadable": m["Body"][:200]}
            messages.append(Message(queue, m["ReceiptHandle"], body))


def emails_of(records: list) -> set:
    return {r.get("dynamodb", {}).get("Keys", {}).get("email", {}).get("S") for r in records} - {None}


def stream_records(streams, info: dict) -> list:
    """The records of a dead-lettered batch, read back from the stream; raises LookupError
    (saying why) when the stream no longer holds them."""
    start, end = info.get("startSequenceNumber"), info.get("endSequenceNumber")
    if start is None or end is None:
        raise LookupError("the dead letter does not say where its batch was (no start or end sequence number)")
    try:
        iterator = streams.get_shard_iterator(StreamArn=info["streamArn"], ShardId=info["shardId"],
                                              ShardIteratorType="AT_SEQUENCE_NUMBER",
                                              SequenceNumber=start)["ShardIterator"]
    except ClientError as error:
        code = error_code(error)
        if code in ("TrimmedDataAccessException", "ResourceNotFoundException", "ValidationException"):
            raise LookupError(f"the stream no longer holds these records ({code}: the stream was trimmed or "
                              "replaced)") from None
        raise
    records = []
    for _ in range(1000):  # a dead-lettered batch is at most 10,000 records
        page = streams.get_records(ShardIterator=iterator, Limit=1000)
        for record in page.get("Records", []):
            records.append(record)
            if int(record["dynamodb"]["SequenceNumber"]) >= int(end):
                return records
        iterator = page.get("NextShardIterator")
        if not iterator or not page.get("Records"):
            break
    if not records:
        raise LookupError("the stream no longer holds these records")
    return records


def placement(client, users_table: str, email: str) -> tuple:
    """(the target item the user's current state asks for or None, why it is None or '')."""
    current = client.get_item(TableName=users_table, Key={"email": {"S": email}}, ConsistentRead=True).get("Item")
    if current is None:
        return None, ""  # gone: no row wanted
    try:
        return projection.project(current), ""
    except projection.Unplaceable as reason:
        return None, f"still cannot be placed: {reason}"


def rows_by_email(client, target_table: str, emails: set) -> dict:
    """The target rows of these users, wherever they are (a moved user has left rows elsewhere)."""
    rows: dict[str, list[dict]] = {email: [] for email in emails}
    for item in scan(client, target_table):
        email = item.get("email", {}).get("S")
        if email in rows:
            rows[email].append(item)
    return rows


def step(client, names, emails: set, dry_run: bool) -> dict:
    """Put each user's rows in step with its current item; returns email -> (in step, what)."""
    rows = rows_by_email(client, names.target, emails)
    result = {}
    for email in sorted(emails):
        wanted, why = placement(client, names.users, email)
        have = rows[email]
        stale = [r for r in have if wanted is None or projection.key_id(r) != projection.key_id(wanted)]
        fresh = wanted is not None and any(projection.key_id(r) == projection.key_id(wanted)
                                           and projection.same_item(r, wanted) for r in have)
        todo = [f"delete {r['state']['S']} / {r['city_email']['S']}" for r in stale]
        if wanted is not None and not fresh:
            todo.append(f"put {wanted['state']['S']} / {wanted['city_email']['S']}")
        if dry_run:
            result[email] = (not todo and not why, "; ".join(todo) or "in step", why)
            continue
        try:
            for r in stale:
                client.delete_item(TableName=names.target, Key=projection.key_of(r))
            if wanted is not None and not fresh:
                client.put_item(TableName=names.target, Item=projection.item_to_client_form(wanted))
        except ClientError as error:
            if not projection.refused_for_good(error):
                raise
            why = f"{names.target} refused the write: {error_message(error)}"
        result[email] = (not why, "; ".join(todo) or "already in step", why)
    return result


def in_step(client, names, emails: set) -> set:
    """The users whose target rows are exactly what their current item asks for: those the
    plan of a dry run leaves nothing to do for."""
    return {email for email, (ok, _, _) in step(client, names, emails, dry_run=True).items() if ok}


def read_messages(live) -> list:
    """Every message of both queues, with the users it names (or the records to replay)."""
    streams, spec = live.client("dynamodbstreams"), live.stack
    messages = []
    for queue in QueueKind:
        messages += receive_all(live.sqs, live.queue_url(queue), queue)
    for m in messages:
        if m.queue == QueueKind.QUARANTINE:
            m.emails = emails_of([m.body.get("record", {})])
            if not m.emails:
                m.left = "names no user (no email key in the record)"
            continue
        info = m.body.get("DDBStreamBatchInfo")
        if not info:
            m.left = "not a dead letter of a stream batch (no DDBStreamBatchInfo)"
            continue
        consumer = spec.consumer(m.function) if m.function else None
        if consumer is None:
            m.left = (f"it names function {m.function!r}, which is no consumer of this stack (ddblab/stack/consumers.py): "
                      "nothing replayed" if m.function else "it names no function (no requestContext.functionArn)")
            continue
        try:
            records = stream_records(streams, info)
        except LookupError as error:
            fix = "make reconcile ARGS=--fix" if consumer.reconcile else \
                f"{consumer.module} is replay only: rebuild its table from users by hand"
            m.left = f"{error} - repair it from users instead: {fix}"
            continue
        if consumer.module == RECOMPUTED:
            m.emails = emails_of(records)
        else:
            m.replay = [lambda_record(r, info["streamArn"]) for r in records]
    return messages


def replay(lam, function: str, records: list) -> str:
    """Hand the records to the function again, in order, a chunk per invocation; '' when it
    succeeded on every one, else why not (the chunks after a failure are not sent)."""
    for start in range(0, len(records), REPLAY_CHUNK):
        chunk = records[start:start + REPLAY_CHUNK]
        answer = lam.invoke(FunctionName=function, Payload=json.dumps({"Records": chunk}).encode())
        raw = answer["Payload"].read()
        if answer.get("FunctionError"):
            try:
                error = json.loads(raw)
                why = f"{error.get('errorType', 'error')}: {error.get('errorMessage', '')}".strip()
            except (ValueError, AttributeError):
                why = raw[:200].decode(errors="replace")
            return f"{function} failed again on records {start + 1}..{start + len(chunk)}: {why[:300]}"
        try:
            returned = json.loads(raw) if raw else None
        except ValueError:
            returned = None
        failures = returned.get("batchItemFailures") if isinstance(returned, dict) else None
        if failures:
            return f"{function} reported {plural(len(failures), 'record')} it could not apply (batchItemFailures)"
    return ""


def redrive(live, dry_run: bool = False) -> Outcome:
    sqs, client, names = live.sqs, live.dynamodb, live.names
    lam = live.client("lambda")
    outcome = Outcome()
    messages = read_messages(live)
    emails = set().union(*(m.emails for m in messages)) if messages else set()
    if dry_run:
        results = step(client, names, emails, dry_run=True)
        done = {e for e, (ok, _, _) in results.items() if ok}
    else:
        results, pending = {}, set(emails)
        for _ in range(ROUNDS):  # the stream may change a user meanwhile: re-read until it holds still
            results.update(step(client, names, pending, dry_run=False))
            done = in_step(client, names, emails)
            pending = {e for e in emails - done if not results[e][2]}  # those with a reason to stay, stay
            if not pending:
                break
    outcome.users = {e: what if e in done else (why or "not in step after redrive")
                     for e, (_, what, why) in results.items()}
    outcome.stuck = emails - done
    for m in messages:
        if not m.left and m.replay is not None and not dry_run:
            m.left = replay(lam, m.function, m.replay)
        if not m.left and m.emails & outcome.stuck:
            m.left = "; ".join(f"{e}: {outcome.users[e]}" for e in sorted(m.emails & outcome.stuck))
        if m.left or dry_run:
            (outcome.left if m.left else outcome.redriven).append(m)
            sqs.change_message_visibility(QueueUrl=live.queue_url(m.queue), ReceiptHandle=m.receipt, VisibilityTimeout=0)
        else:
            sqs.delete_message(QueueUrl=live.queue_url(m.queue), ReceiptHandle=m.receipt)
            outcome.redriven.append(m)
    return outcome
