"""Start the emulator (EMULATOR=auto: LocalStack where Docker answers, else MiniStack) and
converge the stack on it; remembers the endpoint for the commands that follow. Data saved by
`ddblab down` (.run/snapshot/) is written back into its empty table, and the stream rebuilds
every view from it."""
from __future__ import annotations

import time

from ddblab.commands import bootstrap
from ddblab.core.output import plural
from ddblab.core.settings import Settings, UserError
from ddblab.core.waiting import WaitTimeout, wait_for
from ddblab.emulator.lifecycle import up

HELP = "start the emulator and converge the stack (idempotent); bring back the data make down kept"


def configure(parser) -> None:
    parser.add_argument("--no-bootstrap", action="store_true", help="start the emulator only")


def bring_back(settings: Settings, timeout: float = 300) -> dict:
    """Wait until every table of the stack is ACTIVE; write the saved tables back, then wait
    for every view to be rebuilt by the stream (users_by_location in step, each consumer's
    table holding a row for every user); returns the figures (items, seconds written back,
    seconds until every view was in step)."""
    from ddblab.data import reconciliation, snapshot, views
    from ddblab.stack.deployed import Deployed
    live = Deployed(settings)
    started = time.monotonic()
    tables = [t.name for t in live.stack.tables]
    own = views.view_tables(live.stack)
    try:
        wait_for(lambda: views.all_active(live.dynamodb, tables), f"every table ({', '.join(tables)}) to be ACTIVE",
                 timeout=timeout, interval=0.2)
        restored = snapshot.restore(live.dynamodb, settings, snapshot.source_tables(live.stack))
        for k in restored:
            written = f"{plural(k.items, 'item')} written back to {k.table} in {k.seconds:.1f} s"
            print(f"data: {k.note or written}")
        for table in snapshot.waiting(settings, restored):
            prefix = snapshot.prefix_of(table)
            how = f"STACK_PREFIX={prefix} make up" if prefix else "make up without STACK_PREFIX"
            print(f"data: saved data of another stack waits in {snapshot.folder(settings)}: {table} ({how} writes it back)")
        if not any(k.items for k in restored):
            return {}
        # Counting is cheap (the emulator's one poller thread is rebuilding meanwhile); compare once the count is there.
        placed, items = sum(k.placed for k in restored), sum(k.items for k in restored)
        wait_for(lambda: snapshot.count(live.dynamodb, live.names.target) >= placed,
                 f"{live.names.target} to hold the {plural(placed, 'user')} written back", timeout=timeout, interval=0.5)
        drift = wait_for(lambda: (d := reconciliation.compare(live.dynamodb, live.names.users, live.names.target)).total == 0
                         and d, f"{live.names.target} to be rebuilt by the stream", timeout=timeout, interval=0.5)
        for table in own:
            wait_for(lambda table=table: snapshot.count(live.dynamodb, table) >= items,
                     f"{table} to hold a row for each of the {plural(items, 'user')} written back", timeout=timeout, interval=0.5)
        wait_for(lambda: views.in_step(live.dynamodb, live.names.users, own),
                 f"{', '.join(own)} to hold a row for every user", timeout=timeout, interval=0.5)
    except WaitTimeout as error:
        raise UserError(f"{error} - the pipeline is behind or stuck: look at make logs, make status") from None
    total = time.monotonic() - started
    rebuilt = "".join(f", {table} (a row for every user)" for table in own)
    print(f"data: {live.names.target} rebuilt by the stream ({plural(drift.target_items, 'item')}, drift 0){rebuilt}; "
          f"everything back in {total:.1f} s")
    return {"items": items, "written_s": round(sum(k.seconds for k in restored), 2),
            "in_step_s": round(total, 2)}


def run(args) -> int:
    settings = Settings.from_env()
    up(settings)
    if args.no_bootstrap:
        return 0
    status = bootstrap.run(args, settings)
    if status == 0:
        bring_back(settings)
    return status
