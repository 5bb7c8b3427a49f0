"""Rebuild a consumer's view after its view() changed: the rows it wrote stay as the old code
made them (each holds the stream position of its last change, and the template writes a row
only for a later one), so make bootstrap ARGS='--rebuild NAME' deletes the consumer's mapping
and its table; the converge that follows creates both again, the mapping from the start of
the stream (TRIM_HORIZON), and the function as deployed now writes every row anew. The view
is derived from users (make down never saves one), so nothing is lost that the stream holds:
on an emulator, every user written since make up (which writes its users back through the
stream); on AWS, the last 24 hours."""
from __future__ import annotations

from ddblab.core.aws import find, mappings_of
from ddblab.core.settings import UserError
from ddblab.core.waiting import wait_for
from ddblab.stack.model import Consumer, Stack, mapping_label
from ddblab.stack.report import Report


def consumers(stack: Stack, names: list) -> list:
    """The consumers named, each keeping a view; a precise error, before anything changes,
    for a name that is none."""
    chosen = []
    with_view = [c.module for c in stack.consumers if c.view] or ["none yet: make consumer adds one"]
    for name in dict.fromkeys(names):
        consumer = next((c for c in stack.consumers if c.module == name), None)
        if consumer is None:
            raise UserError(f"--rebuild {name}: no consumer {name} in ddblab/stack/consumers.py "
                            f"(those keeping a view: {', '.join(with_view)})")
        if not consumer.view:
            why = (" - its view is users_by_location: run make reconcile ARGS=--fix" if consumer.reconcile
                   else f" (those keeping one: {', '.join(with_view)})")
            raise UserError(f"--rebuild {name}: {name} keeps no view of its own to rebuild{why}")
        chosen.append(consumer)
    return chosen


def clear(stack: Stack, chosen: list[Consumer]) -> Report:
    """Delete each chosen consumer's mappings and table, waiting until each is gone (LocalStack
    lists a deleted mapping until its poller stops; a table must be gone before it is made again)."""
    report = Report()
    lam, ddb = stack.settings.client("lambda"), stack.settings.client("dynamodb")
    for consumer in chosen:
        function = stack.names.function(consumer.module)
        for m in find(mappings_of, "ResourceNotFoundException", lam=lam, function=function) or []:
            find(lam.delete_event_source_mapping, "ResourceNotFoundException", UUID=m["UUID"])
            wait_for(lambda uuid=m["UUID"]: find(lam.get_event_source_mapping, "ResourceNotFoundException", UUID=uuid)
                     is None, f"mapping {m['UUID']} ({function}) to be deleted", timeout=60)
            report.add("mapping", mapping_label(function, stack.names.users), "removed",
                       f"{m['UUID']}: to read the stream again from its start")
        if find(ddb.delete_table, "ResourceNotFoundException", TableName=function) is not None:
            wait_for(lambda name=function: find(ddb.describe_table, "ResourceNotFoundException", TableName=name) is None,
                     f"table {function} to be deleted", timeout=60)
            report.add("table", function, "removed", "its rows: written again by the function as deployed now")
    return report
