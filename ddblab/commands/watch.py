"""A live view of the users stream itself, read with the DynamoDB Streams API (not the
functions' logs): one line per record, decoded to plain values, coloured by event, a
MODIFY showing what changed (old -> new). Ctrl-C stops.

    ddblab watch [--from-start] [--event INSERT,MODIFY] [--key ada@example.com] [--record FILE]
"""
from __future__ import annotations

import argparse
import sys
import time

from rich.markup import escape

from ddblab.core.output import console, plural
from ddblab.core.settings import UserError
from ddblab.inspect import stream
from ddblab.inspect.render import change_line
from ddblab.stack.deployed import Deployed

HELP = "a live view of the users stream (DynamoDB Streams API), one line per record"


def configure(parser) -> None:
    parser.add_argument("--from-start", action="store_true",
                        help="from the oldest record the stream keeps (TRIM_HORIZON), not from now (LATEST)")
    parser.add_argument("--event", default="", help="only these events, comma-separated: INSERT,MODIFY,REMOVE")
    parser.add_argument("--key", action="append", default=[], help="only records of this key (e.g. an email); repeatable")
    parser.add_argument("--record", metavar="FILE", help="also write each raw record as one JSON line to FILE (for replay)")
    # For tests and measurements: stop once no record came for this many seconds.
    parser.add_argument("--stop-after", type=float, metavar="SECONDS", help=argparse.SUPPRESS)


def events(text: str) -> tuple:
    wanted = tuple(e.strip().upper() for e in text.split(",") if e.strip())
    unknown = [e for e in wanted if e not in stream.EVENTS]
    if unknown:
        raise UserError(f"--event {','.join(unknown)}: use {', '.join(stream.EVENTS)}")
    return wanted


def run(args) -> int:
    wanted = events(args.event)
    live = Deployed.connect()
    live.require_tables()
    arn = live.stream_arn
    reader = stream.StreamReader(live.client("dynamodbstreams"), arn, from_start=args.from_start)
    out = open(args.record, "a", encoding="utf-8") if args.record else None  # noqa: SIM115 - closed below
    console.print(f"[dim]watching {escape(arn)} from {'the start' if args.from_start else 'now'}"
                  f"{' (Ctrl-C to stop)' if args.stop_after is None else ''}[/]", highlight=False, soft_wrap=True)
    seen = shown = 0
    lags = []  # seconds from a record's write to its line
    started = last = time.monotonic()
    try:
        while args.stop_after is None or time.monotonic() - last < args.stop_after:
            batch = reader.poll()
            if not batch:
                time.sleep(0.25)
                continue
            last = time.monotonic()
            lines = []  # printed once per batch: rich costs ~0.4 ms a print, a bulk load brings thousands
            for record in batch:
                seen += 1
                if not stream.selected(record, wanted, tuple(args.key)):
                    continue
                shown += 1
                if out:
                    out.write(stream.as_json(record) + "\n")
                entry = stream.entry(record)
                created = entry.pop(stream.CREATED, None)
                entry.pop(stream.log_lines.SEQUENCE, None)
                stamp = time.strftime("%H:%M:%S", time.localtime(created)) if created else "--:--:--"
                if created:
                    lags.append(time.time() - created)
                lines.append(f"[dim]{stamp}[/] {change_line(entry)}")
            if lines:
                console.print("\n".join(lines), highlight=False, soft_wrap=True)
    finally:
        if out:
            out.close()
        elapsed = time.monotonic() - started
        lag = f", lag behind the writer median {sorted(lags)[len(lags) // 2]:.1f} s, max {max(lags):.1f} s" if lags else ""
        print(f"watch: {plural(seen, 'record')} read, {shown} shown in {elapsed:.1f} s{lag}"
              + (f", {reader.renewed} expired iterators renewed" if reader.renewed else ""), file=sys.stderr)
    return 0
