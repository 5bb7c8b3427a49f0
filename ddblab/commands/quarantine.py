"""What the quarantine and dead-letter queues hold - the user, the reason, the age; for a
dead letter, the batch it stood for - read without consuming anything: each message read is
hidden while the reading goes on, then all are made visible again at once
(ddblab/inspect/queue_contents.py says why receiving with VisibilityTimeout=0 would not do).

    ddblab quarantine [--queue quarantine|dlq] [--limit 50]
"""
from __future__ import annotations

from rich.markup import escape

from ddblab.core.kinds import QueueKind
from ddblab.core.output import console, plural
from ddblab.inspect import queue_contents
from ddblab.stack.deployed import Deployed

HELP = "list the quarantine and dead-letter messages (user, reason, age) without consuming them"


def configure(parser) -> None:
    parser.add_argument("--queue", choices=[kind.value for kind in QueueKind], action="append", help="only this queue")
    parser.add_argument("--limit", type=int, default=50, help="at most this many messages per queue (default 50)")


def run(args) -> int:
    live = Deployed.connect()
    for kind in args.queue or list(QueueKind):
        name = getattr(live.names, kind)
        depth = live.queue_depth(kind)
        messages = queue_contents.peek(live.sqs, live.queue_url(kind), kind, limit=args.limit) if depth else []
        more = f", showing {len(messages)}" if len(messages) < depth else ""
        console.print(f"[bold]{name}[/]: {plural(depth, 'message')}{more}", highlight=False)
        for m in messages:
            console.print(f"  {queue_contents.ago(m.age):>4} ago  {escape(m.user)}  [red]{escape(m.reason)}[/]  "
                          f"[dim]{escape(m.detail)}[/]", highlight=False, soft_wrap=True)
    console.print("[dim]nothing was consumed; once the code or data is fixed: make redrive (ARGS=--dry-run first)[/]")
    return 0
