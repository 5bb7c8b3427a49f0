"""The fault drill: write users - inserts, updates, moves, deletes, re-inserts and a few
poison items - while a microburst proxy between the replicate function and the emulator
throttles or fails a share of its writes to the target; wait for the stream to drain,
then reconcile (without --fix). Drift must be 0: nothing lost, nothing extra.

Runs on a stack of its own (prefix chaos-), removed afterwards unless --keep.

    ddblab chaos [--count 5000] [--fault-rate 0.2] [--outage 30]
"""
from __future__ import annotations

from ddblab.core.output import console
from ddblab.core.settings import Settings, UserError
from ddblab.drills.fault_drill import drill, report
from ddblab.stack.deployed import Deployed

HELP = "fault drill: replicate under injected target-write faults"


def configure(parser) -> None:
    parser.add_argument("--count", type=int, default=5000, help="users to insert (default 5000); updates, moves, deletes follow")
    parser.add_argument("--fault-rate", type=float, default=0.2, help="share of target writes throttled or failed (default 0.2)")
    parser.add_argument("--outage", type=int, default=30, help="target writes that fail outright first (default 30; 0: none)")
    parser.add_argument("--seed", type=int, default=7, help="the random seed of the workload (default 7): same seed, same drill")
    parser.add_argument("--keep", action="store_true", help="keep the chaos- stack afterwards")


def run(args) -> int:
    if not 0 <= args.fault_rate < 1:
        raise UserError("--fault-rate must be at least 0 and below 1")
    if args.count < 1:
        raise UserError("--count must be at least 1")
    base = Settings.from_env()
    Deployed.connect(base)  # says which backend, or what to run when none answers
    with console.status("starting the proxy and the chaos- stack") as progress:
        result = drill(base, args.count, args.fault_rate, args.outage, args.seed, keep=args.keep,
                       say=lambda text: console.print(text, soft_wrap=True), status=progress.update)
    console.print(report(result), highlight=False, soft_wrap=True)
    ok = result.drift.total == 0 and result.quarantined >= result.poison and result.dead_letters == 0
    console.print("[green]drill passed: drift 0[/]" if ok else "[red]drill FAILED[/]")
    return 0 if ok else 1
