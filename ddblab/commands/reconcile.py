"""Compare users_by_location with what it should hold - the projection of every user in
`users` - and print the drift: missing, extra and different items. --fix repairs it, which
also backfills a target table created after the users were written.

    ddblab reconcile [--fix] [--examples N]
"""
from __future__ import annotations

import time

from ddblab.data.reconciliation import compare, describe, repair
from ddblab.stack.deployed import Deployed

HELP = "compare (and with --fix, repair) users_by_location"


def configure(parser) -> None:
    parser.add_argument("--fix", action="store_true", help="write what is missing or different, delete what is extra")
    parser.add_argument("--examples", type=int, default=3, help="how many examples of each kind to print")


def run(args) -> int:
    live = Deployed.connect()
    live.require_tables()
    drift = compare(live.dynamodb, live.names.users, live.names.target)
    print(describe(drift, args.examples))
    if drift.total and not args.fix:
        print("to repair it: make reconcile ARGS=--fix")
    if args.fix and not drift.total:
        print("nothing to fix")
    if args.fix and drift.total:
        started = time.monotonic()
        done = repair(live.dynamodb, live.names.target, drift)
        after = compare(live.dynamodb, live.names.users, live.names.target)
        print(f"fixed: {done.written} writes in {time.monotonic() - started:.2f} s; drift now {after.total}")
        for what, reason in done.refused:
            print(f"  not written (the table refused it): {what}: {reason}")
        return 0 if after.total == 0 else 1
    return 0 if drift.total == 0 or args.fix else 1
