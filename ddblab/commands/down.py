"""Stop what `ddblab up` started (its state, in memory, goes with it)."""
from __future__ import annotations

from ddblab.core.settings import Settings
from ddblab.emulator.lifecycle import down

HELP = "stop what up started"


def configure(parser) -> None:
    pass


def run(args) -> int:
    down(Settings.from_env())
    return 0
