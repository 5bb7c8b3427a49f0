"""Converge the stack on whatever emulator answers, and print what changed and the outputs
a user needs (API URL, tables, stream ARN, queues). Safe to run any number of times.
--prune also removes a consumer taken out of the description; --rebuild NAME writes a
consumer's view anew from the stream, after its view() changed (ddblab/stack/rebuild.py)."""
from __future__ import annotations

import json
import time

from botocore.exceptions import BotoCoreError, ClientError

from ddblab.core.settings import Settings, UserError
from ddblab.core.waiting import WaitTimeout, wait_for
from ddblab.data import views
from ddblab.emulator.health import require_backend
from ddblab.inspect.stream import StreamReader
from ddblab.stack import rebuild
from ddblab.stack.code import handler_module
from ddblab.stack.converge import converge
from ddblab.stack.describe import describe
from ddblab.stack.model import Stack
from ddblab.stack.report import print_report

HELP = "converge the stack on the emulator that answers (idempotent)"
REBUILD_TIMEOUT = 300  # seconds for a rebuilt view to catch up with the stream
projection = handler_module("projection")


def configure(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print the outputs as JSON only")
    parser.add_argument("--prune", action="store_true",
                        help="also remove the mappings on the users stream whose function the stack does not describe "
                             "(a consumer taken out of ddblab/stack/consumers.py) and, where bootstrap made them, "
                             "their functions, roles and view tables")
    parser.add_argument("--rebuild", action="append", default=[], metavar="CONSUMER",
                        help="write this consumer's view anew from the stream, after its view() changed: its table "
                             "and mapping are made again, the mapping from the start of the stream (repeatable)")


def run(args, settings: Settings | None = None) -> int:
    settings = settings or Settings.from_env()
    require_backend(settings)
    started = time.monotonic()
    names = getattr(args, "rebuild", [])
    stack = describe(settings) if names else None
    chosen = rebuild.consumers(stack, names) if stack else []  # refused before anything changes
    last = last_position(stack) if stack else None
    try:
        cleared = rebuild.clear(stack, chosen) if stack else None
        report = converge(settings, prune=getattr(args, "prune", False))
    except (UserError, ClientError, BotoCoreError, WaitTimeout) as error:
        if not chosen:
            raise
        raise unfinished(chosen, error) from None
    if cleared:
        report.rows[:0] = cleared.rows
    if getattr(args, "json", False):
        print(json.dumps(report.outputs, indent=2))
    else:
        print_report(report, settings)
        if getattr(args, "prune", False) and not any(r.action == "removed" and "not described" in r.detail for r in report.rows):
            print("prune: nothing to remove (no mapping on the users stream calls a function the stack does not describe)")
    said = wait_rebuilt(stack, chosen, last, started) if stack else ""
    if not getattr(args, "json", False):
        print(said or f"({time.monotonic() - started:.1f} s)")
    return 0


def unfinished(chosen: list, error: Exception) -> UserError:
    names = " ".join(f"--rebuild {c.module}" for c in chosen)
    return UserError(f"{error} - the rebuild is not finished (the view is derived from users: nothing is lost); once "
                     f"that is fixed, run: make bootstrap ARGS='{names}' (safe to repeat)")


def last_position(stack: Stack) -> str | None:
    """The stream position of the newest record on the users stream (one shard on an emulator),
    zero-padded as the template keeps positions; None when the stream holds none."""
    arn = stack.settings.client("dynamodb").describe_table(TableName=stack.names.users)["Table"].get("LatestStreamArn")
    if not arn:
        return None
    reader = StreamReader(stack.settings.client("dynamodbstreams"), arn, from_start=True)
    while reader.poll():
        pass
    positions = [c.last_sequence for c in reader.cursors.values() if c.last_sequence]
    return max((p.zfill(projection.VIEW_POSITION_WIDTH) for p in positions), default=None)


def caught_up(ddb, table: str, last: str | None) -> bool:
    """Whether the view's newest row is at the stream's newest record (a template consumer keeps
    each row's position in projection.VIEW_SEQUENCE; a view without it is judged by rows alone)."""
    if last is None:
        return True
    pages = ddb.get_paginator("scan").paginate(TableName=table, ProjectionExpression="#s",
                                               ExpressionAttributeNames={"#s": projection.VIEW_SEQUENCE})
    held = [item[projection.VIEW_SEQUENCE]["S"] for page in pages for item in page["Items"]
            if "S" in item.get(projection.VIEW_SEQUENCE, {})]
    return not held or max(held) >= last


def wait_rebuilt(stack: Stack, chosen: list, last: str | None, started: float) -> str:
    """Until each rebuilt view holds a row for every user and has reached the stream's newest
    record (as it stood before the rebuild); what to say then."""
    ddb = stack.settings.client("dynamodb")
    tables = [stack.names.function(c.module) for c in chosen]

    def done() -> views.Left:
        left = views.in_step(ddb, stack.names.users, tables)
        return views.Left(left.items + [f"{t} (not at the stream's newest record yet)" for t in tables
                                        if not caught_up(ddb, t, last)])
    try:
        wait_for(done, f"{', '.join(tables)} to be rebuilt from the stream", timeout=REBUILD_TIMEOUT, interval=0.5)
    except WaitTimeout as error:
        raise UserError(f"{error} - see why: make status; make logs ARGS='--function {chosen[0].module}'") from None
    return (f"rebuilt {', '.join(tables)} from the stream: a row for every user of {stack.names.users}, up to its "
            f"newest record ({time.monotonic() - started:.1f} s)")
