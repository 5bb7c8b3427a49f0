"""Add to the project. `new consumer NAME` writes handlers/NAME.py from the template (fold per
key, idempotent under redelivery and replay, stdlib + boto3), tests/unit/test_NAME.py and
tests/integration/test_NAME_live.py, and adds one line to the stack description
(ddblab/stack/consumers.py): its function, its mapping on the users stream and a table of its
own follow from that line. make bootstrap deploys it.

    ddblab new consumer state_counts --index state
"""
from __future__ import annotations

from ddblab.core.settings import UserError
from ddblab.stack.scaffold import NewConsumer

HELP = "add a stream consumer: its handler from the template, its tests, its line in the stack description"


def configure(parser) -> None:
    sub = parser.add_subparsers(dest="kind", metavar="<what>", required=True)
    consumer = sub.add_parser("consumer", help="a function the users stream feeds, with a table of its own")
    consumer.add_argument("name", help="its name: the handler module, the function and its table")
    consumer.add_argument("--index", action="append", default=[], metavar="ATTRIBUTE",
                          help="also index its table by this (string) attribute: a GSI by_ATTRIBUTE")


def run(args) -> int:
    if len(args.index) > 1:
        raise UserError(f"--index given {len(args.index)} times ({', '.join(args.index)}): a consumer's table has "
                        "one index at most - run: make consumer NAME=... ARGS='--index ATTRIBUTE'")
    new = NewConsumer(args.name, args.index[0] if args.index else None)
    for path in new.write():
        print(f"wrote {path}")
    print(f"next: edit view() in handlers/{args.name}.py (what to keep of each user), then make bootstrap "
          f"(deploys it; a running make dev redeploys it on every save after that), "
          f"and make test ARGS='tests/unit/test_{args.name}.py tests/integration/test_{args.name}_live.py'")
    return 0
