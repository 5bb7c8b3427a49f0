"""Tables: created with their key, stream and indexes; an existing one checked and fixed."""
from __future__ import annotations

from typing import Any

from ddblab.core.aws import find
from ddblab.core.kinds import Backend
from ddblab.core.settings import UserError
from ddblab.stack.converge.context import Context
from ddblab.stack.model import VIEW_TAG, Table, key_schema


def index_definition(index) -> dict:
    return {"IndexName": index.name, "Projection": {"ProjectionType": "ALL"}, "KeySchema": key_schema(index.key)}


def create(ctx: Context, spec: Table) -> None:
    args: dict[str, Any] = dict(TableName=spec.name, BillingMode="PAY_PER_REQUEST", AttributeDefinitions=spec.attributes,
                KeySchema=spec.key_schema)
    if spec.stream:
        args["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": spec.stream}
    if spec.indexes:
        args["GlobalSecondaryIndexes"] = [index_definition(index) for index in spec.indexes]
    if spec.view:
        args["Tags"] = [{"Key": VIEW_TAG, "Value": spec.name}]
    ctx.ddb.create_table(**args)
    ctx.ddb.get_waiter("table_exists").wait(TableName=spec.name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 150})
    ctx.report.add("table", spec.name, "created")


def fix_stream(ctx: Context, spec: Table, current: dict) -> str | None:
    """Enable the stream, or replace one with the wrong view type; what was done, or None."""
    stream = current.get("StreamSpecification") or {}
    if not spec.stream or (stream.get("StreamEnabled") and stream.get("StreamViewType") == spec.stream):
        return None
    if stream.get("StreamEnabled"):  # a stream's view type cannot change: replace the stream
        if ctx.backend in (Backend.LOCALSTACK, Backend.UNKNOWN):
            # LocalStack 4.14 keeps the Kinesis stream behind a table's stream until the table is
            # deleted, so re-enabling answers 500 (services/dynamodbstreams/dynamodbstreams_api.py,
            # LocalStack issue 12491): the table itself has to be replaced. On an emulator of
            # unknown kind the stream is not disabled either: it might be LocalStack.
            who = ("LocalStack cannot" if ctx.backend == Backend.LOCALSTACK
                   else "the emulator answering is of unknown kind (LocalStack cannot), so ddblab does not")
            raise UserError(
                f"table {spec.name} has a {stream.get('StreamViewType')} stream, the stack needs {spec.stream}; "
                f"{who} replace a table's stream in place - delete the table (its data goes with it: "
                f"awslocal dynamodb delete-table --table-name {spec.name}), or restart the emulator "
                "(make down up), then run: make bootstrap")
        ctx.ddb.update_table(TableName=spec.name, StreamSpecification={"StreamEnabled": False})
    ctx.ddb.update_table(TableName=spec.name, StreamSpecification={"StreamEnabled": True, "StreamViewType": spec.stream})
    return f"stream {spec.stream}"


def add_indexes(ctx: Context, spec: Table, current: dict) -> str | None:
    have = {i["IndexName"] for i in current.get("GlobalSecondaryIndexes", [])}
    missing = [index for index in spec.indexes if index.name not in have]
    for index in missing:
        ctx.ddb.update_table(TableName=spec.name, AttributeDefinitions=spec.attributes,
                             GlobalSecondaryIndexUpdates=[{"Create": index_definition(index)}])
    return f"index {', '.join(i.name for i in missing)}" if missing else None


def converge(ctx: Context, spec: Table) -> None:
    described = find(ctx.ddb.describe_table, "ResourceNotFoundException", TableName=spec.name)
    if described is None:
        create(ctx, spec)
        return
    current = described["Table"]
    key = tuple((k["AttributeName"], k["KeyType"]) for k in current["KeySchema"])
    if key != spec.key:
        raise UserError(
            f"table {spec.name} exists with key {key}, expected {spec.key}; "
            "a key cannot be changed in place - delete the table, or restart the emulator "
            "(make down up: MiniStack and LocalStack keep no state), then run make up")
    # Both checks run: a table can need its stream fixed and an index added in one converge.
    changes = [change for change in (fix_stream(ctx, spec, current), add_indexes(ctx, spec, current)) if change]
    ctx.report.add("table", spec.name, "updated" if changes else "unchanged", "; ".join(changes))


def stream_arn(ctx: Context, table: str) -> str:
    arn = ctx.ddb.describe_table(TableName=table)["Table"].get("LatestStreamArn")
    if not arn:
        raise UserError(f"table {table} has no stream - run: make bootstrap")
    return arn
