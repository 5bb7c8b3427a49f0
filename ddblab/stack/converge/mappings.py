"""Event source mappings: one per function on the table's current stream; duplicates,
mappings on a replaced stream and mappings with another starting position (it cannot be
changed in place) removed; updated only where a setting really differs."""
from __future__ import annotations

from ddblab.core.aws import mappings_of
from ddblab.core.waiting import wait_for
from ddblab.stack.converge import tables
from ddblab.stack.converge.context import Context
from ddblab.stack.model import Mapping


def wanted_settings(ctx: Context, spec: Mapping) -> dict:
    return dict(BatchSize=spec.batch_size, MaximumRetryAttempts=spec.max_retries,
                MaximumRecordAgeInSeconds=spec.max_record_age, BisectBatchOnFunctionError=spec.bisect,
                ParallelizationFactor=spec.parallelization_factor,
                DestinationConfig={"OnFailure": {"Destination": ctx.stack.account.queue_arn(ctx.stack.names.dlq)}})


def drift(current: dict, wanted: dict) -> list:
    have = {k: current.get(k) for k in wanted}
    # A mapping created without it runs one batch at a time (AWS's default, 1): not a change to make.
    have["ParallelizationFactor"] = current.get("ParallelizationFactor", 1)
    have["DestinationConfig"] = {"OnFailure": (current.get("DestinationConfig") or {}).get("OnFailure", {})}
    changed = [k for k in wanted if have[k] != wanted[k]]
    if (current.get("FilterCriteria") or {}).get("Filters"):
        changed.append("FilterCriteria")  # the stack filters nothing: a filter would drop records
    if current.get("State") in ("Disabled", "Disabling"):
        changed.append("Enabled")  # someone disabled it: the stack wants it running
    return changed


def converge(ctx: Context, spec: Mapping) -> None:
    stream = tables.stream_arn(ctx, spec.table)
    table_streams = f":table/{spec.table}/stream/"
    wanted = wanted_settings(ctx, spec)
    keep = None
    for m in mappings_of(ctx.lam, spec.function):
        if m["EventSourceArn"] != stream and table_streams not in m["EventSourceArn"]:
            continue  # another table's stream: not this mapping's business
        if m["EventSourceArn"] != stream:
            why = "stale stream"  # the stream was replaced: it would miss every new record
        elif m.get("StartingPosition", spec.starting_position) != spec.starting_position:
            # A LATEST mapping created after writes never sees them; the position cannot be updated.
            why = f"starting position {m['StartingPosition']}"
        elif keep is not None:
            why = "duplicate"  # MiniStack creates one silently: every record would be applied twice
        else:
            keep = m
            continue
        ctx.lam.delete_event_source_mapping(UUID=m["UUID"])
        ctx.report.add("mapping", spec.label, "removed", f"{why} {m['UUID']}")
    if keep is None:
        keep = ctx.lam.create_event_source_mapping(FunctionName=spec.function, EventSourceArn=stream,
                                                   StartingPosition=spec.starting_position, Enabled=True, **wanted)
        action, detail = "created", keep["UUID"]
    elif changed := drift(keep, wanted):
        # Only when a setting really differs: LocalStack rebuilds the poller on any update and
        # replays the stream from its starting position (event_source_mapping/esm_worker_factory.py).
        extra: dict[str, dict] = {"FilterCriteria": {}} if "FilterCriteria" in changed else {}
        ctx.lam.update_event_source_mapping(UUID=keep["UUID"], Enabled=True, **wanted, **extra)
        action, detail = "updated", ", ".join(changed)
    else:
        action, detail = "unchanged", keep["UUID"]
    uuid = keep["UUID"]
    wait_for(lambda: ctx.lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled",
             f"mapping {uuid} ({spec.function}) to be Enabled", timeout=60)
    ctx.report.add("mapping", spec.label, action, detail)
    ctx.report.outputs.setdefault("stream", stream)
