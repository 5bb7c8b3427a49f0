"""Whether every table of the stack is ready to be read: ACTIVE (indexes too), and each
consumer's own table (one row per user, key `email`: model.Consumer's `view`) holding a row
for every user in `users`. What `make up` waits for after writing data back, and `make seed`
after writing users, before either says the stack is in step: the stream rebuilds every view,
not only users_by_location, and a first query must not see one half rebuilt."""
from __future__ import annotations

from dataclasses import dataclass

from ddblab.core.aws import find
from ddblab.data import batches
from ddblab.stack.code import handler_module

projection = handler_module("projection")
VIEW_KEY = projection.VIEW_KEY  # a consumer's table is keyed by the user's email


def view_tables(stack) -> list:
    """The tables consumers keep of their own, as the stack description declares them."""
    return [stack.names.function(c.module) for c in stack.consumers if c.view]


def missing(client, tables) -> list:
    """The tables that do not exist (a consumer added since the last converge has none yet)."""
    return [table for table in tables
            if find(client.describe_table, "ResourceNotFoundException", TableName=table) is None]


def not_active(client, tables) -> list:
    """The tables (or a table's index) not ACTIVE yet, as 'name (STATUS)'."""
    waiting = []
    for table in tables:
        described = client.describe_table(TableName=table)["Table"]
        states = [("", described.get("TableStatus", "ACTIVE"))] + [
            (f" index {index['IndexName']}", index.get("IndexStatus", "ACTIVE"))
            for index in described.get("GlobalSecondaryIndexes", [])]
        waiting += [f"{table}{where} ({state})" for where, state in states if state != "ACTIVE"]
    return waiting


def rows_missing(client, users_table: str, view_table: str) -> int:
    """How many users of users_table have no row in view_table: one page of emails, and their
    look-ups, in memory at a time."""
    missing = 0
    pages = client.get_paginator("scan").paginate(TableName=users_table, ProjectionExpression="#e",
                                                  ExpressionAttributeNames={"#e": VIEW_KEY})
    for page in pages:
        keys = [{VIEW_KEY: item[VIEW_KEY]} for item in page["Items"]]
        missing += len(keys) - len(batches.get_all(client, view_table, keys))
    return missing


def behind(client, users_table: str, tables: list) -> list:
    """The view tables that do not hold a row for every user yet, as 'name (N users missing)'."""
    return [f"{table} (no row for {n} of the users)" for table in tables if (n := rows_missing(client, users_table, table))]


@dataclass
class Left:
    """What is still awaited, for wait_for: true once nothing is, and shown as what was left
    when a wait times out ("last value: state_counts (no row for 2 of the users)")."""
    items: list

    def __bool__(self) -> bool:
        return not self.items

    def __repr__(self) -> str:
        return "; ".join(self.items) or "nothing"


def all_active(client, tables) -> Left:
    return Left(not_active(client, tables))


def in_step(client, users_table: str, tables: list, alive=lambda: None) -> Left:
    """Every view table holds a row for every user (alive(): raises if the emulator is gone)."""
    alive()
    return Left(behind(client, users_table, tables))


def at_position(client, table: str, position: str | None) -> bool:
    """Whether the view's newest row is at this stream position or past it (a template
    consumer keeps each row's, zero-padded, in projection.VIEW_SEQUENCE; a view without it,
    or no position to reach, is judged by its rows alone)."""
    if position is None:
        return True
    pages = client.get_paginator("scan").paginate(TableName=table, ProjectionExpression="#s",
                                                  ExpressionAttributeNames={"#s": projection.VIEW_SEQUENCE})
    held = [item[projection.VIEW_SEQUENCE]["S"] for page in pages for item in page["Items"]
            if "S" in item.get(projection.VIEW_SEQUENCE, {})]
    return not held or max(held) >= position.zfill(projection.VIEW_POSITION_WIDTH)


def rebuilt(client, users_table: str, tables: list, position: str | None) -> Left:
    """in_step, and then (the view's whole table read only once every user has a row) each
    view at the stream position it was rebuilt up to."""
    left = in_step(client, users_table, tables)
    if left.items:
        return left
    return Left([f"{table} (not at the stream's newest record yet)" for table in tables
                 if not at_position(client, table, position)])
