"""What is up: the emulator, and each part of the stack on it - tables, functions, mappings
(state and last result, and why a batch failed), the API, and how many messages wait in
the quarantine and dead-letter queues. A broken part is never "ok": it is marked FAILED or
MISSING with its reason and what to run; exits 1 then.

    ddblab status
"""
from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import ClientError
from rich.markup import escape

from ddblab.core.aws import find, mappings_of
from ddblab.core.kinds import QueueKind
from ddblab.core.output import console
from ddblab.core.settings import Settings, UserError
from ddblab.diagnose.checks import BOOTSTRAP, Diagnosis
from ddblab.emulator.health import emulator_name
from ddblab.emulator.lifecycle import status_line
from ddblab.stack.deployed import Deployed


@dataclass(frozen=True)
class Row:
    part: str
    name: str
    state: str  # ok | FAILED | MISSING
    detail: str
    fix: str = ""


def check(settings: Settings) -> list:
    """One Row per part of the stack; never "ok" for a part that is broken."""
    d = Diagnosis(Deployed(settings), backend=emulator_name(settings.endpoint_url))
    spec, live = d.spec, d.live
    rows = []
    for table in spec.tables:
        found = find(live.dynamodb.describe_table, "ResourceNotFoundException", TableName=table.name)
        rows.append(Row("table", table.name, "ok", f"{found['Table'].get('ItemCount', '?')} items") if found
                    else Row("table", table.name, "MISSING", "", BOOTSTRAP))
    for fn in spec.functions:
        found = find(d.lam.get_function, "ResourceNotFoundException", FunctionName=fn.name)
        if found is None:
            rows.append(Row("function", fn.name, "MISSING", "", BOOTSTRAP))
            continue
        state = found["Configuration"].get("State", "Active")
        if state != "Active":
            rows.append(Row("function", fn.name, "FAILED", f"{state}: {found['Configuration'].get('StateReason')}", BOOTSTRAP))
        elif (error := d.start_error(fn.name)) is not None:
            rows.append(Row("function", fn.name, "FAILED", f"cannot start: {error}", d.fix_for_function(fn.name)))
        else:
            rows.append(Row("function", fn.name, "ok", state))
    for mapping in spec.mappings:
        found = find(mappings_of, "ResourceNotFoundException", lam=d.lam, function=mapping.function) or []
        current = [m for m in found if m["EventSourceArn"] == d.stream_arn]
        if len(current) != 1 or len(found) != 1:
            state = "MISSING" if not current else "FAILED"
            rows.append(Row("mapping", mapping.label, state, f"{len(current)} on the current stream, "
                            f"{len(found) - len(current)} on another (want 1)", BOOTSTRAP))
            continue
        m = current[0]
        result = m.get("LastProcessingResult") or "?"
        if m["State"] != "Enabled":
            rows.append(Row("mapping", mapping.label, "FAILED", f"{m['State']}; last: {result}", BOOTSTRAP))
        elif "FAILED" in result.upper():
            rows.append(Row("mapping", mapping.label, "FAILED", f"last batch FAILED: {d.failure_reason(mapping.function)}",
                            d.fix_for_function(mapping.function)))
        else:
            rows.append(Row("mapping", mapping.label, "ok", f"{m['State']}; last: {result}"))
    try:
        rows.append(Row("api", spec.api.name, "ok", live.api_url))
    except UserError:
        rows.append(Row("api", spec.api.name, "MISSING", "", BOOTSTRAP))
    for kind in QueueKind:
        try:
            depth = live.queue_depth(kind)
        except ClientError:
            rows.append(Row("queue", getattr(spec.names, kind), "MISSING", "", BOOTSTRAP))
            continue
        fix = "make quarantine" if depth else ""
        rows.append(Row("queue", getattr(spec.names, kind), "ok", f"messages waiting: {depth}", fix))
    return rows


HELP = "which emulator answers, and each part of the stack on it"


def configure(parser) -> None:
    pass


def run(args) -> int:
    settings = Settings.from_env()
    ok, line = status_line(settings)
    console.print(line, highlight=False, soft_wrap=True)
    if not ok:
        return 1
    rows = check(settings)
    width = max(len(row.name) for row in rows)
    for row in rows:
        mark = "[green]ok[/]     " if row.state == "ok" else f"[red]{row.state:<7}[/]"
        fix = f" [bold]- run: {escape(row.fix)}[/]" if row.fix else ""
        console.print(f"  {mark} {row.part:<9} {escape(row.name):<{width}} {escape(row.detail)}{fix}", highlight=False,
                      soft_wrap=True)
    if any(row.state != "ok" for row in rows):
        console.print("something is broken: run the command on its line (make doctor checks the whole chain)", style="bold")
        return 1
    return 0
