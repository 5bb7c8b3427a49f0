"""One poller for every browser: three threads keep the stack's figures in memory, and each
page's server-sent events only read them, so ten open tabs cost the emulator what one does.

- the stream: read with `make watch`'s reader (ddblab.inspect.stream) from the oldest record the
  stream keeps, into a window of the newest WINDOW records (what the tail, a record's journey
  and a key's history are served from);
- the figures, every second: items per table (as status and doctor read them), each mapping
  (state, last result, how far behind), each function's log read incrementally (invocations
  and errors over the last minute, by doctor's rule for an error line), the queue depths;
- doctor's checks (ddblab.diagnose): the cheap ones every few seconds, the ones that invoke a
  function or read 15 minutes of logs less often.

Every store is bounded (ddblab.flow.window: deques with a maximum length, windows by time),
so a bulk load moves the window along instead of growing the process.
"""
from __future__ import annotations

import threading
import time

from botocore.exceptions import ClientError

from ddblab.core.aws import log_events, mappings_of, processing_result
from ddblab.core.kinds import QueueKind
from ddblab.core.settings import UserError
from ddblab.diagnose import checks as doctor
from ddblab.diagnose.diagnosis import Diagnosis
from ddblab.emulator.health import emulator_name
from ddblab.flow.chain import chain, health
from ddblab.flow.window import WINDOW, FunctionLog, Window
from ddblab.inspect import stream as stream_data
from ddblab.stack.deployed import Deployed

LOG_OVERLAP_MS = 5000  # an event can reach a log after a later one: each read goes back this far
FAST_CHECKS = (doctor.tables, doctor.stream, doctor.mappings)
SLOW_CHECKS = (doctor.backend, doctor.functions, doctor.roles, doctor.queues, doctor.caveats)


class SharedClients(Deployed):
    """A Deployed whose clients are made once and shared by the threads (a botocore client is
    thread-safe; making clients from several threads at once through boto3's default
    session is not)."""

    def __init__(self, settings) -> None:
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
        self.window = Window(window)
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

    def stop(self, grace: float = 2.0) -> None:
        """Ask the threads to stop and give them `grace` seconds in all, not each: a thread
        inside a slow emulator call is a daemon, and ends with the process."""
        self.stopping.set()
        deadline = time.monotonic() + grace
        for thread in self.threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def guarded(self, name: str, loop) -> None:
        """Run a loop for as long as the page is up: an error (the emulator gone, the stack
        removed) is shown on the page and the loop starts again a little later."""
        while not self.stopping.is_set():
            try:
                loop()
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
            self.errors.pop("stream", None)  # a pass that works clears the error it showed
            for record in batch:
                self.window.add(record)
            if time.monotonic() - last_discovery > 5:  # new shards, and a stream replaced (table re-created)
                reader.discover()
                last_discovery = time.monotonic()
                if self.live.dynamodb.describe_table(TableName=users.name)["Table"].get("LatestStreamArn") != arn:
                    return
            if not batch:
                self.stopping.wait(0.2)

    def follow_figures(self) -> None:
        while not self.stopping.is_set():
            started = time.monotonic()
            self.snapshot_data = self.figures()
            self.errors.pop("figures", None)
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
            self.errors.pop("doctor", None)
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
                nodes[f"stream:{table.name}"] = self.window.stream_figures(now)
        for mapping in self.stack.mappings:
            nodes[f"mapping:{mapping.function}"] = self.mapping_figures(mapping, now)
        kinds = {getattr(self.stack.names, kind.value): kind for kind in QueueKind}
        for queue in self.stack.queues:
            nodes[f"queue:{queue}"] = {"depth": self.depth(kinds[queue]) if queue in kinds else None}
        nodes["api"] = {"url": self.api_url()}
        return {"version": self.snapshot_data["version"] + 1, "taken": now, "nodes": nodes,
                "health": health(self.checks, self.stack), "server": self.server_figures()}

    def depth(self, kind: QueueKind) -> int | None:
        """Messages waiting, as status and doctor count them (None: missing, by doctor's rule for
        a queue it cannot read; its check says so in red)."""
        try:
            return self.live.queue_depth(kind)
        except ClientError:
            return None

    def api_url(self) -> str | None:
        """The API's invoke URL (asked until the API is there, then kept)."""
        try:
            return self.live.api_url
        except UserError:
            return None

    def read_log(self, log: FunctionLog) -> None:
        start = log.cursor_ms - LOG_OVERLAP_MS
        for event in sorted(log_events(self.logs_client, log.group, start), key=lambda e: e["timestamp"]):
            log.take(event)
        # only events as old as the next read's start can come again
        log.seen = {ident: at for ident, at in log.seen.items() if at >= log.cursor_ms - LOG_OVERLAP_MS}

    def mapping_figures(self, mapping, now: float) -> dict:
        found = mappings_of(self.lam, mapping.function)
        current = found[-1] if found else {}
        return {"state": current.get("State", "missing"), "last_result": processing_result(current),
                "batch_size": current.get("BatchSize"), **self.window.behind(self.logs[mapping.function], now)}

    def server_figures(self) -> dict:
        return {"rss_mb": rss_mb(), "window": len(self.window), "clients": self.clients}

    # --- what the page asks for ------------------------------------------------------------

    def snapshot(self) -> dict:
        return {**self.snapshot_data, "errors": [f"{k}: {v}" for k, v in self.errors.copy().items()]}

    def records_after(self, n: int, limit: int = 200) -> tuple:
        return self.window.records_after(n, limit)

    def history(self, key: str) -> list:
        return self.window.history(key)


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
