"""Replication speed, measured side by side in one run and reported as ratios (absolute
times on a shared 2-core machine are not comparable between runs).

  raw       the emulator's own write speed: BatchWriteItem straight into a table
  fold      the pipeline: users -> stream -> replicate (fold + BatchWriteItem) -> target
  reference the same pipeline with a one-put_item-per-record handler

Each variant runs on a stack of its own (prefixes bench-fold- / bench-ref-), rounds
interleave the variants, and the stacks are removed at the end.

    ddblab bench [--count 2000] [--rounds 3] [--latency 30]
"""
from __future__ import annotations

import statistics
import time
import uuid

from rich.table import Table

from ddblab.core.output import console
from ddblab.core.settings import Settings, UserError
from ddblab.core.waiting import wait_for
from ddblab.data import batches, users
from ddblab.stack.code import HANDLERS, build_zip
from ddblab.stack.converge import converge
from ddblab.stack.deployed import Deployed
from ddblab.stack.describe import projection
from ddblab.stack.model import Names
from ddblab.stack.remove import remove

VARIANTS = ("raw", "fold", "reference")
NAMES = {"raw": "raw", "fold": "fold", "reference": "put/record"}


def count(client, table: str) -> int:
    return sum(p["Count"] for p in client.get_paginator("scan").paginate(TableName=table, Select="COUNT"))


def reference_zip() -> bytes:
    return build_zip("replicate", {"replicate.py": HANDLERS / "reference_replicate.py",
                                   "projection.py": HANDLERS / "projection.py"})


class Bench:
    def __init__(self, base: Settings, count_: int):
        self.count = count_
        self.stacks = {"fold": base.sub("bench-fold-"), "reference": base.sub("bench-ref-")}
        self.names = {variant: Names(settings.prefix) for variant, settings in self.stacks.items()}
        self.ddb = base.client("dynamodb", max_pool_connections=16)
        self.raw_table = self.stacks["fold"].name("raw")

    def setup(self) -> None:
        for settings in self.stacks.values():
            converge(settings)
        lam = self.stacks["reference"].client("lambda")
        name = self.names["reference"].replicate
        lam.update_function_code(FunctionName=name, ZipFile=reference_zip())
        lam.get_waiter("function_updated_v2").wait(FunctionName=name)
        try:
            self.ddb.create_table(TableName=self.raw_table, BillingMode="PAY_PER_REQUEST",
                                  AttributeDefinitions=[{"AttributeName": "email", "AttributeType": "S"}],
                                  KeySchema=[{"AttributeName": "email", "KeyType": "HASH"}])
        except self.ddb.exceptions.ResourceInUseException:
            pass
        self.ddb.get_waiter("table_exists").wait(TableName=self.raw_table)

    def teardown(self) -> None:
        for settings in self.stacks.values():
            remove(settings)
        try:
            self.ddb.delete_table(TableName=self.raw_table)
        except self.ddb.exceptions.ResourceNotFoundException:
            pass

    def items(self) -> list:
        tag = uuid.uuid4().hex[:8]
        return [users.to_item(u) for u in users.generated(self.count, seed=hash(tag) & 0xFFFF, prefix=f"bench-{tag}")]

    def throughput(self, variant: str) -> float:
        """Items per second, from the first write until the last item is where it belongs."""
        items = self.items()
        if variant == "raw":
            started = time.perf_counter()
            batches.write_all(self.ddb, self.raw_table, batches.puts(items))
            return self.count / (time.perf_counter() - started)
        target = self.names[variant].target
        before = count(self.ddb, target)
        started = time.perf_counter()
        batches.write_all(self.ddb, self.names[variant].users, batches.puts(items))
        wait_for(lambda: count(self.ddb, target) >= before + self.count, f"{variant}: {self.count} items replicated",
                 timeout=60 + self.count / 20, interval=0.02, max_interval=0.05)
        return self.count / (time.perf_counter() - started)

    def latency(self, variant: str) -> float:
        """Seconds from one put_item on users until the item can be read from the target."""
        email = f"lat-{uuid.uuid4().hex[:10]}@example.com"
        item = users.to_item({"email": email, "state": "Ohio", "city": "Dayton", "zipcode": "45401"})
        key = projection.target_key(item)
        started = time.perf_counter()
        self.ddb.put_item(TableName=self.names[variant].users, Item=item)
        wait_for(lambda: "Item" in self.ddb.get_item(TableName=self.names[variant].target, Key=key),
                 f"{variant}: {email} replicated", timeout=30, interval=0.002, max_interval=0.005)
        return time.perf_counter() - started


def percentile(values: list, p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


HELP = "replication throughput and latency, as ratios"


def configure(parser) -> None:
    parser.add_argument("--count", type=int, default=2000, help="items per throughput round (default 2000)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--latency", type=int, default=30, help="single-put latency samples per variant (default 30)")
    parser.add_argument("--keep", action="store_true", help="keep the bench stacks afterwards")


def run(args) -> int:
    if args.count < 25 or args.rounds < 1:
        raise UserError("--count must be at least 25 and --rounds at least 1")
    base = Settings.from_env()
    Deployed.connect(base)  # says which backend, or what to run when none answers
    bench = Bench(base, args.count)
    console.print(f"bench on {base.endpoint_url}: {args.rounds} rounds x {args.count} items, "
                  f"{args.latency} latency samples per variant")
    try:
        bench.setup()
        rates = {v: [] for v in VARIANTS}
        for round_ in range(args.rounds):
            order = VARIANTS[round_ % 3:] + VARIANTS[:round_ % 3]  # rotate: no variant always goes first
            for variant in order:
                rates[variant].append(bench.throughput(variant))
            console.print(f"  round {round_ + 1}: " + ", ".join(f"{NAMES[v]} {rates[v][-1]:,.0f}/s" for v in VARIANTS))
        latencies = {v: [] for v in ("fold", "reference")}
        for i in range(args.latency):
            for variant in (("fold", "reference") if i % 2 == 0 else ("reference", "fold")):
                latencies[variant].append(bench.latency(variant))
    finally:
        if not args.keep:
            bench.teardown()
    med = {v: statistics.median(r) for v, r in rates.items()}
    console.print(f"medians of {args.rounds} interleaved rounds of {args.count} items"
                  + (f", latency over {args.latency} puts each" if args.latency else ""))
    console.print("  raw: BatchWriteItem straight into a table\n  fold: the pipeline with replicate\n"
                  "  put/record: the pipeline with a one-put_item-per-record handler", highlight=False)
    view = Table()
    for column in ("", "raw", "fold", "put/record", "fold / raw", "fold / put/record"):
        view.add_column(column, justify="right")
    view.add_row("items/s (higher: better)", f"{med['raw']:,.0f}", f"{med['fold']:,.0f}", f"{med['reference']:,.0f}",
                 f"{med['fold'] / med['raw']:.2f}x", f"{med['fold'] / med['reference']:.2f}x")
    if args.latency:
        # A percentile needs samples beyond it to mean anything: p99 only from 100 puts up.
        for p in [50, 90] + ([99] if args.latency >= 100 else []):
            f, r = percentile(latencies["fold"], p), percentile(latencies["reference"], p)
            view.add_row(f"put->visible p{p} ms (lower: better)", "", f"{f * 1000:.0f}", f"{r * 1000:.0f}",
                         "", f"{f / r:.2f}x")
    console.print(view)
    return 0
