"""Converge the stack on whatever emulator answers, and print what changed and the outputs
a user needs (API URL, tables, stream ARN, queues). Safe to run any number of times.
--prune also removes a consumer taken out of the description; --rebuild NAME writes a
consumer's view anew from the stream, after its view() changed (ddblab/stack/rebuild.py)."""
from __future__ import annotations

import json
import time

from ddblab.core.settings import Settings, UserError
from ddblab.core.waiting import WaitTimeout, wait_for
from ddblab.data import views
from ddblab.emulator.health import require_backend
from ddblab.stack import rebuild
from ddblab.stack.converge import converge
from ddblab.stack.describe import describe
from ddblab.stack.model import Stack
from ddblab.stack.report import print_report

HELP = "converge the stack on the emulator that answers (idempotent)"
REBUILD_TIMEOUT = 300  # seconds for a rebuilt view to hold a row for every user


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
    cleared = rebuild.clear(stack, chosen) if stack else None
    report = converge(settings, prune=getattr(args, "prune", False))
    if cleared:
        report.rows[:0] = cleared.rows
    if getattr(args, "json", False):
        print(json.dumps(report.outputs, indent=2))
    else:
        print_report(report, settings)
        if getattr(args, "prune", False) and not any(r.action == "removed" and "not described" in r.detail for r in report.rows):
            print("prune: nothing to remove (no mapping on the users stream calls a function the stack does not describe)")
    said = wait_rebuilt(stack, chosen, started) if stack else ""
    if not getattr(args, "json", False):
        print(said or f"({time.monotonic() - started:.1f} s)")
    return 0


def wait_rebuilt(stack: Stack, chosen: list, started: float) -> str:
    """Until each rebuilt view holds a row for every user, as make seed waits; what to say then."""
    ddb = stack.settings.client("dynamodb")
    tables = [stack.names.function(c.module) for c in chosen]
    try:
        wait_for(lambda: views.in_step(ddb, stack.names.users, tables), f"{', '.join(tables)} to be rebuilt from the stream",
                 timeout=REBUILD_TIMEOUT, interval=0.5)
    except WaitTimeout as error:
        raise UserError(f"{error}: the stream may no longer hold those users' records (it keeps 24 hours) - "
                        "make down, then make up, writes every user again through the stream") from None
    return (f"rebuilt {', '.join(tables)} from the stream: a row for every user of {stack.names.users} "
            f"({time.monotonic() - started:.1f} s)")
