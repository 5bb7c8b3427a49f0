"""Print an event as the backend delivers it to a function, to read, to edit, or to pipe
into `ddblab invoke`:

    ddblab event stream --new '{"email": "ada@example.com", "state": "Ohio", "city": "Akron"}'    INSERT
    ddblab event stream --old '{...}' --new '{...}'                                              MODIFY
    ddblab event stream --old '{...}'                                                            REMOVE
    ddblab event stream --email ada@example.com [--remove]     from the user's current item in users
    ddblab event api POST /users --body '{"email": ...}' [--payload 2.0]
    ddblab event api GET '/users?state=Ohio'

Items are plain JSON (strings, numbers, booleans, lists, objects) or DynamoDB JSON
({"S": ...}); the records are built by ddblab.events, the factories the tests use, checked
against events captured from MiniStack. A stream event carries the deployed stream's ARN
when a stack answers.
"""
from __future__ import annotations

import json
import sys
from decimal import Decimal

from boto3.dynamodb.types import TypeSerializer

from ddblab import events
from ddblab.core.settings import UserError

HELP = "print a stream or API Gateway event (for make invoke, or your tests)"
_serializer = TypeSerializer()
TYPES = {"S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS", "L", "M"}


def configure(parser) -> None:
    kinds = parser.add_subparsers(dest="kind", metavar="stream|api", required=True)
    stream = kinds.add_parser("stream", help="a DynamoDB stream event (INSERT, MODIFY or REMOVE)")
    stream.add_argument("--new", metavar="ITEM", help="the item after the change (JSON; @file reads a file)")
    stream.add_argument("--old", metavar="ITEM", help="the item before the change")
    stream.add_argument("--email", help="the user's current item in users is the new image (or the old one with --remove)")
    stream.add_argument("--remove", action="store_true", help="with --email: the REMOVE of that user")
    api = kinds.add_parser("api", help="an API Gateway event for a users API request")
    api.add_argument("method", type=str.upper)
    api.add_argument("path", help="/users, /users/ada@example.com, '/users?state=Ohio'")
    api.add_argument("--body", help="the request body (JSON text; @file reads a file)")
    api.add_argument("--payload", choices=("1.0", "2.0"), default="1.0",
                     help="1.0: REST API (what the stack deploys); 2.0: HTTP API")


def _text(value: str) -> str:
    if value.startswith("@"):
        try:
            return open(value[1:]).read()
        except OSError as error:
            raise UserError(f"cannot read {value[1:]}: {error.strerror}") from None
    return value


def dynamodb_json(item: dict) -> dict:
    """An item in DynamoDB JSON: kept as it is where every value already is, else serialized."""
    if all(isinstance(v, dict) and len(v) == 1 and next(iter(v)) in TYPES for v in item.values()):
        return item
    return {name: _serializer.serialize(value) for name, value in item.items()}


def parse_item(text: str, what: str) -> dict:
    try:
        item = json.loads(_text(text), parse_float=Decimal)
    except ValueError as error:
        raise UserError(f"{what}: not JSON ({error})") from None
    if not isinstance(item, dict):
        raise UserError(f"{what}: an item is a JSON object")
    return dynamodb_json(item)


def stream_arn() -> str:
    """The deployed stream's ARN when a stack answers; the factories' placeholder otherwise."""
    from ddblab.emulator.health import health
    from ddblab.stack.deployed import Deployed
    live = Deployed.connect(announce=False) if health(_settings().endpoint_url, timeout=0.5) else None
    if live is None:
        return events.STREAM_ARN
    table = live.dynamodb.describe_table(TableName=live.names.users)["Table"]
    return table.get("LatestStreamArn") or events.STREAM_ARN


def _settings():
    from ddblab.core.settings import Settings
    return Settings.from_env()


def current_user(email: str) -> dict | None:
    from ddblab.stack.deployed import Deployed
    live = Deployed.connect(announce=False)
    live.require_tables()
    return live.dynamodb.get_item(TableName=live.names.users, Key={"email": {"S": email}},
                                  ConsistentRead=True).get("Item")


def stream_event(args) -> dict:
    if args.email:
        if args.new or args.old:
            raise UserError("--email takes the user's current item: give either --email or --new/--old")
        item = current_user(args.email)
        if item is None:
            raise UserError(f"no user {args.email} in users - give the item with --new instead")
        old, new = (item, None) if args.remove else (None, item)
    else:
        if not (args.new or args.old):
            raise UserError("give --new (INSERT), --old (REMOVE), both (MODIFY), or --email")
        old = parse_item(args.old, "--old") if args.old else None
        new = parse_item(args.new, "--new") if args.new else None
    return events.stream_event(events.change_record(old, new, stream_arn=stream_arn()))


def api_event(args) -> dict:
    body = None
    if args.body is not None:
        text = _text(args.body)
        try:
            body = json.loads(text)
        except ValueError:
            body = text  # sent as is: the API answers 400/415 to it, which is worth trying too
    if not args.path.startswith("/"):
        raise UserError(f"path {args.path!r}: start it with /, like /users or /users/ada@example.com")
    factory = events.api_event_v1 if args.payload == "1.0" else events.api_event_v2
    return factory(args.method, args.path, body)


def run(args) -> int:
    event = stream_event(args) if args.kind == "stream" else api_event(args)
    json.dump(event, sys.stdout, indent=2, default=str)
    print()
    return 0
