"""Follow the functions' output from CloudWatch Logs (the same on every backend), one
colour per function; audit's lines read as `make watch` shows the stream (every field of
the line; --raw prints the lines as logged). A function that cannot start (an import or
syntax error) is reported too: MiniStack writes that only to its own log, so logs asks
the function itself, at the start and whenever one of its mappings reports a failed batch.
(LocalStack's own container log shows the functions' output too:
`docker compose logs -f localstack`.) Ctrl-C stops.

    ddblab logs [--since 2m] [--no-follow] [--function audit] [--raw]
"""
from __future__ import annotations

import json
import re
import time

from botocore.exceptions import EndpointConnectionError
from rich.markup import escape

from ddblab.core.aws import log_events, mappings_of
from ddblab.core.output import console, plural
from ddblab.core.settings import UserError
from ddblab.diagnose.function_errors import start_error
from ddblab.emulator.health import require_alive
from ddblab.inspect.render import change_line
from ddblab.stack.code import handler_module
from ddblab.stack.consumers import function_modules
from ddblab.stack.deployed import Deployed
from ddblab.stack.model import Names

# One colour per function, by its position in the stack description (a new consumer gets the next).
PALETTE = ("cyan", "green", "magenta", "yellow", "blue", "bright_red", "bright_cyan", "bright_green",
           "bright_magenta", "bright_yellow", "bright_blue")
COLOURS = {module: PALETTE[i % len(PALETTE)] for i, module in enumerate(function_modules())}
WIDTH = max(map(len, COLOURS))
NOISE = re.compile(r"^(START|END|REPORT|INIT_START) RequestId")
log_lines = handler_module("log_lines")  # the keys of the lines audit and replicate write


def since_ms(text: str) -> int:
    match = re.fullmatch(r"(\d+)([smh])", text)
    if not match:
        raise UserError(f"--since {text!r}: use a number and s, m or h, like 10m")
    seconds = int(match[1]) * {"s": 1, "m": 60, "h": 3600}[match[2]]
    return int((time.time() - seconds) * 1000)


def render(function: str, message: str) -> str:
    """The message as rich markup: what the log says is escaped, never taken for markup."""
    message = message.rstrip()
    try:
        entry = json.loads(message)
    except ValueError:
        return escape(message)
    if isinstance(entry, dict) and log_lines.AUDIT in entry:
        return change_line(entry)
    if isinstance(entry, dict) and (log_lines.REPLICATE in entry or log_lines.REPLICATE_FAILED in entry):
        s = entry.get(log_lines.REPLICATE) or entry[log_lines.REPLICATE_FAILED]
        rejected = s.get(log_lines.REJECTED)
        refused = f", {rejected} refused by the target" if rejected else ""
        retries = plural(s.get(log_lines.RETRIES, 0), "retry")
        line = (f"{plural(s.get(log_lines.RECORDS, 0), 'record')} -> {plural(s.get(log_lines.WRITES, 0), 'write')}, "
                f"{s.get(log_lines.QUARANTINED, 0)} quarantined{refused}, {retries}")
        return escape(line) if log_lines.REPLICATE in entry else \
            f"[red]FAILED[/] {escape(line)}: {escape(str(s.get(log_lines.ERROR)))} (the batch will be retried)"
    if isinstance(entry, dict) and isinstance(entry.get(log_lines.USERS_API), dict):
        return request_line(entry[log_lines.USERS_API])
    if isinstance(entry, dict) and log_lines.USERS_API_ERROR in entry:
        return f"[red]503[/] the users table did not answer: {escape(str(entry[log_lines.USERS_API_ERROR]))}"
    return escape(message)


def request_line(request: dict) -> str:
    """users_api's line for one request: method, route, status (red when 5xx), time."""
    status = request.get(log_lines.STATUS)
    shown = f"[red]{status}[/]" if isinstance(status, int) and status >= 500 else escape(str(status))
    route = request.get(log_lines.ROUTE) or "(not a users route)"
    return f"{escape(str(request.get(log_lines.METHOD)))} {escape(route)} -> {shown} ({request.get(log_lines.MS)} ms)"


EMPTY_BATCH_SUMMARY = re.compile(r'^\{"[A-Za-z0-9_-]+": \{"' + re.escape(log_lines.RECORDS) + '": 0,')


# users_api's line for an event that is no HTTP request: doctor, status and logs invoking it to
# see whether it starts (the method is empty).
START_CHECK_REQUEST = re.compile(r'^\{"' + re.escape(log_lines.USERS_API) + r'": \{"' + re.escape(log_lines.METHOD) + '": "",')


def quiet(message: str) -> bool:
    """Lines that say nothing happened: the platform's START/END/REPORT, a consumer's summary
    of an empty batch (replicate's, a template consumer's), and users_api's answer to a non-HTTP
    event: doctor, status and logs invoke the functions so, to see whether they start."""
    return bool(NOISE.match(message) or EMPTY_BATCH_SUMMARY.match(message) or START_CHECK_REQUEST.match(message))


class StartWatch:
    """Says once when a function cannot start, and again when the error changes or ends.
    A function is asked (invoked with an empty batch) at the start, and after that only when
    the failed batches its mappings report change (a new failure, or the failures cleared)."""

    def __init__(self, live: Deployed, functions: list):
        self.lam, self.live, self.functions = live.client("lambda"), live, functions
        self.said: dict = {}
        self.failures: dict = {}  # function -> the failed mapping results last seen
        self.checked = 0.0

    def failures_changed(self, name: str) -> bool:
        failed = {(m["UUID"], str(m.get("LastModified"))) for m in mappings_of(self.lam, name)
                  if m.get("LastProcessingResult") == "FAILED"}
        changed = failed != self.failures.get(name, set())
        self.failures[name] = failed
        return changed

    def check(self, everything: bool = False) -> None:
        if not everything and time.monotonic() - self.checked < 5:
            return
        self.checked = time.monotonic()
        for function in self.functions:
            name = self.live.names.function(function)
            if not self.failures_changed(name) and not everything:
                continue
            log_file = self.live.settings.ministack_log
            error = start_error(self.lam, name, log_file=log_file if log_file.exists() else None)
            if str(error) != self.said.get(function, "None"):
                stamp = time.strftime("%H:%M:%S")
                text = (f"[bold red]cannot start[/]: {escape(str(error))} - fix handlers/{function}.py, then: make bootstrap"
                        if error else "[green]starts again[/]")
                console.print(f"[dim]{stamp}[/] [{COLOURS[function]}]{function:<{WIDTH}}[/] {text}", highlight=False,
                              soft_wrap=True)
                self.said[function] = str(error)


class LogTail:
    """The new events of each function's log group. Each poll asks from a little before the
    newest event seen, since an event can reach the log after a later one; what is seen is
    remembered per function, for that window."""
    OVERLAP_MS = 5000

    def __init__(self, live: Deployed, functions: list, start: int):
        self.live, self.functions, self.start = live, functions, start
        self.logs = live.client("logs")
        self.seen: dict = {f: {} for f in functions}  # function -> {event id: timestamp}
        self.cursors = {f: start for f in functions}

    def poll(self) -> list:
        """(timestamp, function, message) of each event not seen before."""
        fresh = []
        for function in self.functions:
            for event in self.events(function):
                ident = event.get("eventId") or (event["timestamp"], event["message"])
                if ident not in self.seen[function]:
                    self.seen[function][ident] = event["timestamp"]
                    self.cursors[function] = max(self.cursors[function], event["timestamp"])
                    fresh.append((event["timestamp"], function, event["message"]))
        return fresh

    def events(self, function: str) -> list:
        group = Names.log_group(self.live.names.function(function))
        try:
            return log_events(self.logs, group, max(self.start, self.cursors[function] - self.OVERLAP_MS))
        except EndpointConnectionError:
            require_alive(self.live.settings)  # following for hours: say within seconds that it went away
            raise

    def forget_old(self) -> None:
        """Forget what no query can return again."""
        for function in self.functions:
            horizon = self.cursors[function] - self.OVERLAP_MS
            self.seen[function] = {i: t for i, t in self.seen[function].items() if t >= horizon}


def follow(live: Deployed, functions: list, start: int, keep_following: bool, show_noise: bool,
           since: str = "", raw: bool = False) -> None:
    """Print new events of every function's log group, merged in time order, until Ctrl-C."""
    tail = LogTail(live, functions, start)
    first = True
    starts = StartWatch(live, functions)
    starts.check(everything=True)
    while True:
        fresh = tail.poll()
        if first and not fresh:
            console.print(f"[dim]nothing logged in the last {since or 'while'}"
                          + (" - waiting for new events" if keep_following else "")
                          + "; older ones: ARGS='--since 1h'[/]")
        first = False
        for timestamp, function, message in sorted(fresh, key=lambda e: e[0]):
            if quiet(message) and not show_noise:
                continue
            stamp = time.strftime("%H:%M:%S", time.localtime(timestamp / 1000))
            text = escape(message.rstrip()) if raw else render(function, message)
            console.print(f"[dim]{stamp}[/] [{COLOURS[function]}]{function:<{WIDTH}}[/] {text}", highlight=False, soft_wrap=True)
        tail.forget_old()
        if not keep_following:
            return
        starts.check()
        time.sleep(0.5)


HELP = "follow the functions' log output"


def configure(parser) -> None:
    parser.add_argument("--since", default="2m", help="how far back to start, e.g. 30s, 10m, 1h (default 2m)")
    parser.add_argument("--function", action="append", choices=sorted(COLOURS), help="only these functions")
    parser.add_argument("--no-follow", action="store_true", help="print what is there and exit")
    parser.add_argument("--all", action="store_true", help="also START/END/REPORT lines")
    parser.add_argument("--raw", action="store_true", help="each line exactly as the function logged it")


def run(args) -> int:
    start = since_ms(args.since)
    live = Deployed.connect()
    functions = args.function or list(COLOURS)
    groups = ", ".join(Names.log_group(live.names.function(f)) for f in functions)
    console.print(f"[dim]{'showing' if args.no_follow else 'following'} {groups} from {args.since} ago"
                  f"{'' if args.no_follow else ' (Ctrl-C to stop)'}[/]")
    follow(live, functions, start, not args.no_follow, args.all, args.since, raw=args.raw)
    return 0
