"""Bring back what the quarantine and dead-letter queues hold, once you have fixed the code
or the data. Never writes an older state over a newer one: for each user a quarantine
message or a dead letter of replicate names, the user's *current* item in users is
re-projected (or the user's rows removed if the user is gone), and the message is deleted
only once its users are in step. A dead letter of any other consumer is handed back to the
function that failed it (its batch read back from the stream by the sequence range it
names) and deleted only once that function succeeded on every record. What cannot be put
right stays, with the reason.

    ddblab redrive [--dry-run]
"""
from __future__ import annotations

from ddblab.data.recovery import redrive
from ddblab.stack.deployed import Deployed

HELP = "redrive the quarantine and dead-letter queues: each message to the consumer it came from"


def configure(parser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="say what would be done; write and delete nothing")


def run(args) -> int:
    live = Deployed.connect()
    live.require_tables()
    outcome = redrive(live, dry_run=args.dry_run)
    verb = "would redrive" if args.dry_run else "redriven"
    if not outcome.redriven and not outcome.left:
        print(f"nothing to redrive: {live.names.quarantine} and {live.names.dlq} are empty")
        return 0
    for m in outcome.redriven:
        print(f"{verb}: {m.label}")
    for email, what in sorted(outcome.users.items()):
        if email not in outcome.stuck:
            print(f"  {email}: {what}")
    for m in outcome.left:
        print(f"left: {m.label}\n  why: {m.left}")
    print(f"{len(outcome.redriven)} {verb}, {len(outcome.left)} left"
          + (" - fix what the reasons say, then: make redrive" if outcome.left else ""))
    if any("make reconcile" in m.left for m in outcome.left):
        print("for batches the stream no longer holds: make reconcile ARGS=--fix")
    return 1 if outcome.left and not args.dry_run else 0
