"""Event source mappings: one per function on the table's current stream; duplicates,
mappings on a replaced stream and mappings with another starting position (it cannot be
changed in place) removed; updated only where a setting really differs."""
from __future__ import annotations

from ddblab.core.aws import find, function_name, mappings_of, paged
from ddblab.core.waiting import wait_for
from ddblab.stack.converge import tables
from ddblab.stack.converge.context import Context
from ddblab.stack.model import Mapping, Names


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


PRUNE = "make bootstrap ARGS=--prune"  # removes what not_described finds


def not_described(lam, stream: str, described: set) -> list:
    """[(mapping, function name)]: the mappings on this stream whose function the description
    does not name (a consumer whose line was taken out of ddblab/stack/consumers.py, or one
    made by hand). Every record still reaches those functions."""
    found = paged(lam, "list_event_source_mappings", "EventSourceMappings")
    return [(m, function) for m in found if m.get("EventSourceArn") == stream
            and (function := function_name(m.get("FunctionArn", ""))) not in described]


def why_not_described(m: dict, function: str) -> str:
    return f"{m['UUID']}: {function} is not in ddblab/stack/consumers.py and still gets every record"


def undescribed(ctx: Context, table: str, prune: bool = False) -> None:
    """The mappings not_described finds on the table's stream: said on every converge;
    removed, with the function (and the role bootstrap made for it), only when asked (prune).
    Its table and log group stay: data is never deleted by a converge."""
    for m, function in not_described(ctx.lam, tables.stream_arn(ctx, table), {f.name for f in ctx.stack.functions}):
        label = f"{function} <- {table}"
        if not prune:
            ctx.report.add("mapping", label, "not described", f"{why_not_described(m, function)}; "
                           f"{PRUNE} removes it and its function")
            continue
        find(ctx.lam.delete_event_source_mapping, "ResourceNotFoundException", UUID=m["UUID"])
        found = find(ctx.lam.get_function, "ResourceNotFoundException", FunctionName=function)
        find(ctx.lam.delete_function, "ResourceNotFoundException", FunctionName=function)
        removed = [f"the function {function}"]
        role = Names.role(function)
        if found and found["Configuration"].get("Role", "").endswith(f"/{role}"):  # the role bootstrap made for it
            find(ctx.iam.delete_role_policy, "NoSuchEntity", RoleName=role, PolicyName=Names.POLICY)
            find(ctx.iam.delete_role, "NoSuchEntity", RoleName=role)
            removed.append(f"its role {role}")
        ctx.report.add("mapping", label, "removed", f"{m['UUID']}, not described, with {' and '.join(removed)} "
                       "(its table and log group, if any, stay: data is never deleted by a converge)")
