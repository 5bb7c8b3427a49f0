"""One poller for every browser: three threads keep the stack's figures in memory, and each
page's server-sent events only read them, so ten open tabs cost the emulator what one does.

- the stream: read with `make watch`'s reader (ddblab.data.stream) from the oldest record the
  stream keeps, into a window of the newest WINDOW records (what the tail, a record's journey
  and a key's history are served from);
- the figures, every second: items per table (as status and doctor read them), each mapping
  (state, last result, how far behind), each function's log read incrementally (invocations
  and errors over the last minute, by doctor's rule for an error line), the queue depths;
- doctor's checks (ddblab.diagnose): the cheap ones every few seconds, the ones that invoke a
  function or read 15 minutes of logs less often.

Every store is bounded (deques with a maximum length, windows by time), so a bulk load moves
the window along instead of growing the process.
"""
from __future__ import annotations

import json
import re
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from ddblab.core.aws import log_events, mappings_of, queue_url
from ddblab.diagnose import checks as doctor
from ddblab.diagnose.diagnosis import Diagnosis
from ddblab.diagnose.function_errors import ERROR_LINE
from ddblab.emulator.health import emulator_name
from ddblab.flow.chain import chain, health
from ddblab.inspect import stream as stream_data
from ddblab.stack.deployed import Deployed

WINDOW = 5000  # stream records kept: the tail, the journeys and the key histories
MINUTE = 60.0
LOOK_BACK = 900  # on start, a function's log is read from this far back (as doctor reads errors): where it got to
PLATFORM = re.compile(r"^(START|END|REPORT|INIT_START) RequestId: (\S+)")
LOG_OVERLAP_MS = 5000  # an event can reach a log after a later one: each read goes back this far
FAST_CHECKS = (doctor.tables, doctor.stream, doctor.mappings)
SLOW_CHECKS = (doctor.backend, doctor.functions, doctor.roles, doctor.queues, doctor.caveats)


@dataclass
class Bounded:
    """A dict that forgets its oldest keys past `size`."""
    size: int
    items: OrderedDict = field(default_factory=OrderedDict)

    def put(self, key, value) -> None:
        self.items[key] = value
        self.items.move_to_end(key)
        while len(self.items) > self.size:
            self.items.popitem(last=False)

    def get(self, key, default=None):
        return self.items.get(key, default)

    def __len__(self) -> int:
        return len(self.items)


def sequence_key(sequence) -> tuple:
    """Stream sequence numbers are decimal strings: compared by length, then text."""
    text = str(sequence or "")
    return (len(text), text)


@dataclass
class FunctionLog:
    """What one function's log said lately: its invocations and error lines of the last
    minute, the lines about each record (a JSON line with a `sequence`), and each recent
    invocation's own lines (for consumers that log per batch, not per record)."""
    group: str
    starts: deque = field(default_factory=lambda: deque(maxlen=100_000))  # timestamps (s)
    asked: deque = field(default_factory=lambda: deque(maxlen=1_000))  # when the page's doctor invoked it (s)
    errors: deque = field(default_factory=lambda: deque(maxlen=10_000))  # (timestamp, line)
    by_sequence: Bounded = field(default_factory=lambda: Bounded(WINDOW))  # sequence -> line
    invocations: deque = field(default_factory=lambda: deque(maxlen=200))  # {"end", "lines": its last 5}
    newest_sequence: str | None = None
    last_report: float | None = None
    cursor_ms: int = field(default_factory=lambda: int((time.time() - LOOK_BACK) * 1000))
    seen: dict = field(default_factory=dict)  # events already taken (an id or a hash) -> timestamp (ms)
    open: dict = field(default_factory=dict)  # log stream -> lines of the invocation under way

    def take(self, event: dict) -> None:
        # MiniStack gives no eventId: its events are told apart as make logs does (by a hash:
        # the messages themselves would be most of the memory)
        ident = event.get("eventId") or hash((event.get("logStreamName"), event["timestamp"], event["message"]))
        if ident in self.seen:
            return
        self.seen[ident] = event["timestamp"]
        at, message = event["timestamp"] / 1000, event["message"].rstrip()
        self.cursor_ms = max(self.cursor_ms, event["timestamp"])
        platform = PLATFORM.match(message)
        lines = self.open.setdefault(event.get("logStreamName", ""), [])
        if platform and platform[1] == "START":
            self.starts.append(at)
            self.open[event.get("logStreamName", "")] = []
        elif platform and platform[1] == "REPORT":
            self.invocations.append({"end": at, "lines": lines[-5:]})
            self.last_report = at if self.last_report is None else max(self.last_report, at)
            self.open.pop(event.get("logStreamName", ""), None)
        elif not platform:
            lines.append(message[:2000])
            del lines[:-5]
            self.line(at, message)

    def line(self, at: float, message: str) -> None:
        if ERROR_LINE.search(message):
            self.errors.append((at, message[:300]))
        if '"sequence"' not in message:
            return
        try:
            entry = json.loads(message)
        except ValueError:
            return
        sequence = entry.get("sequence") if isinstance(entry, dict) else None
        if sequence:
            self.by_sequence.put(str(sequence), message[:2000])
            if sequence_key(sequence) > sequence_key(self.newest_sequence):
                self.newest_sequence = str(sequence)

    def last_minute(self, now: float) -> dict:
        while self.starts and self.starts[0] < now - MINUTE:
            self.starts.popleft()
        while self.errors and self.errors[0][0] < now - MINUTE:
            self.errors.popleft()
        while self.asked and self.asked[0] < now - MINUTE:
            self.asked.popleft()
        return {"invocations": len(self.starts), "start_checks": len(self.asked), "errors": len(self.errors),
                "last_error": self.errors[-1][1] if self.errors else ""}


class SharedClients(Deployed):
    """A Deployed whose clients are made once and shared by the threads (a botocore client is
    thread-safe; making clients from several threads at once through boto3's default
    session is not)."""

    def __init__(self, settings):
        super().__init__(settings)
        self._clients: dict = {}
        self._lock = threading.Lock()

    def client(self, service: str):
        with self._lock:
            if service not in self._clients:
                self._clients[service] = super().client(service)
            return self._clients[service]


class Monitor:
    """The shared poller of one stack: start() once, read snapshot() and records_after()
    from any number of clients."""

    def __init__(self, settings, interval: float = 1.0, window: int = WINDOW, slow_every: float = 15.0):
        live = SharedClients(settings)
        self.live, self.interval, self.slow_every = live, interval, slow_every
        _ = live.dynamodb, live.sqs  # made here, before the threads share them
        self.stack = live.stack
        self.nodes = chain(self.stack)
        self.records: deque = deque(maxlen=window)  # entries, oldest first
        self.by_sequence = Bounded(window)  # sequence -> entry
        self.counter = 0  # records read so far: each entry's n
        self.logs = {f.name: FunctionLog(f.log_group) for f in self.stack.functions}
        self.snapshot_data: dict = {"version": 0, "taken": 0.0, "nodes": {}, "health": {}, "errors": []}
        self.checks: list = []
        self.errors: dict = {}  # thread -> its last error, shown on the page
        self.stopping = threading.Event()
        self.threads: list = []
        self.clients = 0
        # botocore clients are thread-safe: made once, not on every tick
        self.lam, self.logs_client = live.client("lambda"), live.client("logs")

    # --- the threads --------------------------------------------------------------------

    def start(self) -> None:
        for name, loop in (("stream", self.follow_stream), ("figures", self.follow_figures),
                           ("doctor", self.follow_doctor)):
            thread = threading.Thread(target=self.guarded, args=(name, loop), name=f"flow-{name}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=5)

    def guarded(self, name: str, loop) -> None:
        """Run a loop for as long as the page is up: an error (the emulator gone, the stack
        removed) is shown on the page and the loop starts again a little later."""
        while not self.stopping.is_set():
            try:
                loop()
                self.errors.pop(name, None)
            except Exception as error:  # shown on the page; the page stays up while the emulator restarts
                self.errors[name] = f"{type(error).__name__}: {str(error)[:300]}"
                self.stopping.wait(2.0)

    def follow_stream(self) -> None:
        users = next(t for t in self.stack.tables if t.stream)
        table = self.live.dynamodb.describe_table(TableName=users.name)["Table"]
        arn = table.get("LatestStreamArn")
        if not arn:
            raise RuntimeError(f"table {users.name} has no stream - run: make bootstrap")
        reader = stream_data.StreamReader(self.live.client("dynamodbstreams"), arn, from_start=True)
        last_discovery = time.monotonic()
        while not self.stopping.is_set():
            batch = reader.poll()
            for record in batch:
                self.add(record)
            if time.monotonic() - last_discovery > 5:  # new shards, and a stream replaced (table re-created)
                reader.discover()
                last_discovery = time.monotonic()
                if self.live.dynamodb.describe_table(TableName=users.name)["Table"].get("LatestStreamArn") != arn:
                    return
            if not batch:
                self.stopping.wait(0.2)

    def add(self, record: dict) -> None:
        """Keep a record in the window: what the tail shows, and the record itself as one JSON
        line (a tenth of the memory of the parsed dict; parsed again when its journey is asked)."""
        change = record.get("dynamodb", {})
        sequence = str(change.get("SequenceNumber"))
        self.counter += 1
        described = stream_data.entry(record)
        entry = {"n": self.counter, "sequence": sequence, "event": record.get("eventName"),
                 "keys": described.get("keys") or {}, "created": described.get("created"),
                 "changed": sorted(described.get("changes") or {}), "read": time.time(),
                 "raw": stream_data.as_json(record)}
        self.records.append(entry)  # the deque drops its oldest; so does by_sequence, at the same size
        self.by_sequence.put(sequence, entry)

    def follow_figures(self) -> None:
        while not self.stopping.is_set():
            started = time.monotonic()
            self.snapshot_data = self.figures()
            self.stopping.wait(max(0.05, self.interval - (time.monotonic() - started)))

    def follow_doctor(self) -> None:
        last_slow = slow = None
        while not self.stopping.is_set():
            diagnosis = Diagnosis(self.live, backend=emulator_name(self.live.settings.endpoint_url))
            found = [c for step in FAST_CHECKS for c in step(diagnosis)]
            if last_slow is None or time.monotonic() - last_slow >= self.slow_every:
                slow = [c for step in SLOW_CHECKS for c in step(diagnosis)]
                last_slow = time.monotonic()
            for function in diagnosis._start_errors:  # doctor's start check invoked these (an empty batch)
                if function in self.logs:
                    self.logs[function].asked.append(time.time())
            self.checks = found + (slow or [])
            self.stopping.wait(self.interval * 3)

    # --- the figures -------------------------------------------------------------------------

    def figures(self) -> dict:
        now = time.time()
        nodes = {}
        for function, log in self.logs.items():
            self.read_log(log)
            nodes[f"function:{function}"] = log.last_minute(now)
        for table in self.stack.tables:
            answer = self.live.dynamodb.describe_table(TableName=table.name)["Table"]
            nodes[f"table:{table.name}"] = {"items": answer.get("ItemCount"), "status": answer.get("TableStatus")}
            if table.stream:
                nodes[f"stream:{table.name}"] = self.stream_figures(now)
        for mapping in self.stack.mappings:
            nodes[f"mapping:{mapping.function}"] = self.mapping_figures(mapping, now)
        sqs = self.live.sqs
        for queue in self.stack.queues:
            url = queue_url(sqs, queue)
            depth = None if url is None else int(sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"])
            nodes[f"queue:{queue}"] = {"depth": depth}
        return {"version": self.snapshot_data["version"] + 1, "taken": now, "nodes": nodes,
                "health": health(self.checks, self.stack), "server": self.server_figures()}

    def read_log(self, log: FunctionLog) -> None:
        start = log.cursor_ms - LOG_OVERLAP_MS
        for event in sorted(log_events(self.logs_client, log.group, start), key=lambda e: e["timestamp"]):
            log.take(event)
        # only events as old as the next read's start can come again
        log.seen = {ident: at for ident, at in log.seen.items() if at >= log.cursor_ms - LOG_OVERLAP_MS}

    def stream_figures(self, now: float) -> dict:
        recent = 0
        for entry in reversed(self.records):
            if entry["created"] is None or entry["created"] < now - 10:
                break
            recent += 1
        newest = self.records[-1] if self.records else None
        return {"per_second": round(recent / 10, 1), "window": len(self.records), "read": self.counter,
                "newest": newest["created"] if newest else None}

    def mapping_figures(self, mapping, now: float) -> dict:
        found = mappings_of(self.lam, mapping.function)
        current = found[-1] if found else {}
        figures = {"state": current.get("State", "missing"), "last_result": current.get("LastProcessingResult") or "?",
                   "batch_size": current.get("BatchSize")}
        figures.update(self.behind(self.logs[mapping.function]))
        processed_at = figures.pop("processed_at")
        if figures["pending"] == 0:
            figures["lag"] = 0.0  # caught up: nothing in the window it has not processed
        else:  # behind (or not known): now minus the newest record it has processed
            figures["lag"] = round(now - processed_at, 1) if processed_at else None
        return figures

    def behind(self, log: FunctionLog) -> dict:
        """How far the consumer is behind the stream window: exactly, by the newest `sequence`
        its log names (a consumer that logs each record, as audit does); otherwise
        approximately, by its last finished invocation (records written before it ended are
        taken as processed)."""
        if log.newest_sequence is not None:
            mark = sequence_key(log.newest_sequence)
            pending = [e for e in self.tail_after(lambda e: sequence_key(e["sequence"]) > mark)]
            processed = self.by_sequence.get(log.newest_sequence)
            return {"pending": len(pending), "exact": True, "processed_at": processed["created"] if processed else None}
        if log.last_report is None:  # no invocation in its log since the page started reading
            return {"pending": None, "exact": False, "processed_at": None}
        pending = self.tail_after(lambda e: (e["created"] or 0) > log.last_report)
        processed = next((e for e in reversed(self.records) if (e["created"] or 0) <= log.last_report), None)
        return {"pending": len(pending), "exact": False, "processed_at": processed["created"] if processed else None}

    def tail_after(self, newer) -> list:
        """The newest entries for which newer(entry) holds, walking back from the newest."""
        found = []
        for entry in reversed(self.records):
            if not newer(entry):
                break
            found.append(entry)
        return found

    def server_figures(self) -> dict:
        return {"rss_mb": rss_mb(), "window": len(self.records), "clients": self.clients}

    # --- what the page asks for ------------------------------------------------------------

    def snapshot(self) -> dict:
        return {**self.snapshot_data, "errors": [f"{k}: {v}" for k, v in self.errors.items()]}

    def records_after(self, n: int, limit: int = 200) -> tuple:
        """(entries newer than n, oldest first, at most `limit` of the newest; how many were
        left out): a browser that fell behind a bulk load gets the newest, not all."""
        newer = self.tail_after(lambda e: e["n"] > n)
        newer.reverse()
        return newer[-limit:], max(0, len(newer) - limit)

    def history(self, key: str) -> list:
        return [e for e in self.records if key in {str(v) for v in e["keys"].values()}]


def rss_mb() -> float | None:
    """This process's resident memory (Linux /proc; None elsewhere)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None
