"""Event source mappings: one per function on the table's current stream; duplicates and
mappings on a replaced stream removed; updated only where a setting really differs."""
from __future__ import annotations

from ddblab.core.waiting import wait_for
from ddblab.stack.aws import mappings_of
from ddblab.stack.converge import queues, tables
from ddblab.stack.converge.context import Context
from ddblab.stack.model import Mapping


def wanted_settings(ctx: Context, spec: Mapping) -> dict:
    return dict(BatchSize=spec.batch_size, MaximumRetryAttempts=spec.max_retries,
                MaximumRecordAgeInSeconds=spec.max_record_age, BisectBatchOnFunctionError=spec.bisect,
                DestinationConfig={"OnFailure": {"Destination": queues.arn(ctx, ctx.stack.names.dlq)}})


def drift(current: dict, wanted: dict) -> list:
    have = {k: current.get(k) for k in wanted}
    have["DestinationConfig"] = {"OnFailure": (current.get("DestinationConfig") or {}).get("OnFailure", {})}
    changed = [k for k in wanted if have[k] != wanted[k]]
    if current.get("State") in ("Disabled", "Disabling"):
        changed.append("Enabled")  # someone disabled it: the stack wants it running
    return changed


def converge(ctx: Context, spec: Mapping) -> None:
    stream = tables.stream_arn(ctx, spec.table)
    table_streams = f":table/{spec.table}/stream/"
    wanted = wanted_settings(ctx, spec)
    keep = None
    for m in mappings_of(ctx.lam, spec.function):
        if m["EventSourceArn"] == stream and keep is None:
            keep = m
        elif m["EventSourceArn"] == stream or table_streams in m["EventSourceArn"]:
            # A duplicate (MiniStack creates one silently) or a mapping on a stream that was
            # replaced: either would replay or miss records.
            ctx.lam.delete_event_source_mapping(UUID=m["UUID"])
            why = "duplicate" if m["EventSourceArn"] == stream else "stale stream"
            ctx.report.add("mapping", spec.label, "removed", f"{why} {m['UUID']}")
    if keep is None:
        keep = ctx.lam.create_event_source_mapping(FunctionName=spec.function, EventSourceArn=stream,
                                                   StartingPosition=spec.starting_position, Enabled=True, **wanted)
        action, detail = "created", keep["UUID"]
    elif changed := drift(keep, wanted):
        # Only when a setting really differs: LocalStack rebuilds the poller on any update and
        # replays the stream from its starting position (event_source_mapping/esm_worker_factory.py).
        ctx.lam.update_event_source_mapping(UUID=keep["UUID"], Enabled=True, **wanted)
        action, detail = "updated", ", ".join(changed)
    else:
        action, detail = "unchanged", keep["UUID"]
    uuid = keep["UUID"]
    wait_for(lambda: ctx.lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled",
             f"mapping {uuid} ({spec.function}) to be Enabled", timeout=60)
    ctx.report.add("mapping", spec.label, action, detail)
    ctx.report.outputs.setdefault("stream", stream)
