"""Whether every table is ready to be read: ACTIVE, and each consumer's own table holding a row
for every user (what make up and make seed wait for), on a fake DynamoDB client."""
from __future__ import annotations

from botocore.exceptions import ClientError

from ddblab.core.settings import Settings
from ddblab.data import views
from ddblab.stack.describe import describe
from ddblab.stack.model import Account, Consumer
from tests.builtin import BUILT_IN


class Pages:
    def __init__(self, client):
        self.client = client

    def paginate(self, TableName, ProjectionExpression, ExpressionAttributeNames):
        # the emails (make up and make seed's waits), or the stream positions (--rebuild's)
        assert (ProjectionExpression, ExpressionAttributeNames) in (("#e", {"#e": "email"}), ("#s", {"#s": "sequence"}))
        name = ExpressionAttributeNames[ProjectionExpression]
        items = [{name: item[name]} for item in self.client.tables[TableName].values() if name in item]
        for start in range(0, len(items), 2):  # pages of two: the count must add up across pages
            yield {"Items": items[start:start + 2]}


class FakeDynamoDB:
    """Tables as {email: item}; describe_table answers the status set in `status`."""

    def __init__(self, tables: dict, status: dict | None = None):
        self.tables, self.status = tables, status or {}

    def get_paginator(self, operation):
        assert operation == "scan"
        return Pages(self)

    def batch_get_item(self, RequestItems):
        (table, request), = RequestItems.items()
        found = [self.tables[table][k["email"]["S"]] for k in request["Keys"] if k["email"]["S"] in self.tables[table]]
        return {"Responses": {table: found}, "UnprocessedKeys": {}}

    def describe_table(self, TableName):
        if TableName not in self.tables and TableName not in self.status:
            raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "not found"}}, "DescribeTable")
        table_status, indexes = self.status.get(TableName, ("ACTIVE", {}))
        return {"Table": {"TableName": TableName, "TableStatus": table_status, "GlobalSecondaryIndexes": [
            {"IndexName": name, "IndexStatus": state} for name, state in indexes.items()]}}


def row(email: str) -> dict:
    return {"email": {"S": email}, "sequence": {"S": "1"}}


def test_view_tables_are_the_consumers_that_keep_a_view():
    # GIVEN the stack with one more consumer line keeping a view (replicate and audit keep none of their own)
    stack = describe(Settings(prefix="dev1-"), Account("aws", "us-east-1", "123456789012"),
                     consumers=BUILT_IN + (Consumer("state_counts", index="state"), Consumer("mailer", view=False)))
    # THEN its table alone is a view to wait for
    assert views.view_tables(stack) == ["dev1-state_counts"]


def test_behind_names_a_view_without_a_row_for_every_user():
    # GIVEN five users, a view holding rows for three of them and a tombstone of a deleted user
    users = {f"u{i}@example.com": row(f"u{i}@example.com") for i in range(5)}
    client = FakeDynamoDB({"users": users, "state_counts": {e: row(e) for e in
                                                            ["u0@example.com", "u2@example.com", "u4@example.com",
                                                             "gone@example.com"]},
                           "other_view": dict(users)})
    # THEN the view lacking two rows is named with how many, the complete one is not
    assert views.behind(client, "users", ["state_counts", "other_view"]) == ["state_counts (no row for 2 of the users)"]
    # WHEN the stream writes the two rows THEN nothing is behind
    client.tables["state_counts"].update({e: row(e) for e in ["u1@example.com", "u3@example.com"]})
    assert views.behind(client, "users", ["state_counts", "other_view"]) == []


def test_not_active_names_each_table_and_index_still_being_made():
    client = FakeDynamoDB({}, status={"users": ("ACTIVE", {}), "state_counts": ("CREATING", {"by_state": "CREATING"}),
                                      "users_by_location": ("ACTIVE", {"by_city": "ACTIVE"})})
    assert views.not_active(client, ["users", "users_by_location", "state_counts"]) == [
        "state_counts (CREATING)", "state_counts index by_state (CREATING)"]
    client.status["state_counts"] = ("ACTIVE", {"by_state": "ACTIVE"})
    assert views.not_active(client, ["users", "users_by_location", "state_counts"]) == []


def test_missing_names_a_consumers_table_not_made_yet():
    # GIVEN a consumer added to the stack description, not yet deployed (no make bootstrap since)
    client = FakeDynamoDB({"users": {}, "users_by_location": {}})
    # THEN its table is the one missing: make seed says so at once rather than waiting for its rows
    assert views.missing(client, ["users", "users_by_location", "state_counts"]) == ["state_counts"]
    assert views.missing(client, ["users", "users_by_location"]) == []


def test_a_wait_that_times_out_names_what_was_left():
    import pytest

    from ddblab.core.waiting import WaitTimeout, wait_for
    # GIVEN a view that never gets the row of one of its two users
    client = FakeDynamoDB({"users": {e: row(e) for e in ["a@example.com", "b@example.com"]},
                           "state_counts": {"a@example.com": row("a@example.com")}})
    # WHEN make up's or make seed's wait gives up
    with pytest.raises(WaitTimeout, match=r"last value: state_counts \(no row for 1 of the users\)"):
        wait_for(lambda: views.in_step(client, "users", ["state_counts"]), "the views", timeout=0.3, interval=0.1)
    # AND a view in step ends the wait; an emulator gone ends it at once with its own error
    client.tables["state_counts"]["b@example.com"] = row("b@example.com")
    assert views.in_step(client, "users", ["state_counts"])

    def gone():
        raise RuntimeError("the emulator stopped answering")
    with pytest.raises(RuntimeError, match="stopped answering"):
        views.in_step(client, "users", ["state_counts"], alive=gone)


def test_a_rebuilt_view_is_done_once_every_user_has_a_row_and_its_newest_row_is_at_the_stream_position():
    # GIVEN two users, and a view rebuilding from the stream, whose newest record then was 150
    users = {e: row(e) for e in ["a@example.com", "b@example.com"]}
    def at(email: str, position: str) -> dict:  # a template row: its position padded to 64 digits
        return {"email": {"S": email}, "sequence": {"S": position.zfill(64)}}
    client = FakeDynamoDB({"users": users, "state_counts": {"a@example.com": at("a@example.com", "99")}})
    # THEN it is not done while a user has no row
    assert repr(views.rebuilt(client, "users", ["state_counts"], "150")) == "state_counts (no row for 1 of the users)"
    # nor while its rows are all older than that record
    client.tables["state_counts"]["b@example.com"] = at("b@example.com", "120")
    assert repr(views.rebuilt(client, "users", ["state_counts"], "150")) == \
        "state_counts (not at the stream's newest record yet)"
    # WHEN the row of that record is written THEN it is done (in stream order, not text order: 150 after 99)
    client.tables["state_counts"]["a@example.com"] = at("a@example.com", "150")
    assert views.rebuilt(client, "users", ["state_counts"], "150")
    assert not views.rebuilt(client, "users", ["state_counts"], "1000")
