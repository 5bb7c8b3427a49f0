"""The users API under load (make bench): N clients at once, each creating, reading and moving
users of its own through the API for a fixed time; then every user a 201 created is looked for
in users_by_location, at the place its last accepted write gave it.

Each client moves only its own users, one request at a time, so where a user must end is known
without reading the API back: a write that was answered 201 or 200 and is missing from the view
is a lost write.
"""
from __future__ import annotations

import json
import random
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import quote

from ddblab.core.waiting import WaitTimeout, wait_for
from ddblab.stack.deployed import Deployed
from ddblab.stack.describe import projection

CLIENTS = (1, 8, 32)
PLACES = (("Ohio", "Dayton"), ("Ohio", "Lima"), ("Texas", "Austin"), ("New York", "Brooklyn"), ("Maine", "Portland"))


def percentile(values: list, p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


@dataclass
class Load:
    clients: int
    seconds: float
    latencies_s: list = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)  # "201", "200", "503", "transport" ...
    operations: Counter = field(default_factory=Counter)
    final: dict = field(default_factory=dict)  # email -> (state, city) its last accepted write gave it
    lost: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, operation: str, status: str, took: float) -> None:
        with self.lock:
            self.operations[operation] += 1
            self.statuses[status] += 1
            self.latencies_s.append(took)

    def figures(self) -> dict:
        requests = len(self.latencies_s)
        return {
            "clients": self.clients, "seconds": round(self.seconds, 1), "requests": requests,
            "requests_per_s": round(requests / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(percentile(self.latencies_s, 50) * 1000, 1) if requests else None,
            "p99_ms": round(percentile(self.latencies_s, 99) * 1000, 1) if requests else None,
            "operations": dict(self.operations), "statuses": dict(sorted(self.statuses.items())),
            "errors_5xx": sum(n for status, n in self.statuses.items() if status.startswith("5")),
            "transport_errors": self.statuses.get("transport", 0),
            "users_created": len(self.final), "lost_writes": len(self.lost),
        }


def send(method: str, url: str, payload: dict | None = None) -> str:
    """The answer's status as text ("201", "503"), or "transport" when none came."""
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            answer.read()
            return str(answer.status)
    except urllib.error.HTTPError as error:
        return str(error.code)
    except (urllib.error.URLError, OSError):
        return "transport"


def client(users_url: str, deadline: float, load: Load, rng: random.Random) -> None:
    """Until the deadline: create a user (about 4 times in 10, and always first), or read or move
    one of this client's own."""
    mine: list = []
    while time.monotonic() < deadline:
        roll = rng.random()
        started = time.perf_counter()
        if not mine or roll < 0.4:
            email = f"load-{uuid.uuid4().hex[:12]}@example.com"
            state, city = rng.choice(PLACES)
            status = send("POST", users_url, {"email": email, "state": state, "city": city, "zipcode": "45401"})
            operation = "create"
            if status == "201":
                mine.append(email)
                with load.lock:
                    load.final[email] = (state, city)
        elif roll < 0.7:
            status, operation = send("GET", f"{users_url}/{quote(rng.choice(mine))}"), "read"
        else:
            email = rng.choice(mine)
            state, city = rng.choice(PLACES)
            status = send("PATCH", f"{users_url}/{quote(email)}", {"state": state, "city": city})
            operation = "move"
            if status == "200":
                with load.lock:
                    load.final[email] = (state, city)
        load.record(operation, status, time.perf_counter() - started)


def run(live: Deployed, clients: int, seconds: float, seed: int = 7) -> Load:
    """`clients` threads for `seconds`; then each created user awaited in users_by_location."""
    load = Load(clients, seconds)
    deadline = time.monotonic() + seconds
    threads = [threading.Thread(target=client, args=(live.api_url, deadline, load, random.Random(seed * 1000 + i)))
               for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    load.seconds = time.monotonic() - started  # the last requests end after the deadline
    load.lost = missing_from_view(live, load.final)
    return load


def missing_from_view(live: Deployed, final: dict, timeout: float = 60) -> list:
    """The users whose row is not (yet, after `timeout`) at the place their last write gave them."""
    keys = {email: projection.target_key({"email": {"S": email}, "state": {"S": state}, "city": {"S": city}})
            for email, (state, city) in final.items()}
    waiting = dict(keys)

    def arrived() -> bool:
        for email, key in list(waiting.items()):
            if "Item" in live.dynamodb.get_item(TableName=live.names.target, Key=key):
                del waiting[email]
        return not waiting
    try:
        wait_for(arrived, f"{len(final)} users created through the API in {live.names.target}", timeout=timeout,
                 interval=0.2)
    except WaitTimeout:
        pass
    return sorted(waiting)
