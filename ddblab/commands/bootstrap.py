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
from ddblab.inspect.stream import newest_position
from ddblab.stack import rebuild
from ddblab.stack.converge import converge
from ddblab.stack.describe import describe
from ddblab.stack.model import Stack
from ddblab.stack.report import print_report

HELP = "converge the stack on the emulator that answers (idempotent)"
REBUILD_TIMEOUT = 300  # seconds for a rebuilt view to catch up with the stream


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
    """The users stream's newest record, before the rebuild starts: what the views must reach."""
    arn = stack.settings.client("dynamodb").describe_table(TableName=stack.names.users)["Table"].get("LatestStreamArn")
    return newest_position(stack.settings.client("dynamodbstreams"), arn) if arn else None


def wait_rebuilt(stack: Stack, chosen: list, last: str | None, started: float) -> str:
    """Until each rebuilt view holds a row for every user and has reached the stream's newest
    record (as it stood before the rebuild); what to say then."""
    ddb = stack.settings.client("dynamodb")
    tables = [stack.names.function(c.module) for c in chosen]
    try:
        wait_for(lambda: views.rebuilt(ddb, stack.names.users, tables, last), f"{', '.join(tables)} to be rebuilt from "
                 "the stream", timeout=REBUILD_TIMEOUT, interval=0.5)
    except WaitTimeout as error:
        raise UserError(f"{error} - see why: make status; make logs ARGS='--function {chosen[0].module}'") from None
    return (f"rebuilt {', '.join(tables)} from the stream: a row for every user of {stack.names.users}, up to its "
            f"newest record ({time.monotonic() - started:.1f} s)")
