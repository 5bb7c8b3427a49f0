"""Users by location, from users_by_location: by state (the partition key), by state and
city (begins_with on the "<city>#<email>" sort key) or by city alone (the by_city index).

    python -m scripts.query --state "New York" [--city Brooklyn]
    python -m scripts.query --city Springfield
"""
from __future__ import annotations

import argparse

from rich.table import Table

from scripts.deployed import Deployed
from scripts.output import console
from scripts.settings import UserError, run_main


def query(client, table: str, state: str | None = None, city: str | None = None) -> list:
    if state and city:
        args = dict(KeyConditionExpression="#s = :s AND begins_with(city_email, :c)",
                    ExpressionAttributeNames={"#s": "state"},
                    ExpressionAttributeValues={":s": {"S": state}, ":c": {"S": f"{city}#"}})
    elif state:
        args = dict(KeyConditionExpression="#s = :s", ExpressionAttributeNames={"#s": "state"},
                    ExpressionAttributeValues={":s": {"S": state}})
    elif city:
        args = dict(IndexName="by_city", KeyConditionExpression="city = :c",
                    ExpressionAttributeValues={":c": {"S": city}})
    else:
        raise UserError("give --state, --city or both, e.g. --state \"New York\"")
    pages = client.get_paginator("query").paginate(TableName=table, **args)
    return [item for page in pages for item in page["Items"]]


def main() -> int:
    parser = argparse.ArgumentParser(description="users by state, state and city, or city")
    parser.add_argument("--state")
    parser.add_argument("--city")
    parser.add_argument("--limit", type=int, default=50, help="rows to print (default 50)")
    args = parser.parse_args()
    live = Deployed.connect()
    live.require_tables()
    items = query(live.dynamodb, live.names["target"], args.state, args.city)
    where = " and ".join(f"{k} = {v!r}" for k, v in (("state", args.state), ("city", args.city)) if v)
    console.print(f"{live.names['target']} where {where}: {len(items)} user{'' if len(items) == 1 else 's'}"
                  + ("" if items else " (names match exactly, capitals included)"), highlight=False)
    if not items:
        return 0
    view = Table()
    for column in ("state", "city", "email", "active"):
        view.add_column(column)
    for item in sorted(items, key=lambda i: (i["state"]["S"], i["city_email"]["S"]))[:args.limit]:
        view.add_row(item["state"]["S"], item["city"]["S"], item["email"]["S"], str(item.get("active", {}).get("BOOL", "")))
    if len(items) > args.limit:
        view.add_row("...", "", f"and {len(items) - args.limit} more (--limit)", "")
    console.print(view)
    return 0


if __name__ == "__main__":
    run_main(main)
