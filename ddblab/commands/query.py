"""Users by location, from users_by_location: by state (the partition key), by state and
city (begins_with on the "<city>#<email>" sort key) or by city alone (the by_city index).

    ddblab query --state "New York" [--city Brooklyn]
    ddblab query --city Springfield
"""
from __future__ import annotations

from rich.table import Table

from ddblab.core.aws import paged
from ddblab.core.output import console
from ddblab.core.settings import UserError
from ddblab.stack.deployed import Deployed
from ddblab.stack.describe import CITY_INDEX, projection


def query(client, table: str, state: str | None = None, city: str | None = None) -> list:
    if state and city:
        # state is a reserved word in DynamoDB expressions: it goes through a name placeholder.
        args = dict(KeyConditionExpression="#s = :s AND begins_with(#sk, :c)",
                    ExpressionAttributeNames={"#s": projection.PARTITION_KEY, "#sk": projection.SORT_KEY},
                    ExpressionAttributeValues={":s": {"S": state}, ":c": {"S": f"{city}{projection.SEPARATOR}"}})
    elif state:
        args = dict(KeyConditionExpression="#s = :s", ExpressionAttributeNames={"#s": projection.PARTITION_KEY},
                    ExpressionAttributeValues={":s": {"S": state}})
    elif city:
        args = dict(IndexName=CITY_INDEX, KeyConditionExpression="city = :c",
                    ExpressionAttributeValues={":c": {"S": city}})
    else:
        raise UserError('give a state, a city or both: make query STATE="New York" [CITY=Brooklyn], '
                        'or ddblab query --state "New York"')
    return paged(client, "query", "Items", TableName=table, **args)


HELP = "users by state, state and city, or city"


def configure(parser) -> None:
    parser.add_argument("--state", help='the state, exactly as stored, e.g. "New York"')
    parser.add_argument("--city", help="the city; with --state, in that state only (through the by_city index without it)")
    parser.add_argument("--limit", type=int, default=50, help="rows to print (default 50)")


def run(args) -> int:
    live = Deployed.connect()
    live.require_tables()
    items = query(live.dynamodb, live.names.target, args.state, args.city)
    where = " and ".join(f"{k} = {v!r}" for k, v in (("state", args.state), ("city", args.city)) if v)
    console.print(f"{live.names.target} where {where}: {len(items)} user{'' if len(items) == 1 else 's'}"
                  + ("" if items else " (names match exactly, capitals included)"), highlight=False)
    if not items:
        return 0
    view = Table()
    for column in ("state", "city", "email", "active"):
        view.add_column(column)
    for item in sorted(items, key=projection.key_id)[:args.limit]:
        view.add_row(item[projection.PARTITION_KEY]["S"], item["city"]["S"], item["email"]["S"],
                     str(item.get("active", {}).get("BOOL", "")))
    if len(items) > args.limit:
        view.add_row("...", "", f"and {len(items) - args.limit} more (--limit)", "")
    console.print(view)
    return 0
