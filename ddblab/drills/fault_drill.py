"""The fault drill: write users - inserts, updates, moves, deletes, re-inserts and a few
poison items - while a microburst proxy between the replicate function and the emulator
throttles or fails a share of its writes to the target; wait for the stream to drain,
then reconcile (without --fix). Drift must be 0: nothing lost, nothing extra.

Runs on a stack of its own (prefix chaos-), removed afterwards unless --keep.

"""
from __future__ import annotations

import json
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from ddblab.core.aws import log_events
from ddblab.core.kinds import Backend, QueueKind
from ddblab.core.output import plural
from ddblab.core.settings import Settings, UserError
from ddblab.core.waiting import WaitTimeout, wait_for
from ddblab.data import batches, reconciliation, users
from ddblab.data.views import Left
from ddblab.emulator.faults import FaultProxy
from ddblab.emulator.health import MINISTACK_HEALTH_PATH, backend_answering
from ddblab.stack.code import handler_module
from ddblab.stack.converge import converge
from ddblab.stack.deployed import Deployed
from ddblab.stack.describe import projection
from ddblab.stack.model import Names
from ddblab.stack.remove import remove

log_lines = handler_module("log_lines")  # the keys of replicate's summary line


@dataclass
class Workload:
    """Batches of users-table writes, in order; a key appears at most once per batch."""
    phases: list = field(default_factory=list)  # (name, [item | ("delete", email)])
    poison: int = 0

    @property
    def records(self) -> int:
        return sum(len(ops) for _, ops in self.phases)


def workload(count: int, seed: int, tag: str) -> Workload:
    rng = random.Random(seed)
    places = users.locations()
    people = users.generated(count, seed=seed, prefix=f"chaos-{tag}")
    w = Workload()
    w.phases.append(("insert", [users.to_item(u) for u in people]))
    sample = lambda share: rng.sample(people, int(len(people) * share))  # noqa: E731 - a one-line helper, local to where it is used
    updated = [users.to_item(u) | {"active": {"BOOL": False}, "visits": {"N": str(rng.randint(1, 99))}} for u in sample(0.2)]
    w.phases.append(("update", updated))
    moved = []
    for u in sample(0.15):
        u.update(rng.choice(places))
        moved.append(users.to_item(u))
    w.phases.append(("move", moved))
    deleted = sample(0.1)
    w.phases.append(("delete", [("delete", u["email"]) for u in deleted]))
    w.phases.append(("re-insert", [users.to_item(u) for u in deleted[: len(deleted) // 3]]))
    poison = [{"email": {"S": f"chaos-{tag}-poison-{i}@example.com"}, "state": {"S": "Ohio"}}
              for i in range(max(1, count // 500))]
    w.phases.append(("poison", poison))
    w.poison = len(poison)
    return w


def write_phase(client, table: str, ops: list) -> None:
    puts = batches.puts([op for op in ops if not isinstance(op, tuple)])
    gone = batches.deletes([{"email": {"S": email}} for _, email in (op for op in ops if isinstance(op, tuple))])
    batches.write_all(client, table, puts + gone, workers=2)


def replicate_log(settings: Settings, since_ms: int) -> dict:
    """Totals of the replicate function's own summary lines (backend-neutral: its log)."""
    logs = settings.client("logs")
    totals = {"invocations": 0, "failed_invocations": 0, "retries": 0}
    for event in log_events(logs, Names.log_group(Names(settings.prefix).replicate), since_ms):
        try:
            line = json.loads(event["message"])
        except ValueError:
            continue
        for kind, counter in ((log_lines.REPLICATE, "invocations"), (log_lines.REPLICATE_FAILED, "failed_invocations")):
            if kind in line:
                totals[counter] += 1
                totals["retries"] += line[kind].get(log_lines.RETRIES, 0)
    return totals


@dataclass
class Result:
    records: int
    poison: int
    faults: dict
    log: dict
    quarantined: int
    dead_letters: int
    drift: reconciliation.Drift
    seconds: float
    drain_seconds: float


def drill(base: Settings, count: int = 5000, fault_rate: float = 0.2, outage: int = 30, seed: int = 7,
          prefix: str = "chaos-", keep: bool = False, timeout: float = 600, write_attempts: int | None = None,
          max_record_age: int | None = None, say=lambda text: None, status=lambda text: None) -> Result:
    """Run the drill; say() gets lines worth keeping, status() the progress of the moment.
    max_record_age: how long the mappings retry a failing batch before dead-lettering it
    (default: the stack's own, an hour)."""
    backend = backend_answering(base.endpoint_url)
    on_host = backend == Backend.LOCALSTACK_HOST
    if backend != Backend.MINISTACK and not on_host:
        found = ("LocalStack in Docker answers there" if backend == Backend.LOCALSTACK else
                 f"the emulator there did not answer {MINISTACK_HEALTH_PATH} as MiniStack does (an emulator of unknown kind)")
        raise UserError(
            f"the fault drill needs MiniStack: its proxy runs on this machine, which LocalStack's Lambda containers "
            f"cannot reach, and {found} - run it on MiniStack (make down; EMULATOR=ministack make up) or on "
            "LocalStack's runtime on the host (EMULATOR=localstack-host make up), whose functions are host processes")
    settings = base.sub(prefix)
    remove(settings)  # a clean slate, so the reconcile compares this run only
    ddb = settings.client("dynamodb", max_pool_connections=8)
    tag = uuid.uuid4().hex[:6]
    with FaultProxy(base.endpoint_url, base.run_dir, tag=f"microburst-{tag}") as proxy:
        try:
            env = {"AWS_ENDPOINT_URL": proxy.url}
            if write_attempts:
                env["WRITE_ATTEMPTS"] = str(write_attempts)
            # LocalStack ends retries by count; the record age has no effect on its DynamoDB streams
            # (its poller takes a DynamoDB record's arrival as "now": dynamodb_poller.py
            # get_approximate_arrival_time at v4.14.0). Retried until they succeed, as MiniStack
            # retries within the record age.
            limits: dict[str, Any] = {"max_retries": -1} if on_host else {}
            if max_record_age is not None:
                limits["max_record_age"] = max_record_age
            converge(settings, replicate_env=env, **limits)
            names = Names(settings.prefix)
            target, users_table = names.target, names.users
            since = int(time.time() * 1000)
            if outage:
                # First a hard outage: every target write fails until `outage` have, so the
                # function exhausts its retries, raises, and the stream retries the batch.
                proxy.add_rules([{"service": "dynamodb", "operation": "BatchWriteItem", "times": outage,
                                  "body": f'RequestItems."{target}"', "error": {"code": "InternalServerError", "status": 500}}],
                                label="outage")
            proxy.throttle_target_writes(target, fault_rate)
            work = workload(count, seed, tag)
            say(f"writing {work.records} records to {users_table} ({', '.join(f'{n} {len(o)}' for n, o in work.phases)}) "
                f"with {fault_rate:.0%} of target writes faulted" + (f" after an outage of {outage} writes" if outage else ""))
            started = time.monotonic()
            for name, ops in work.phases:
                status(f"writing: {name} ({len(ops)})")
                write_phase(ddb, users_table, ops)
            # Drained when a marker written last has arrived (the stream keeps per-item order,
            # and the emulator has one shard) and the poison, written just before it, is in the
            # quarantine queue (or dead-lettered with its batch: the report shows it). The marker
            # alone is not enough: a batch whose every chunk was written by one attempt or
            # another still fails until one attempt writes them all, and only then quarantines;
            # LocalStack waits up to 90 s between attempts of a failing batch (its backoff,
            # 0.5 s x 1.5 per attempt, capped at 60 s, +/-50%).
            marker = {"email": f"chaos-{tag}-zz-marker@example.com", "state": "Ohio", "city": "Dayton", "zipcode": "45401"}
            ddb.put_item(TableName=users_table, Item=users.to_item(marker))
            key = projection.target_key(users.to_item(marker))
            live = Deployed(settings)
            try:
                def drained() -> Left:
                    status(f"waiting for the stream to drain: {time.monotonic() - started:.0f} s, "
                           f"{proxy.counts().get('total', 0)} faults injected so far")
                    left = [] if "Item" in ddb.get_item(TableName=target, Key=key) else ["no end marker in the target"]
                    if live.queue_depth(QueueKind.QUARANTINE) < work.poison and live.queue_depth(QueueKind.DLQ) == 0:
                        left.append("the poison not in quarantine (nor dead-lettered)")
                    return Left(left)
                wait_for(drained, "the stream to drain (the end marker in the target, the poison in quarantine or "
                         "dead-lettered)", timeout=timeout, interval=0.5)
                status("reconciling")
                drift = wait_for(lambda: (d := reconciliation.compare(ddb, users_table, target)).total == 0 and d,
                                 "zero drift", timeout=30, interval=0.5)
            except WaitTimeout as error:
                say(f"[red]{error}[/]")
                drift = reconciliation.compare(ddb, users_table, target)
            drain_seconds = time.monotonic() - started
            counts = proxy.counts()
            result = Result(records=work.records + 1, poison=work.poison, faults=counts, log=replicate_log(settings, since),
                            quarantined=live.queue_depth(QueueKind.QUARANTINE),
                            dead_letters=live.queue_depth(QueueKind.DLQ), drift=drift,
                            seconds=time.monotonic() - started, drain_seconds=drain_seconds)
        finally:
            if not keep:
                remove(settings)
    return result


def report(result: Result) -> str:
    faults = ", ".join(f"{k} {v}" for k, v in result.faults.items() if k not in ("total", "requests"))
    log = result.log
    return "\n".join([
        f"records through the stream: {result.records} (with the end marker) in {result.drain_seconds:.1f} s "
        f"({result.records / max(result.drain_seconds, 1e-9):,.0f}/s)",
        f"target writes faulted:      {result.faults.get('total', 0)} of {result.faults.get('requests', 0)} requests ({faults})",
        f"retries:                    {log['retries']} BatchWriteItem calls retried by the function, "
        f"{plural(log['failed_invocations'], 'batch', 'batches')} failed and retried whole "
        f"(invocations that succeeded: {log['invocations']})",
        f"quarantined:                {result.quarantined} (poison written: {result.poison})",
        f"dead letters:               {result.dead_letters}",
        reconciliation.describe(result.drift),
    ])
