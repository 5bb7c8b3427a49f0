"""Print one output of the deployed stack, for shell use: API=$(ddblab outputs api_url);
with no name, every output, one "name value" line each."""
from __future__ import annotations

from collections.abc import Callable

from ddblab.core.kinds import QueueKind
from ddblab.core.settings import UserError
from ddblab.stack.consumers import CONSUMERS
from ddblab.stack.deployed import Deployed


def view_table(module: str) -> Callable[[Deployed], str]:
    """The output naming a consumer's own table."""
    return lambda live: live.names.function(module)


OUTPUTS: dict[str, Callable[[Deployed], str]] = {
    "api_url": lambda live: live.api_url,
    "users_table": lambda live: live.names.users,
    "target_table": lambda live: live.names.target,
    "stream_arn": lambda live: live.stream_arn,
    "quarantine_queue": lambda live: live.queue_url(QueueKind.QUARANTINE),
    "dlq": lambda live: live.queue_url(QueueKind.DLQ),
    "endpoint": lambda live: live.settings.endpoint_url,
    # the table of each consumer that keeps one (ddblab/stack/consumers.py): <consumer>_table
    **{f"{c.module}_table": view_table(c.module) for c in CONSUMERS if c.view},
}
NAMES_ONLY = {"users_table", "target_table", "endpoint", *(f"{c.module}_table" for c in CONSUMERS if c.view)}
HELP = "print one output of the stack (api_url, users_table, stream_arn, ...), nothing else; with none, all of them"


def configure(parser) -> None:
    parser.add_argument("name", nargs="?", choices=sorted(OUTPUTS), help="which output (all of them when left out)")


def run(args) -> int:
    live = Deployed.connect(announce=False)
    if args.name is None:
        live.require_tables()
        width = max(len(name) for name in OUTPUTS)
        for name in sorted(OUTPUTS):
            print(f"{name:<{width}}  {OUTPUTS[name](live) or '(not there - run: make up)'}")
        return 0
    if args.name not in NAMES_ONLY:
        live.require_tables()
    value = OUTPUTS[args.name](live)
    if not value:
        raise UserError(f"{args.name} is not there - run: make up")
    print(value)
    return 0
