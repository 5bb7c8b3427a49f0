"""What is up: the emulator, and each part of the stack on it - tables, the stream, mappings
(state and last result, and why a batch failed), functions, roles, the API, and what waits
in the quarantine and dead-letter queues - judged by doctor's checks (one set of rules). A
broken part is never "ok": it is FAILED or MISSING with its reason (one clause) and what to
run, and status exits 1; a part waiting for you (quarantined records, recent errors in a
log) is WARN. A mapping is FAILED only while its last batch failed and nothing moved past
it: a batch that went to the dead-letter queue shows as the dead letter.

    ddblab status
"""
from __future__ import annotations

from dataclasses import dataclass

from rich.markup import escape

from ddblab.core.kinds import Status
from ddblab.core.output import console
from ddblab.core.settings import Settings
from ddblab.diagnose import checks
from ddblab.diagnose.diagnosis import Diagnosis
from ddblab.emulator.health import emulator_name
from ddblab.emulator.lifecycle import status_line
from ddblab.stack.deployed import Deployed


@dataclass(frozen=True)
class Row:
    part: str
    name: str
    state: str  # ok | WARN | FAILED | MISSING
    detail: str
    fix: str = ""


# doctor's checks of the stack itself (not the backend's caveats, not the probe)
PARTS = tuple(step for step in checks.STEPS if step is not checks.caveats)


def row(part: str, name: str, found: list) -> Row:
    """One part's checks as one row: its worst verdict, with that verdict's reasons."""
    failing = [c for c in found if c.status == Status.FAIL]
    warned = [c for c in found if c.status == Status.WARN]
    if failing:
        missing = all(c.detail.startswith("missing") for c in failing)
        return Row(part, name, "MISSING" if missing else "FAILED", "; ".join(c.detail for c in failing), failing[0].fix)
    if warned:
        return Row(part, name, "WARN", "; ".join(c.detail for c in warned), warned[0].fix)
    return Row(part, name, "ok", "; ".join(c.detail for c in found), next((c.fix for c in found if c.fix), ""))


def check(settings: Settings) -> list:
    """One Row per part of the stack, from doctor's checks (one set of rules); never "ok" for
    a part that is broken or waiting for you (a dead letter, a quarantined record)."""
    d = Diagnosis(Deployed(settings), backend=emulator_name(settings.endpoint_url))
    found: dict = {}
    for part in PARTS:
        for c in part(d):
            found.setdefault((c.part, c.name), []).append(c)
    return [row(part, name, group) for (part, name), group in found.items()]


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
        colour = {"ok": "green", "WARN": "yellow"}.get(row.state, "red")
        mark = f"[{colour}]{row.state:<7}[/]"
        fix = f" [bold]- run: {escape(row.fix)}[/]" if row.fix else ""
        console.print(f"  {mark} {row.part:<9} {escape(row.name):<{width}} {escape(row.detail)}{fix}", highlight=False,
                      soft_wrap=True)
    if any(row.state in ("FAILED", "MISSING") for row in rows):
        console.print("something is broken: run the command on its line (make doctor checks the whole chain)", style="bold")
        return 1
    return 0
