"""Bring back what the quarantine and dead-letter queues hold, never going back in time
(DESIGN.md decision 10): a message only names users; each named user's *current* item in
`users` is re-projected (or, if the user is gone or still cannot be placed, the user's rows
are removed), and a message is deleted only once every user it names is in step.

Quarantine messages carry the record (or its keys, when it was too big). Dead-letter
messages carry where the batch was - stream, shard, first and last sequence number
(DDBStreamBatchInfo) - not the records: they are read back from the stream while it still
holds them (24 hours on AWS). A dead letter of `audit` is replayed to audit as the batch it
was: audit only logs what happened, so the past is what it should see.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from ddblab.core.aws import error_code, error_message, function_name
from ddblab.core.kinds import QueueKind
from ddblab.data.reconciliation import scan
from ddblab.stack.code import handler_module

projection = handler_module("projection")
HIDE_SECONDS = 120  # messages being worked on are invisible to other readers meanwhile
ROUNDS = 3  # re-read and re-check this often when the stream changes a user meanwhile


@dataclass
class Message:
    queue: str  # quarantine | dlq
    receipt: str
    body: dict
    emails: set = field(default_factory=set)
    replay: list | None = None  # audit's dead letters: the records to hand it again
    left: str = ""  # why it stays, when it does

    @property
    def label(self) -> str:
        if self.queue == QueueKind.QUARANTINE:
            return f"quarantine: {', '.join(sorted(self.emails)) or '?'} ({self.body.get('reason', 'no reason given')})"
        info = self.body.get("DDBStreamBatchInfo", {})
        return (f"dead letter: {info.get('batchSize', '?')} records, sequence {info.get('startSequenceNumber')}.."
                f"{info.get('endSequenceNumber')} ({self.body.get('requestContext', {}).get('condition', '?')})")


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
    streams, names = live.client("dynamodbstreams"), live.names
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
        try:
            records = stream_records(streams, info)
        except LookupError as error:
            m.left = f"{error} - repair the target from users instead: make reconcile ARGS=--fix"
            continue
        function = function_name(m.body.get("requestContext", {}).get("functionArn", ""))
        if function == names.audit:
            m.replay = records
        else:
            m.emails = emails_of(records)
    return messages


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
            answer = lam.invoke(FunctionName=names.audit, Payload=json.dumps({"Records": m.replay}).encode())
            if answer.get("FunctionError"):
                m.left = f"audit failed again: {answer['Payload'].read()[:200]!r}"
        if not m.left and m.emails & outcome.stuck:
            m.left = "; ".join(f"{e}: {outcome.users[e]}" for e in sorted(m.emails & outcome.stuck))
        if m.left or dry_run:
            (outcome.left if m.left else outcome.redriven).append(m)
            sqs.change_message_visibility(QueueUrl=live.queue_url(m.queue), ReceiptHandle=m.receipt, VisibilityTimeout=0)
        else:
            sqs.delete_message(QueueUrl=live.queue_url(m.queue), ReceiptHandle=m.receipt)
            outcome.redriven.append(m)
    return outcome
