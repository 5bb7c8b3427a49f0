"""Invoke a deployed function with an event, print what it returned and the log lines of
that invocation.

    ddblab invoke audit --event event.json
    ddblab event stream --email ada@example.com | ddblab invoke replicate
    ddblab invoke replicate --records recorded.jsonl [--batch-size 100]

--records replays stream records written by `ddblab watch --record` (JSON lines, one raw
stream record a line), one batch per invocation, in the order they were recorded. The log
lines come with the answer where the backend sends them (LogType=Tail: AWS, LocalStack),
else from CloudWatch Logs by the invocation's request id (MiniStack).
"""
from __future__ import annotations

import base64
import json
import sys
import time

from ddblab.core.output import plural
from ddblab.core.settings import UserError
from ddblab.core.waiting import wait_for
from ddblab.stack.consumers import function_modules
from ddblab.stack.deployed import Deployed
from ddblab.stack.model import Names

HELP = "invoke a function with an event (file or stdin), print its answer and its log lines"
FUNCTIONS = function_modules()  # the stack description's: a new consumer is invoked like the others


def configure(parser) -> None:
    parser.add_argument("function", choices=FUNCTIONS)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--event", metavar="FILE", help="the event (JSON); - or nothing: standard input")
    source.add_argument("--records", metavar="FILE", help="stream records, one JSON a line (ddblab watch --record)")
    parser.add_argument("--batch-size", type=int, default=100, help="records per invocation with --records")
    parser.add_argument("--no-logs", action="store_true", help="only what the function returned")


def read_event(path: str | None) -> dict:
    if path in (None, "-"):
        if sys.stdin.isatty():
            raise UserError("give --event FILE, or pipe an event in: ddblab event ... | ddblab invoke FUNCTION")
        text, where = sys.stdin.read(), "standard input"
    else:
        try:
            text, where = open(path).read(), path
        except OSError as error:
            raise UserError(f"cannot read {path}: {error.strerror}") from None
    try:
        return json.loads(text)
    except ValueError as error:
        raise UserError(f"{where} is not JSON: {error}") from None


def read_records(path: str) -> list:
    records = []
    try:
        lines = open(path).read().splitlines()
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as error:
            raise UserError(f"{path}, line {number}: not JSON ({error})") from None
        if not isinstance(record, dict) or "dynamodb" not in record:
            raise UserError(f"{path}, line {number}: not a stream record (no 'dynamodb')")
        records.append(record)
    return records


def invoke(lam, name: str, event: dict) -> tuple:
    """(status, function error or None, what it returned, request id, log text or None)."""
    answer = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode(), LogType="Tail")
    raw = answer["Payload"].read()
    try:
        returned = json.loads(raw) if raw else None
    except ValueError:
        returned = raw.decode(errors="replace")
    tail = answer.get("LogResult")
    logs = base64.b64decode(tail).decode(errors="replace") if tail else None
    return (answer.get("StatusCode"), answer.get("FunctionError"), returned,
            answer["ResponseMetadata"].get("RequestId", ""), logs)


def block(events: list, request_id: str, since_ms: int) -> list | None:
    """The START..END lines of this request id; else (MiniStack 1.5.33 logs its own request
    ids, not the one the invoke answered with) the first invocation that started after
    since_ms, marked as matched by time."""
    starts = [i for i, e in enumerate(events) if e["message"].startswith("START RequestId:")]
    mine = [i for i in starts if request_id in events[i]["message"]]
    by_time = not mine
    chosen = mine[:1] or [i for i in starts if events[i]["timestamp"] >= since_ms][:1]
    if not chosen:
        return None
    found = []
    for event in events[chosen[0]:]:
        found.append(event["message"].rstrip("\n"))
        if event["message"].startswith("END RequestId:"):
            return found + (["(matched by time: the backend logs its own request ids)"] if by_time else [])
    return None


def logs_of(live: Deployed, function: str, request_id: str, since_ms: int, timeout: float = 10.0) -> str:
    """The log lines of one invocation, from the function's log group."""
    logs = live.client("logs")
    group = Names.log_group(function)

    def lines():
        pages = logs.get_paginator("filter_log_events").paginate(logGroupName=group, startTime=since_ms - 1000)
        events = sorted((e for page in pages for e in page.get("events", [])), key=lambda e: e["timestamp"])
        return block(events, request_id, since_ms - 50)
    try:
        return "\n".join(wait_for(lines, f"the log lines of request {request_id} in {group}", timeout=timeout))
    except Exception as error:  # noqa: BLE001 - the answer is printed already; the logs are a bonus
        return f"(no log lines found for request {request_id} in {group}: {error}; try: make logs)"


def show(live: Deployed, name: str, started_ms: int, result: tuple, with_logs: bool) -> int:
    status, error, returned, request_id, logs = result
    print(f"{name}: status {status}{', function error ' + error if error else ''}, request {request_id}")
    print(json.dumps(returned, indent=2, default=str))
    if with_logs:
        print("--- log")
        print(logs.rstrip() if logs else logs_of(live, name, request_id, started_ms))
    return 1 if error else 0


def run(args) -> int:
    live = Deployed.connect()
    name = live.names.function(args.function)
    lam = live.client("lambda")
    if args.records:
        if args.batch_size < 1:
            raise UserError("--batch-size must be 1 or more")
        records = read_records(args.records)
        if not records:
            raise UserError(f"{args.records} holds no records")
        batches = [records[i:i + args.batch_size] for i in range(0, len(records), args.batch_size)]
        worst = 0
        for number, batch in enumerate(batches, 1):
            print(f"=== batch {number} of {len(batches)}: {plural(len(batch), 'record')}")
            started = int(time.time() * 1000)
            worst = max(worst, show(live, name, started, invoke(lam, name, {"Records": batch}), not args.no_logs))
        return worst
    event = read_event(args.event)
    started = int(time.time() * 1000)
    return show(live, name, started, invoke(lam, name, event), not args.no_logs)
