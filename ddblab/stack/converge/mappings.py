"""Event source mappings: one per function on the table's current stream; duplicates,
mappings on a replaced stream and mappings with another starting position (it cannot be
changed in place) removed; updated only where a setting really differs."""
from __future__ import annotations

from dataclasses import dataclass

from ddblab.core.aws import find, function_name, mappings_of, paged
from ddblab.core.waiting import wait_for
from ddblab.stack.converge import tables
from ddblab.stack.converge.context import Context
from ddblab.stack.model import Mapping, Names, Stack, mapping_label
from ddblab.stack.remove import delete_mapping, delete_table, remove_function, tagged_view


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


@dataclass
class Undescribed:
    """A mapping on the stack's stream calling a function the description does not name (a
    consumer whose line was taken out of ddblab/stack/consumers.py, or one made by hand)."""
    mapping: dict
    function: str
    table: str  # whose stream
    made_here: bool  # bootstrap made the function (its role) and no other stream feeds it

    @property
    def label(self) -> str:
        return mapping_label(self.function, self.table)

    @property
    def why(self) -> str:
        return (f"{self.mapping['UUID']}: not described - no line of ddblab/stack/consumers.py makes "
                f"{self.function}, and every record still reaches it")

    @property
    def fix(self) -> str:
        if self.made_here:
            return f"{PRUNE} (removes the mapping, the function, its role and its view table), or put its line back"
        return f"{PRUNE} (removes the mapping; the function stays: bootstrap did not make it)"


def not_described(stack: Stack, lam, table: str, stream: str) -> list:
    """The Undescribed mappings on this stream: every record still reaches their functions."""
    described = {f.name for f in stack.functions}
    found = []
    for m in paged(lam, "list_event_source_mappings", "EventSourceMappings"):
        function = function_name(m.get("FunctionArn", ""))
        if m.get("EventSourceArn") != stream or function in described or m.get("State") == "Deleting":
            continue
        config = find(lam.get_function, "ResourceNotFoundException", FunctionName=function)
        role = (config or {}).get("Configuration", {}).get("Role", "")
        fed = find(mappings_of, "ResourceNotFoundException", lam=lam, function=function) or []
        made_here = (function.startswith(stack.settings.prefix) and role.endswith(f"/{Names.role(function)}")
                     and all(other.get("EventSourceArn") == stream for other in fed))
        found.append(Undescribed(m, function, table, made_here))
    return found


def undescribed(ctx: Context, table: str, prune: bool = False) -> None:
    """What not_described finds on the table's stream: said on every converge; with prune, its
    mapping removed (waited for: LocalStack lists a deleted mapping until its poller stops)
    and, where bootstrap made them, its function, its role and its view (tagged_view: derived
    from users, as make down treats every view; left, it would hand its old rows to a consumer
    added again under that name, whose replay cannot write over their later positions). Any
    other table, and the log group, stay."""
    for u in not_described(ctx.stack, ctx.lam, table, tables.stream_arn(ctx, table)):
        if not prune:
            ctx.report.add("mapping", u.label, "not described", f"{u.why}; {u.fix}")
            continue
        uuid = u.mapping["UUID"]
        delete_mapping(ctx.lam, uuid, u.function)
        kept = [] if u.made_here else [f"the function {u.function} stays: bootstrap did not make it"]
        named = (find(ctx.ddb.describe_table, "ResourceNotFoundException", TableName=u.function) or {}).get("Table") or {}
        # never a table the stack describes, nor one bootstrap did not tag as this function's view
        is_view = (bool(named) and u.made_here and u.function not in {t.name for t in ctx.stack.tables}
                   and tagged_view(ctx.ddb, named))
        if named and not is_view:
            kept.append(f"the table {u.function} stays: bootstrap did not make it as {u.function}'s view")
        ctx.report.add("mapping", u.label, "removed", f"{uuid}, not described" + "".join(f"; {k}" for k in kept)
                       + f"; its log group {Names.log_group(u.function)}, if any, stays")
        if u.made_here:
            remove_function(ctx.report, ctx.lam, ctx.iam, None, u.function, Names.role(u.function), None)
        if is_view:
            delete_table(ctx.ddb, u.function)
            ctx.report.add("table", u.function, "removed", "the view bootstrap made for it: a consumer added again "
                           "rebuilds it from what the stream holds (make down, make up: from all of users)")
