"""Replication speed, measured side by side in one run and reported as ratios: raw
BatchWriteItem vs the pipeline vs a one-put_item-per-record baseline, latency put ->
visible over single writes spaced apart, and (--scale) throughput and emulator memory as
the work grows; then the users API under load (1, 8 and 32 clients creating, reading and
moving users for --api-seconds each: requests/s, p50/p99, 5xx, lost writes). Prints one
table, writes the same figures as JSON (path printed last).

    ddblab bench [--count 2000] [--rounds 3] [--latency 200] [--scale] [--api-seconds 10]
    ddblab bench --restore 10000     make down / make up's way back for 10,000 users, alone
"""
from __future__ import annotations

import json
import os
import platform
import time

from rich.table import Table

from ddblab.core.output import console, plural
from ddblab.core.settings import UserError
from ddblab.drills import api_load
from ddblab.drills.throughput import Bench, Result
from ddblab.emulator.health import answering
from ddblab.stack.deployed import Deployed

HELP = "replication throughput and latency, as ratios measured side by side"
SCALE_SIZES = (2000, 10000, 50000)


def configure(parser) -> None:
    parser.add_argument("--count", type=int, default=2000, help="items per throughput round (default 2000)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--latency", type=int, default=200, help="single puts timed per variant (default 200)")
    parser.add_argument("--spacing", type=float, default=0.02, help="seconds between latency puts (default 0.02)")
    parser.add_argument("--scale", action="store_true", help=f"also the pipeline at {', '.join(map(str, SCALE_SIZES))} items")
    parser.add_argument("--api-seconds", type=float, default=10, metavar="S",
                        help=f"the users API under load: {', '.join(map(str, api_load.CLIENTS))} clients for S seconds "
                             "each (default 10; 0 leaves it out)")
    parser.add_argument("--keep", action="store_true", help="keep the bench stacks afterwards")
    parser.add_argument("--restore", type=int, metavar="USERS",
                        help="instead: time make up's write-back of USERS users saved by make down, and the view rebuilt")


def restore(base, users: int) -> dict:
    """The data's way back across a restart, on a stack of its own: USERS users saved as make
    down saves them, the stack removed and converged again (empty, as after make up), then
    written back as make up does and waited for until users_by_location is in step."""
    import tempfile
    import uuid
    from pathlib import Path

    from ddblab import stack
    from ddblab.commands.up import bring_back
    from ddblab.data import batches, snapshot
    from ddblab.data.users import generated, to_item
    settings = base.sub(f"restore{uuid.uuid4().hex[:4]}-", run_dir=Path(tempfile.mkdtemp(prefix="ddblab-restore-")))
    try:
        live = Deployed(settings)
        stack.converge(settings)
        batches.write_all(live.dynamodb, live.names.users, batches.puts([to_item(u) for u in generated(users)]), workers=4)
        snapshot.save(live.dynamodb, settings, [live.names.users])
        stack.remove(settings)
        stack.converge(settings)
        return bring_back(settings)
    finally:
        stack.remove(settings)


def table(figures: dict, verdicts: dict) -> Table:
    rounds = plural(figures["rounds"], "interleaved round")
    view = Table(title=f"{figures['backend']}: {rounds} of {figures['n']} items (medians)",
                 caption="ceiling: the time the emulator takes to write every item twice (users, then the target) "
                         "with BatchWriteItem; X_over_ceiling = that pipeline's time over it. alone: replicate the "
                         "stream's only consumer. With fewer items or rounds than the defaults the ratios move more.")
    view.add_column("figure")
    view.add_column("value", justify="right")
    view.add_column("target")
    for name in ("raw_items_per_s", "pipeline_items_per_s", "alone_items_per_s", "baseline_items_per_s"):
        view.add_row(name, f"{figures[name]:,.0f}", "")
    for name, verdict in verdicts.items():
        mark = "[green]met[/]" if verdict["met"] else "[red]NOT met[/]"
        view.add_row(name, f"{verdict['value']:g}", f"{verdict['target']}: {mark}")
    for label, key in (("latency_ms (pipeline)", "latency_ms"), ("latency_ms (baseline)", "baseline_latency_ms")):
        if key in figures:
            lat = figures[key]
            view.add_row(label, f"p50 {lat['p50']:g} p95 {lat['p95']:g} p99 {lat['p99']:g} max {lat['max']:g}",
                         f"over {lat['samples']} single puts")
    for level in figures.get("api_load", []):
        view.add_row(f"API, {plural(level['clients'], 'client')}", f"{level['requests_per_s']:,.0f} req/s",
                     f"p50 {level['p50_ms']} ms, p99 {level['p99_ms']} ms, {level['requests']:,} requests, "
                     f"5xx {level['errors_5xx']}, lost {level['lost_writes']}")
    for row in figures.get("scale", []):
        rss = row["emulator_rss_mib"]
        view.add_row(f"scale n={row['n']:,}", f"{row['pipeline_items_per_s']:,.0f}/s",
                     f"emulator {'?' if rss is None else f'{rss:,.0f} MiB'}")
    return view


def run(args) -> int:
    if args.count < 25 or args.rounds < 1 or args.latency < 0 or args.api_seconds < 0:
        raise UserError("--count must be at least 25, --rounds at least 1, --latency and --api-seconds 0 or more")
    live = Deployed.connect()  # says which backend, or what to run when none answers
    base = live.settings
    if not base.is_local:
        raise UserError(f"make bench measures a local emulator; {base.endpoint_url} is not one")
    if args.restore:
        figures = restore(base, args.restore)
        console.print(f"restore on {answering(base.endpoint_url)}: {figures['items']:,} users written back in "
                      f"{figures['written_s']} s, users_by_location and every consumer's table in step after "
                      f"{figures['in_step_s']} s (target: under 10 s)", highlight=False)
        return 0
    bench = Bench(base, args.count)
    result = Result(backend=answering(base.endpoint_url), n=args.count, rounds=args.rounds)
    console.print(f"bench on {base.endpoint_url}: warm-up, {args.rounds} rounds x {args.count} items, "
                  f"{args.latency} latency samples per pipeline" + (", then the scale run" if args.scale else ""))
    started = time.monotonic()
    try:
        bench.setup()
        bench.run(result, args.latency, args.spacing, progress=lambda text: console.print(f"  {text}"))
        if args.scale:
            bench.scale(result, SCALE_SIZES, progress=lambda text: console.print(f"  {text}"))
        if args.api_seconds > 0:
            api = Deployed(bench.stacks["pipeline"])
            for clients in api_load.CLIENTS:
                level = api_load.run(api, clients, args.api_seconds).figures()
                result.api.append(level)
                console.print(f"  API, {plural(clients, 'client')}: {level['requests_per_s']:,.0f} requests/s, "
                              f"p50 {level['p50_ms']} ms, "
                              f"p99 {level['p99_ms']} ms, 5xx {level['errors_5xx']}, lost writes {level['lost_writes']} "
                              f"of {level['users_created']} users created", highlight=False)
    finally:
        if not args.keep:
            bench.teardown()
    figures = result.figures()
    verdicts = result.verdicts()
    figures.update(targets=verdicts, seconds=round(time.monotonic() - started, 1),
                   machine={"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
                   date=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    console.print(table(figures, verdicts))
    out = base.run_dir / "bench" / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    console.print(f"figures written to {out}", highlight=False, soft_wrap=True)
    return 0
