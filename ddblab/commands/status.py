"""What is up: the emulator, and each part of the stack on it - tables, functions, mappings
(state and last result), the API, and how many messages wait in the quarantine and
dead-letter queues. Exits 1 when something is missing, and says what to run.

    ddblab status
"""
from __future__ import annotations

from botocore.exceptions import ClientError

from ddblab.core.output import console
from ddblab.core.settings import Settings, UserError
from ddblab.emulator.lifecycle import status_line
from ddblab.stack.aws import mappings_of
from ddblab.stack.deployed import Deployed
from ddblab.stack.describe import describe


def check(settings: Settings) -> list:
    """(part, name, ok, detail) for each part of the stack."""
    spec = describe(settings)
    live = Deployed(settings)
    rows = []
    ddb, lam = live.dynamodb, live.client("lambda")
    for table in spec.tables:
        try:
            t = ddb.describe_table(TableName=table.name)["Table"]
            rows.append(("table", table.name, True, f"{t.get('ItemCount', '?')} items"))
        except ClientError:
            rows.append(("table", table.name, False, "missing"))
    for fn in spec.functions:
        try:
            state = lam.get_function(FunctionName=fn.name)["Configuration"].get("State", "Active")
            rows.append(("function", fn.name, state == "Active", state))
        except ClientError:
            rows.append(("function", fn.name, False, "missing"))
    for mapping in spec.mappings:
        try:
            found = mappings_of(lam, mapping.function)
        except ClientError:
            found = []
        name = mapping.label
        if len(found) != 1:
            rows.append(("mapping", name, False, f"{len(found)} mappings (want 1)"))
        else:
            m = found[0]
            rows.append(("mapping", name, m["State"] == "Enabled", f"{m['State']}; last: {m.get('LastProcessingResult', '?')}"))
    try:
        rows.append(("api", spec.api.name, True, live.api_url))
    except UserError:
        rows.append(("api", spec.api.name, False, "missing"))
    for kind in ("quarantine", "dlq"):
        try:
            rows.append(("queue", getattr(spec.names, kind), True, f"messages waiting: {live.queue_depth(kind)}"))
        except ClientError:
            rows.append(("queue", getattr(spec.names, kind), False, "missing"))
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
    width = max(len(name) for _, name, _, _ in rows)
    for part, name, ok, detail in rows:
        mark = "[green]ok[/]     " if ok else "[red]MISSING[/]"
        console.print(f"  {mark} {part:<9} {name:<{width}} {detail}", highlight=False, soft_wrap=True)
    if not all(ok for *_, ok, _ in rows):
        console.print("the stack is incomplete - run: make up", style="bold")
        return 1
    return 0
