"""Converge the stack on whatever emulator answers, and print what changed and the outputs
a user needs (API URL, tables, stream ARN, queues). Safe to run any number of times."""
from __future__ import annotations

import json
import time

from ddblab.core.settings import Settings
from ddblab.emulator.health import require_backend
from ddblab.stack.converge import converge
from ddblab.stack.report import print_report

HELP = "converge the stack on the emulator that answers (idempotent)"


def configure(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print the outputs as JSON only")
    parser.add_argument("--prune", action="store_true",
                        help="also remove the mappings on the users stream whose function the stack does not describe "
                             "(a consumer taken out of ddblab/stack/consumers.py) and, where bootstrap made them, "
                             "their functions, roles and view tables")


def run(args, settings: Settings | None = None) -> int:
    settings = settings or Settings.from_env()
    require_backend(settings)
    started = time.monotonic()
    report = converge(settings, prune=getattr(args, "prune", False))
    if getattr(args, "json", False):
        print(json.dumps(report.outputs, indent=2))
    else:
        print_report(report, settings)
        if getattr(args, "prune", False) and not any(r.action == "removed" and "not described" in r.detail for r in report.rows):
            print("prune: nothing to remove (no mapping on the users stream calls a function the stack does not describe)")
        print(f"({time.monotonic() - started:.1f} s)")
    return 0
