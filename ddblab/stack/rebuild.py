"""Rebuild a consumer's view after its view() changed: the rows it wrote stay as the old code
made them (each holds the stream position of its last change, and the template writes a row
only for a later one), so make bootstrap ARGS='--rebuild NAME' deletes the consumer's mapping
on the users stream and its table; the converge that follows creates both again, the mapping
from the start of the stream (TRIM_HORIZON), and the function as deployed now writes every row
anew. The view is derived from users (make down never saves one); on an emulator the stream
holds every user written since make up (which writes its users back through it). On AWS the
stream keeps 24 hours, so a rebuild would lose older users' rows: refused there."""
from __future__ import annotations

from ddblab.core.aws import find, mappings_of
from ddblab.core.settings import UserError
from ddblab.stack.code import check_compiles, sources
from ddblab.stack.model import Consumer, Stack, mapping_label
from ddblab.stack.remove import delete_mapping, delete_table, tagged_view
from ddblab.stack.report import Report


def consumers(stack: Stack, names: list) -> list:
    """The consumers named, each keeping a view bootstrap made; a precise error, before anything
    changes, for a name that is none, on AWS, or when a handler would not deploy."""
    if not stack.settings.is_local:
        raise UserError("--rebuild replays the users stream, which keeps 24 hours on AWS: the rows of older users "
                        "would be lost - rebuild on an emulator")
    chosen = []
    with_view = [c.module for c in stack.consumers if c.view] or ["none yet: make consumer adds one"]
    ddb = stack.settings.client("dynamodb")
    for name in dict.fromkeys(names):
        consumer = next((c for c in stack.consumers if c.module == name), None)
        if consumer is None:
            raise UserError(f"--rebuild {name}: no consumer {name} in ddblab/stack/consumers.py "
                            f"(those keeping a view: {', '.join(with_view)})")
        if not consumer.view:
            why = (" - its view is users_by_location: run make reconcile ARGS=--fix" if consumer.reconcile
                   else f" (those keeping one: {', '.join(with_view)})")
            raise UserError(f"--rebuild {name}: {name} keeps no view of its own to rebuild{why}")
        table = stack.names.function(name)
        found = (find(ddb.describe_table, "ResourceNotFoundException", TableName=table) or {}).get("Table")
        if found and not tagged_view(ddb, found):
            raise UserError(f"--rebuild {name}: the table {table} was not made by bootstrap as {name}'s view (made "
                            "by hand, or before views were tagged): rebuild it by deleting it yourself, or make down, "
                            "then make up")
        chosen.append(consumer)
    for function in stack.functions:  # a handler that would not deploy stops it here, not halfway
        check_compiles(sources(function.module))
    return chosen


def clear(stack: Stack, chosen: list[Consumer]) -> Report:
    """Delete each chosen consumer's mappings on the users stream and its table, each waited
    for until gone. Safe to repeat: what is gone already is skipped."""
    report = Report()
    lam, ddb = stack.settings.client("lambda"), stack.settings.client("dynamodb")
    users_stream = f":table/{stack.names.users}/stream/"
    for consumer in chosen:
        function = stack.names.function(consumer.module)
        for m in find(mappings_of, "ResourceNotFoundException", lam=lam, function=function) or []:
            if users_stream in m.get("EventSourceArn", "") and delete_mapping(lam, m["UUID"], function):
                report.add("mapping", mapping_label(function, stack.names.users), "removed",
                           f"{m['UUID']}: to read the stream again from its start")
        if delete_table(ddb, function):
            report.add("table", function, "removed", "its rows: written again by the function as deployed now")
    return report
