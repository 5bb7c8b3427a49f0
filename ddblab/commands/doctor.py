"""Why didn't it fire: check every link of the chain, from the backend to a probe item sent
through the pipeline, one line per check, and on a failure the command that fixes it.
Exits 1 when a check fails (WARN and NOTE lines never fail it).

    ddblab doctor [--no-probe] [--deadline 20]
"""
from __future__ import annotations

from rich.markup import escape

from ddblab.core.kinds import Status
from ddblab.core.output import console, plural
from ddblab.core.settings import Settings
from ddblab.diagnose import checks
from ddblab.stack.deployed import Deployed

STYLES: dict[str, str] = {Status.PASS: "[green]PASS[/]", Status.FAIL: "[bold red]FAIL[/]", Status.WARN: "[yellow]WARN[/]",
          Status.NOTE: "[dim]NOTE[/]"}

HELP = "check every link of the chain and say what fixes what is broken"


def configure(parser) -> None:
    parser.add_argument("--no-probe", action="store_true", help="skip the probe item sent through the pipeline")
    parser.add_argument("--deadline", type=float, default=20.0,
                        help="seconds the probe item has to reach users_by_location, the audit log and each "
                        "consumer's own table (default 20)")


def line(check: checks.Check) -> str:
    text = f"{STYLES[check.status]} {check.part:<8} {escape(check.name)}: {escape(check.detail)}"
    return text + (f" [bold]- run: {escape(check.fix)}[/]" if check.fix and check.status != Status.PASS else "")


def run(args) -> int:
    settings = Settings.from_env()
    diagnosis = checks.Diagnosis(Deployed(settings))
    failed = warned = 0
    for check in checks.run(diagnosis, probe=not args.no_probe, deadline=args.deadline):
        console.print(line(check), highlight=False, soft_wrap=True)
        failed += check.failed
        warned += check.status == Status.WARN
    if failed:
        console.print(f"[bold red]{plural(failed, 'check')} failed[/]: run the command on each FAIL line, then make doctor again")
        return 1
    above = f" ({plural(warned, 'warning')} above)" if warned else ""
    console.print(f"[green]the chain is whole[/]{above}")
    return 0
