"""The stack in a browser, both pages at once: the pipeline page (ddblab flow: the chain, its
live figures, each record's journey) and the tables in dynamodb-admin (installed into
node_modules/ on first use; needs Node.js and npm - without them the pipeline page is served
alone, with a line saying why). Both on 127.0.0.1 only; Ctrl-C stops both.

    ddblab ui [--port 8001] [--flow-port 8002]
"""
from __future__ import annotations

import signal

from ddblab.commands.flow import DEFAULT_PORT as FLOW_PORT
from ddblab.commands.flow import require_free
from ddblab.core.output import console
from ddblab.core.settings import UserError
from ddblab.emulator import admin_ui
from ddblab.stack.deployed import Deployed

HELP = "the stack in a browser: the pipeline page and the tables (dynamodb-admin), on loopback ports"


def configure(parser) -> None:
    parser.add_argument("--port", type=int, default=admin_ui.DEFAULT_PORT,
                        help=f"dynamodb-admin's port on 127.0.0.1 (default {admin_ui.DEFAULT_PORT})")
    parser.add_argument("--flow-port", type=int, default=FLOW_PORT,
                        help=f"the pipeline page's port on 127.0.0.1 (default {FLOW_PORT})")


def start_admin(live, port: int):
    """dynamodb-admin on the port, or None (and why) where Node.js is missing."""
    try:
        admin_ui.install()
    except UserError as missing:
        console.print(f"[yellow]no dynamodb-admin[/]: {missing}", highlight=False, soft_wrap=True)
        return None
    return admin_ui.start(live.settings, port)


def run(args) -> int:
    from ddblab.flow.app import server

    live = Deployed.connect()
    live.require_tables()
    require_free(args.flow_port, "--flow-port", target="ui")
    require_free(args.port, target="ui")
    process = start_admin(live, args.port)
    if process is not None:
        console.print(f"dynamodb-admin on [bold]http://127.0.0.1:{args.port}[/] (tables "
                      f"{', '.join(t.name for t in live.stack.tables)})", highlight=False, soft_wrap=True)
    console.print(f"pipeline page  on [bold]http://127.0.0.1:{args.flow_port}[/] for {live.settings.endpoint_url}; "
                  "Ctrl-C stops both", highlight=False, soft_wrap=True)
    # uvicorn stops on SIGTERM and then raises it again: as an interrupt, not the default
    # action (which would end this process at once and leave dynamodb-admin running).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        server(live.settings, args.flow_port).run()
        return 0
    finally:
        if process is not None and process.poll() is None:
            process.terminate()
            process.wait(timeout=10)
