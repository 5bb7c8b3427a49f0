"""The pipeline page alone (make ui serves it beside dynamodb-admin): the chain drawn from
the stack description, live figures on every link, doctor's verdicts, and a tail of the
stream where a click shows a record's journey. On 127.0.0.1 only; Ctrl-C stops it.

    ddblab flow [--port 8002]
"""
from __future__ import annotations

from ddblab.core.output import console
from ddblab.core.settings import UserError
from ddblab.emulator.health import port_open
from ddblab.stack.deployed import Deployed

HELP = "the pipeline page in a browser: the chain, its live figures, each record's journey"
DEFAULT_PORT = 8002


def configure(parser) -> None:
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port on 127.0.0.1 (default {DEFAULT_PORT})")


def require_free(port: int, option: str = "--port", target: str = "flow") -> None:
    if port_open(port):
        raise UserError(f"port {port} is taken - run: make {target} ARGS='{option} {port + 10}'")


def run(args) -> int:
    from ddblab.flow.app import server

    live = Deployed.connect()
    live.require_tables()
    require_free(args.port)
    console.print(f"pipeline page on [bold]http://127.0.0.1:{args.port}[/] for {live.settings.endpoint_url}; "
                  "Ctrl-C stops it", highlight=False, soft_wrap=True)
    server(live.settings, args.port).run()
    return 0
