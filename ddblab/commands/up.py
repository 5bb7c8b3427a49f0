"""Start the emulator (EMULATOR=auto: LocalStack where Docker answers, else MiniStack) and
converge the stack on it; remembers the endpoint for the commands that follow."""
from __future__ import annotations

from ddblab.commands import bootstrap
from ddblab.core.settings import Settings
from ddblab.emulator.lifecycle import up

HELP = "start the emulator and converge the stack (idempotent)"


def configure(parser) -> None:
    parser.add_argument("--no-bootstrap", action="store_true", help="start the emulator only")


def run(args) -> int:
    settings = Settings.from_env()
    up(settings)
    if args.no_bootstrap:
        return 0
    return bootstrap.run(args, settings)
