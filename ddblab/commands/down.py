"""Stop what `ddblab up` started. The emulators keep everything in memory, so first the
tables that feed the stream (today `users`) are saved to the run directory (.run/snapshot/),
and the next `ddblab up` writes them back through the normal write path: the stream rebuilds
every view and consumer table from them. Queues, logs and stream positions are not kept.
--discard keeps nothing (and forgets an earlier snapshot).

    ddblab down [--discard]
"""
from __future__ import annotations

import dataclasses

from ddblab.core.output import plural
from ddblab.core.settings import Settings, UserError
from ddblab.data import snapshot
from ddblab.emulator import localstack
from ddblab.emulator.health import health
from ddblab.emulator.lifecycle import down
from ddblab.emulator.localstack_host import LocalStackHost
from ddblab.emulator.ministack import MiniStack

HELP = "save your data (the users table), then stop what up started (--discard: keep nothing)"


def configure(parser) -> None:
    parser.add_argument("--discard", action="store_true", help="keep nothing: no snapshot, and an earlier one forgotten")


def keep(settings: Settings) -> None:
    """Save the tables that feed the stream, if the emulator make up started still answers."""
    if not (MiniStack(settings).pid() is not None or localstack.started_here(settings)
            or LocalStackHost(settings).pid() is not None):
        return  # down stops nothing: nothing is lost
    if health(settings.endpoint_url) is None:
        print("data: the emulator does not answer, so nothing could be saved")
        return
    from ddblab.core.aws import find
    from ddblab.stack.describe import describe
    from ddblab.stack.model import Account
    client, account = settings.client("dynamodb"), Account.of(settings)
    # Every stack's: stopping the emulator loses them all (STACK_PREFIX=dev1- stacks beside this one).
    # stack_prefixes found their tables already; only this stack's may not exist.
    found = snapshot.stack_prefixes(client)
    tables = [t for prefix in sorted({settings.prefix, *found})
              for t in snapshot.source_tables(describe(dataclasses.replace(settings, prefix=prefix), account))
              if prefix in found or find(client.describe_table, "ResourceNotFoundException", TableName=t)]
    try:
        kept = snapshot.save(client, settings, tables)
    except Exception as error:  # noqa: BLE001 - whatever it was, stopping now would lose the data
        raise UserError(f"could not save {', '.join(tables)}: {error} - nothing was stopped; to stop without "
                        "keeping the data: make down ARGS=--discard") from None
    for k in kept:
        prefix = snapshot.prefix_of(k.table)
        how = ("make up" if prefix in (None, settings.prefix) else
               f"STACK_PREFIX={prefix} make up" if prefix else "make up without STACK_PREFIX")
        print(f"data: kept {plural(k.items, 'item')} of {k.table} in {k.path} ({k.seconds:.1f} s); {how} writes them back "
              "and the stream rebuilds the views from them")
    if kept:
        print("data: not kept: queue messages, logs, stream positions (make down ARGS=--discard keeps nothing)")


def run(args) -> int:
    settings = Settings.from_env()
    if args.discard:
        for path in snapshot.discard(settings):
            print(f"data: forgot {path}")
    else:
        keep(settings)
    down(settings)
    return 0
