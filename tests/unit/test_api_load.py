"""make bench's API load: where each user must end is what the accepted writes said, a refused
or failed write changes nothing, and a user missing from the view is a lost write."""
from __future__ import annotations

import random
import time
from itertools import cycle
from types import SimpleNamespace

from ddblab.drills import api_load


def test_client_final_place_follows_only_the_writes_the_api_accepted(monkeypatch):
    # GIVEN an API that accepts every create and read, and answers every second move with a 503
    answers = {"POST": cycle(["201"]), "GET": cycle(["200"]), "PATCH": cycle(["200", "503"])}
    sent = []

    def send(method, url, payload=None):
        sent.append((method, url, payload))
        return next(answers[method])
    monkeypatch.setattr(api_load, "send", send)
    load = api_load.Load(clients=1, seconds=0.2)
    # WHEN one client runs for 0.2 s
    api_load.client("http://api/users", time.monotonic() + 0.2, load, random.Random(3))
    # THEN every user it created has, as its final place, the place of its last accepted write
    expected = {}
    moves = cycle(["200", "503"])
    for method, url, payload in sent:
        if method == "POST":
            expected[payload["email"]] = (payload["state"], payload["city"])
        elif method == "PATCH" and next(moves) == "200":
            expected[url.rsplit("/", 1)[1].replace("%40", "@")] = (payload["state"], payload["city"])
    assert load.final == expected and expected
    # AND each request is counted once, by operation and by status, the 503s among them
    figures = load.figures()
    assert figures["requests"] == len(sent) == sum(figures["operations"].values())
    assert figures["errors_5xx"] == sum(1 for m, _, _ in sent if m == "PATCH") // 2
    assert figures["operations"]["create"] == sum(1 for m, _, _ in sent if m == "POST")


def test_missing_from_view_names_the_users_whose_row_never_arrived():
    # GIVEN a view holding ada at her last place and nothing for bob
    held = {("Ohio", "Dayton#ada@example.com")}

    def get_item(TableName, Key):
        return {"Item": Key} if (Key["state"]["S"], Key["city_email"]["S"]) in held else {}
    live = SimpleNamespace(dynamodb=SimpleNamespace(get_item=get_item), names=SimpleNamespace(target="view"))
    final = {"ada@example.com": ("Ohio", "Dayton"), "bob@example.com": ("Texas", "Austin")}
    # WHEN they are looked for, THEN bob is the one lost write
    assert api_load.missing_from_view(live, final, timeout=0.3) == ["bob@example.com"]
