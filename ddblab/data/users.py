"""Users to write: the reference walkthrough's five, and any number generated from data/."""
from __future__ import annotations

import csv
import json
import random

from ddblab.core.settings import ROOT

DATA = ROOT / "data"


def walkthrough() -> list:
    return json.loads((DATA / "walkthrough.json").read_text())


def locations() -> list:
    with open(DATA / "locations.csv", newline="") as f:
        return list(csv.DictReader(f))


def generated(count: int, seed: int = 42, prefix: str = "seed") -> list:
    """The same count and seed give the same users, so seeding twice replaces, not adds."""
    rng = random.Random(seed)
    places = locations()
    return [{"email": f"{prefix}-{i:06d}@example.com", **rng.choice(places)} for i in range(count)]


def to_item(user: dict) -> dict:
    """A users item as the API stores it (users_api.to_item), for bulk writes."""
    item = {name: {"S": user[name]} for name in ("email", "state", "city", "zipcode")}
    item["active"] = {"BOOL": True}
    return item
