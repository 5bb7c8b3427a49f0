"""How the pipeline page keeps up under a bulk load, measured end to end: `ddblab flow` is
started as a user starts it, on a stack of its own (prefixed flowm<random>-, removed
afterwards: every record of the load is new), one browser's worth of server-sent events is read, `ddblab seed
--count N` writes the load, and once the stream is quiet the figures are printed:

- tail lag: from a record's write (its ApproximateCreationDateTime, whole seconds on MiniStack,
  so up to 1 s too high) to its arrival in the page's event stream;
- figures age: how old the figures were when they arrived (now minus the time they were taken),
  and the longest gap between two figure updates;
- records: how many the stream held for the load, how many reached the page or were left out
  on purpose (a page behind by more than a batch gets the newest);
- the page server's resident memory (VmRSS) before and after, and the window it holds.

    python -m ddblab.flow.measure [--count 5000] [--port 8009]
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

from ddblab import stack
from ddblab.cli import Parser
from ddblab.core.settings import ROOT, Settings
from ddblab.core.waiting import wait_for
from ddblab.emulator.health import free_port, port_open


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmRSS:"))


class Listener(threading.Thread):
    """One page's event stream, read and timed."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url = url
        self.last_figures: dict = {}
        self.reset(time.time())

    def reset(self, started: float) -> None:
        self.started = self.last_record = started
        self.tail_lags: list[float] = []
        self.page_lags: list[float] = []
        self.figure_ages: list[float] = []
        self.figure_times: list[float] = []
        self.records = self.skipped = 0
        self.most_lag: dict = {}
        self.errors: set = set()  # what the page's poller reported (none expected)

    def run(self) -> None:
        with urllib.request.urlopen(self.url, timeout=120) as answer:
            name = ""
            for raw in answer:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    self.take(name, json.loads(line[6:]), time.time())

    def take(self, name: str, data: dict, now: float) -> None:
        if name == "records":
            self.records += len(data["records"])
            self.skipped += data["skipped"]
            self.last_record = now
            fresh = [r for r in data["records"] if (r.get("created") or 0) >= int(self.started)]
            self.tail_lags += [now - r["created"] for r in fresh]
            self.page_lags += [now - r["read"] for r in fresh]
        elif name == "figures" and data["taken"] >= self.started:
            self.figure_ages.append(now - data["taken"])
            self.figure_times.append(now)
            self.last_figures = data
            self.errors.update(data.get("errors") or [])
            for node, figures in data["nodes"].items():
                if node.startswith("mapping:") and figures.get("lag") is not None:
                    self.most_lag[node] = max(self.most_lag.get(node, 0), figures["lag"])


def quantiles(values: list) -> str:
    if not values:
        return "none"
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731 - a one-line helper
    return f"median {pick(0.5):.2f} s, p95 {pick(0.95):.2f} s, max {ordered[-1]:.2f} s"


def load(listener: Listener, server, env: dict, count: int) -> None:
    """One round: seed up to `count` users (the ones before are there already and unchanged,
    so only the new ones make records), wait for the stream to be quiet, print the figures."""
    started = time.time()
    listener.reset(started)
    read_before = listener.last_figures["nodes"]
    seed = subprocess.run([sys.executable, "-m", "ddblab", "seed", "--count", str(count)], cwd=ROOT,
                          capture_output=True, text=True, env=env)
    if seed.returncode != 0:
        raise RuntimeError(f"ddblab seed failed: {seed.stdout[-1000:]} {seed.stderr[-1000:]}")
    seeded = time.time()
    wait_for(lambda: time.time() - listener.last_record > 5, "the stream to be quiet for 5 s", timeout=300)
    gaps = [b - a for a, b in zip(listener.figure_times, listener.figure_times[1:], strict=False)]
    nodes = listener.last_figures["nodes"]
    stream_key = next(k for k in nodes if k.startswith("stream:"))
    read = nodes[stream_key]["read"] - read_before[stream_key]["read"]
    print(f"load: ddblab seed --count {count} took {seeded - started:.1f} s; {read} new stream records read by the page")
    print(f"  tail lag (write -> page event): {quantiles(listener.tail_lags)} over {len(listener.tail_lags)} records "
          f"sent, {listener.skipped} left out on purpose (a page behind by more than a batch gets the newest)")
    print(f"  page lag (read by the page's poller -> page event): {quantiles(listener.page_lags)}")
    print(f"  figures age on arrival: {quantiles(listener.figure_ages)}; longest gap between updates "
          f"{max(gaps) if gaps else 0:.2f} s")
    print(f"  mapping lag shown during the load, the most: {listener.most_lag} ; at the end: "
          f"{ {k: v.get('lag') for k, v in nodes.items() if k.startswith('mapping:')} }")
    print(f"  errors the page showed: {sorted(listener.errors) or 'none'}")
    print(f"  page server memory (VmRSS) after: {rss_mb(server.pid):.1f} MB; window {nodes[stream_key]['window']} records")


def main() -> int:
    parser = Parser(prog="python -m ddblab.flow.measure", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=5000, help="new users per round (default 5000)")
    parser.add_argument("--rounds", type=int, default=1, help="loads one after another (memory must stay flat)")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    port = args.port or free_port()
    settings = Settings.from_env().sub(f"flowm{uuid.uuid4().hex[:5]}-")
    stack.converge(settings)
    env = {**os.environ, "STACK_PREFIX": settings.prefix, "AWS_ENDPOINT_URL": settings.endpoint_url, "NO_COLOR": "1"}
    server = subprocess.Popen([sys.executable, "-m", "ddblab", "flow", "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: port_open(port), f"ddblab flow on {port}", timeout=60)
        listener = Listener(f"http://127.0.0.1:{port}/events")
        listener.start()
        wait_for(lambda: listener.last_figures.get("health"), "the first doctor checks on the page", timeout=60)
        print(f"page server memory (VmRSS) before: {rss_mb(server.pid):.1f} MB")
        for round_ in range(1, args.rounds + 1):
            load(listener, server, env, args.count * round_)
        return 0
    finally:
        server.terminate()
        server.wait(timeout=15)
        stack.remove(settings)


if __name__ == "__main__":
    sys.exit(main())
