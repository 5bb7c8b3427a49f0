"""The tables in a browser: dynamodb-admin started against the emulator on a loopback port
(installed into node_modules/ on first use; needs Node.js and npm). Ctrl-C stops it.

    ddblab ui [--port 8001]
"""
from __future__ import annotations

from ddblab.core.output import console
from ddblab.core.settings import UserError
from ddblab.emulator import admin_ui
from ddblab.emulator.health import port_open
from ddblab.stack.deployed import Deployed

HELP = "the tables in a browser (dynamodb-admin on a loopback port)"


def configure(parser) -> None:
    parser.add_argument("--port", type=int, default=admin_ui.DEFAULT_PORT, help="port on 127.0.0.1 (default 8001)")


def run(args) -> int:
    live = Deployed.connect()
    admin_ui.install()
    if port_open(args.port):
        raise UserError(f"port {args.port} is taken - run: make ui ARGS='--port 8002'")
    process = admin_ui.start(live.settings, args.port)
    console.print(f"dynamodb-admin on [bold]http://127.0.0.1:{args.port}[/] for {live.settings.endpoint_url} "
                  f"(tables {', '.join(t.name for t in live.stack.tables)}); Ctrl-C stops it", highlight=False, soft_wrap=True)
    try:
        return process.wait()
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)
