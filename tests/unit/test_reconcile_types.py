"""reconcile compares DynamoDB values by type, with the one equality audit uses too."""
from __future__ import annotations

import projection
import pytest

from ddblab.data import reconciliation


class FakeScan:
    """A DynamoDB client whose tables are dicts of table -> items: Scan and BatchGetItem."""

    def __init__(self, tables: dict):
        self.tables = tables

    def get_paginator(self, operation):
        assert operation == "scan"
        tables = self.tables

        class Pages:
            def paginate(self, TableName, **_):
                return [{"Items": tables[TableName]}]
        return Pages()

    def batch_get_item(self, RequestItems):
        (table, request), = RequestItems.items()
        wanted = [sorted((k, v["S"]) for k, v in key.items()) for key in request["Keys"]]
        found = [item for item in self.tables[table]
                 if sorted((k, item[k]["S"]) for k in dict(wanted[0])) in wanted] if wanted else []
        return {"Responses": {table: found}, "UnprocessedKeys": {}}


def user(**extra) -> dict:
    return {"email": {"S": "a@example.com"}, "state": {"S": "Ohio"}, "city": {"S": "Dayton"}, **extra}


@pytest.mark.parametrize("source, target", [
    ({"N": "1"}, {"BOOL": True}),
    ({"SS": ["a", "b"]}, {"L": [{"S": "a"}, {"S": "b"}]}),
    ({"N": "1"}, {"S": "1"}),
    ({"N": "0"}, {"BOOL": False}),
])
def test_compare_same_plain_value_other_type_reported_as_drift(source, target):
    # GIVEN a user whose target row holds the same plain value under another DynamoDB type
    users = [user(flag=source)]
    row = projection.project(users[0]) | {"flag": target}
    client = FakeScan({"users": users, "target": [row]})
    # WHEN reconcile compares
    drift = reconciliation.compare(client, "users", "target")
    # THEN it is drift, named by attribute
    assert len(drift.different) == 1
    assert "flag should be" in reconciliation.describe(drift)


def test_compare_equal_numbers_and_reordered_sets_are_in_step():
    users = [user(n={"N": "1.0"}, tags={"SS": ["b", "a"]})]
    row = projection.project(users[0]) | {"n": {"N": "1"}, "tags": {"SS": ["a", "b"]}}
    assert reconciliation.compare(FakeScan({"users": users, "target": [row]}), "users", "target").total == 0


def test_same_value_is_what_audit_uses():
    import audit
    record = {"eventName": "MODIFY", "dynamodb": {"Keys": {"email": {"S": "a@example.com"}},
                                                  "OldImage": user(flag={"N": "1"}), "NewImage": user(flag={"BOOL": True})}}
    assert not projection.same_value({"N": "1"}, {"BOOL": True})
    assert "flag" in audit.describe(record)["changes"]


def test_same_value_binary_as_base64_text_or_bytes_is_one_value():
    assert projection.same_value({"B": "/w=="}, {"B": b"\xff"})
    assert projection.same_value({"BS": ["AQ==", "/w=="]}, {"BS": [b"\xff", b"\x01"]})
    assert not projection.same_value({"B": b"\x01"}, {"S": "AQ=="})


@pytest.mark.parametrize("a, b", [
    ({"NS": ["1", "2.50"]}, {"NS": ["2.5", "1.0"]}),
    ({"M": {"photo": {"B": "/w=="}, "n": {"N": "1.0"}}}, {"M": {"n": {"N": "1"}, "photo": {"B": b"\xff"}}}),
    ({"L": [{"B": "AQ=="}, {"NS": ["2", "1"]}]}, {"L": [{"B": b"\x01"}, {"NS": ["1", "2"]}]}),
], ids=["NS", "M", "L"])
def test_same_value_sets_maps_and_lists_compare_their_members_by_value(a, b):
    # GIVEN one value as the stream carries it and as the table gives it back: sets in another
    # order, numbers spelled otherwise, binaries as base64 text or bytes, at any depth
    # THEN it is one value
    assert projection.same_value(a, b)


@pytest.mark.parametrize("a, b", [
    ({"NS": ["1", "2"]}, {"NS": ["1", "3"]}),
    ({"M": {"city": {"S": "Akron"}}}, {"M": {"city": {"S": "Dayton"}}}),
    ({"M": {"flag": {"N": "1"}}}, {"M": {"flag": {"BOOL": True}}}),
    ({"L": [{"S": "a"}, {"S": "b"}]}, {"L": [{"S": "b"}, {"S": "a"}]}),
    ({"L": [{"N": "1"}]}, {"L": [{"N": "2"}]}),
], ids=["NS-member", "M-member", "M-member-type", "L-order", "L-member"])
def test_same_value_a_member_changed_at_any_depth_is_another_value(a, b):
    assert not projection.same_value(a, b)
