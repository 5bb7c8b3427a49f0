"""Compare each consumer's view with what it should hold, recomputed from `users`, and print
the drift. Which consumers can be checked is declared in the stack description
(ddblab/stack/consumers.py): replicate's users_by_location is the projection of every user
(missing, extra and different items; --fix repairs it, which also backfills a target table
created after the users were written). A consumer that declares no recompute is reported as
not reconcilable - replay to repair (make redrive) - never as in step.

    ddblab reconcile [--fix] [--examples N]
"""
from __future__ import annotations

import importlib
import time

from ddblab.core.output import plural
from ddblab.data.reconciliation import compare, describe, repair
from ddblab.stack.deployed import Deployed

HELP = "compare (and with --fix, repair) each consumer's view that can be recomputed from users"


def configure(parser) -> None:
    parser.add_argument("--fix", action="store_true", help="write what is missing or different, delete what is extra")
    parser.add_argument("--examples", type=int, default=3, help="how many examples of each kind to print")


def users_by_location(live: Deployed, fix: bool, examples: int) -> int:
    """replicate's recompute (its line in consumers.py names this function)."""
    drift = compare(live.dynamodb, live.names.users, live.names.target)
    print(describe(drift, examples))
    if drift.total and not fix:
        print("to repair it: make reconcile ARGS=--fix")
    if fix and not drift.total:
        print("nothing to fix")
    if fix and drift.total:
        started = time.monotonic()
        done = repair(live.dynamodb, live.names.target, drift)
        after = compare(live.dynamodb, live.names.users, live.names.target)
        print(f"fixed: {plural(done.written, 'write')} in {time.monotonic() - started:.2f} s; drift now {after.total}")
        for what, reason in done.refused:
            print(f"  not written (the table refused it): {what}: {reason}")
        return 0 if after.total == 0 else 1
    return 0 if drift.total == 0 or fix else 1


def run(args) -> int:
    live = Deployed.connect()
    live.require_tables()
    worst = 0
    for consumer in live.stack.consumers:
        if not consumer.reconcile:
            print(f"{consumer.module}: not reconcilable (it declares no recompute), replay to repair: make redrive")
            continue
        print(f"{consumer.module}:")
        module, function = consumer.reconcile.split(":")
        worst = max(worst, getattr(importlib.import_module(module), function)(live, args.fix, args.examples))
    return worst
