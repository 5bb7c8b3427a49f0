"""What the pipeline page keeps in memory, each store bounded: the stream window (the newest
records, with what the tail shows of each), and per function what its log said lately.
Pure: fed records and log events, asked for figures; no AWS call here (tests/unit)."""
from __future__ import annotations

import json
import re
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from ddblab.diagnose.function_errors import ErrorLines
from ddblab.inspect import stream as stream_data

log_lines = stream_data.log_lines  # the keys of audit's line, which the page reads in the functions' logs

WINDOW = 5000  # stream records kept: the tail, the journeys and the key histories
MINUTE = 60.0
RATE_SECONDS = 10  # records/s is counted over this many seconds
LOOK_BACK = 900  # on start, a function's log is read from this far back (as doctor reads errors): where it got to
PLATFORM = re.compile(r"^(START|END|REPORT|INIT_START) RequestId: (\S+)")
SEQUENCE_IN_LINE = json.dumps(log_lines.SEQUENCE)  # as it appears in a JSON line


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
    errors: deque = field(default_factory=lambda: deque(maxlen=10_000))  # (timestamp, clause) by doctor's rule
    by_sequence: Bounded = field(default_factory=lambda: Bounded(WINDOW))  # sequence -> line
    invocations: deque = field(default_factory=lambda: deque(maxlen=200))  # {"end", "lines": its last 5}
    newest_sequence: str | None = None
    last_report: float | None = None
    cursor_ms: int = field(default_factory=lambda: int((time.time() - LOOK_BACK) * 1000))
    seen: dict = field(default_factory=dict)  # events already taken (an id or a hash) -> timestamp (ms)
    lock: threading.Lock = field(default_factory=threading.Lock)  # the figures thread takes, a journey reads
    open: dict = field(default_factory=dict)  # log stream -> lines of the invocation under way
    readers: dict = field(default_factory=dict)  # log stream -> its ErrorLines (a traceback spans events)

    def take(self, event: dict) -> None:
        with self.lock:
            self._take(event)

    def _take(self, event: dict) -> None:
        # MiniStack gives no eventId: its events are told apart as make logs does (by a hash:
        # the messages themselves would be most of the memory)
        ident = event.get("eventId") or hash((event.get("logStreamName"), event["timestamp"], event["message"]))
        if ident in self.seen:
            return
        self.seen[ident] = event["timestamp"]
        at, message = event["timestamp"] / 1000, event["message"].rstrip()
        self.cursor_ms = max(self.cursor_ms, event["timestamp"])
        stream = event.get("logStreamName", "")
        platform = PLATFORM.match(message)
        lines = self.open.setdefault(stream, [])
        reader = self.readers.setdefault(stream, ErrorLines())
        for text in message.splitlines():  # the platform's lines too: END closes a traceback
            clause = reader.clause(text)
            if clause is not None:
                self.errors.append((at, clause))
        if platform and platform[1] == "START":
            self.starts.append(at)
            self.open[stream] = []
        elif platform and platform[1] == "REPORT":
            self.invocations.append({"end": at, "lines": lines[-5:]})
            self.last_report = at if self.last_report is None else max(self.last_report, at)
            self.open.pop(stream, None)
            self.readers.pop(stream, None)
        elif not platform:
            lines.append(message[:2000])
            del lines[:-5]
            self.note_record(message)

    def note_record(self, message: str) -> None:
        """Keep a line about one record (a JSON line with a `sequence`) by its sequence."""
        if SEQUENCE_IN_LINE not in message:  # most lines are about no one record: not parsed
            return
        try:
            entry = json.loads(message)
        except ValueError:
            return
        sequence = entry.get(log_lines.SEQUENCE) if isinstance(entry, dict) else None
        if sequence:
            self.by_sequence.put(str(sequence), message[:2000])
            if sequence_key(sequence) > sequence_key(self.newest_sequence):
                self.newest_sequence = str(sequence)

    def about(self, sequence: str, created: float | None) -> dict:
        """What the log says about one record: its own line when the function logs one per
        record (by sequence), else the lines of the first invocation that ended once the
        record was written (a function that logs per batch; approximate)."""
        with self.lock:
            line = self.by_sequence.get(sequence)
            if line is not None:
                return {"exact": True, "lines": [line]}
            taken = next((i for i in self.invocations if i["end"] >= (created or 0)), None)
            return {"exact": False, "lines": list(taken["lines"]) if taken else []}

    def last_minute(self, now: float) -> dict:
        while self.starts and self.starts[0] < now - MINUTE:
            self.starts.popleft()
        while self.errors and self.errors[0][0] < now - MINUTE:
            self.errors.popleft()
        while self.asked and self.asked[0] < now - MINUTE:
            self.asked.popleft()
        return {"invocations": len(self.starts), "start_checks": len(self.asked), "errors": len(self.errors),
                "last_error": self.errors[-1][1] if self.errors else ""}



class Window:
    """The newest `size` records of the stream, oldest first, each as the tail shows it and
    the record itself as one JSON line (a tenth of the memory of the parsed dict; parsed again
    when its journey is asked). `n` numbers every record read, so a page asks for what is newer.
    One thread adds while others read: every method holds the window's lock."""

    def __init__(self, size: int = WINDOW):
        self.records: deque = deque(maxlen=size)
        self.by_sequence = Bounded(size)  # sequence -> entry: forgets as the deque drops
        self.counter = 0
        self.lock = threading.RLock()

    def __len__(self) -> int:
        return len(self.records)

    def add(self, record: dict, read: float | None = None) -> dict:
        sequence = str(record.get("dynamodb", {}).get("SequenceNumber"))
        described = stream_data.entry(record)
        entry = {"sequence": sequence, "event": record.get("eventName"), "keys": described.get(log_lines.KEYS) or {},
                 "created": described.get(stream_data.CREATED),
                 "changed": sorted(described.get(log_lines.CHANGES) or {}),
                 "read": time.time() if read is None else read, "raw": stream_data.as_json(record)}
        with self.lock:
            self.counter += 1
            entry["n"] = self.counter
            self.records.append(entry)
            self.by_sequence.put(sequence, entry)
        return entry

    def get(self, sequence: str) -> dict | None:
        with self.lock:
            return self.by_sequence.get(sequence)

    def tail_after(self, newer) -> list:
        """The newest entries for which newer(entry) holds, newest first."""
        found = []
        with self.lock:
            for entry in reversed(self.records):
                if not newer(entry):
                    break
                found.append(entry)
        return found

    def records_after(self, n: int, limit: int = 200) -> tuple:
        """(entries newer than n, oldest first, at most `limit` of the newest; how many were
        left out): a browser that fell behind a bulk load gets the newest, not all."""
        newer = self.tail_after(lambda e: e["n"] > n)
        newer.reverse()
        return newer[-limit:], max(0, len(newer) - limit)

    def history(self, key: str) -> list:
        """Every record of the window about this key (any key attribute's value), oldest first."""
        with self.lock:
            return [e for e in self.records if key in {str(v) for v in e["keys"].values()}]

    def stream_figures(self, now: float) -> dict:
        with self.lock:
            recent = len(self.tail_after(lambda e: e["created"] is not None and e["created"] >= now - RATE_SECONDS))
            newest = self.records[-1] if self.records else None
            return {"per_second": round(recent / RATE_SECONDS, 1), "window": len(self.records), "read": self.counter,
                    "newest": newest["created"] if newest else None}

    def behind(self, log: FunctionLog, now: float) -> dict:
        """How far a consumer is behind the window: {pending, exact, lag}. Exact by the newest
        `sequence` its log names (a consumer that logs each record, as audit does); otherwise
        approximate, by its last finished invocation (records written before it ended are
        taken as processed). lag: 0 when nothing is pending, else now minus the write time of
        the newest record it has processed (None when not known)."""
        with self.lock:
            return self._behind(log, now)

    def _behind(self, log: FunctionLog, now: float) -> dict:
        if log.newest_sequence is not None:
            mark = sequence_key(log.newest_sequence)
            pending = len(self.tail_after(lambda e: sequence_key(e["sequence"]) > mark))
            processed = self.by_sequence.get(log.newest_sequence)
            exact = True
        elif log.last_report is None:  # no invocation in its log since the page started reading
            return {"pending": None, "exact": False, "lag": None}
        else:
            pending = len(self.tail_after(lambda e: (e["created"] or 0) > log.last_report))
            processed = next((e for e in reversed(self.records) if (e["created"] or 0) <= log.last_report), None)
            exact = False
        lag: float | None = 0.0
        if pending:
            lag = round(now - processed["created"], 1) if processed and processed["created"] else None
        return {"pending": pending, "exact": exact, "lag": lag}
