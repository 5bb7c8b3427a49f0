"""The pipeline end to end: HTTP API -> users -> stream -> replicate -> users_by_location."""
from __future__ import annotations

import json

import projection
import pytest

from ddblab import stack
from ddblab.core.waiting import wait_for
from ddblab.stack.aws import mappings_of
from ddblab.stack.describe import BATCH_SIZE
from ddblab.stack.model import Names
from tests.integration.helpers import http, target_rows


def _one_row(live, email, **expected):
    def check():
        rows = target_rows(live, email)
        return rows if len(rows) == 1 and all(rows[0][k]["S"] == v for k, v in expected.items()) else None
    return wait_for(check, f"one users_by_location row for {email} with {expected}", timeout=30)[0]


def test_post_user_new_user_replicated_without_zipcode(live, email):
    # WHEN a user is posted through the API
    status, body = http("POST", live.api_url, {"email": email, "state": "New York", "city": "Brooklyn", "zipcode": "11208"})
    # THEN it is created and shows up in the target, keyed by state and city#email, without zipcode
    assert status == 201, body
    assert body == {"email": email, "state": "New York", "city": "Brooklyn", "zipcode": "11208", "active": True}
    row = _one_row(live, email, state="New York", city="Brooklyn")
    assert row["city_email"]["S"] == f"Brooklyn#{email}"
    assert "zipcode" not in row
    assert row["active"] == {"BOOL": True}


def test_put_user_changed_city_row_moves(live, email):
    http("POST", live.api_url, {"email": email, "state": "Ohio", "city": "Cleveland", "zipcode": "44101"})
    _one_row(live, email, city="Cleveland")
    # WHEN the same user is put with another city (POST on an existing email is a 409 now)
    moved = {"email": email, "state": "Ohio", "city": "Cincinnati", "zipcode": "45201"}
    status, _ = http("PUT", f"{live.api_url}/{email}", moved)
    # THEN it is replaced (200) and the row moves: the old key is gone, the new one is there
    assert status == 200
    row = _one_row(live, email, city="Cincinnati")
    assert row["city_email"]["S"] == f"Cincinnati#{email}"


def test_put_user_changed_state_row_moves_partition(live, email):
    http("POST", live.api_url, {"email": email, "state": "Texas", "city": "Austin", "zipcode": "73301"})
    _one_row(live, email, state="Texas")
    http("PUT", f"{live.api_url}/{email}", {"email": email, "state": "Oregon", "city": "Portland", "zipcode": "97201"})
    _one_row(live, email, state="Oregon", city="Portland")


def test_delete_user_existing_row_removed(live, email):
    http("POST", live.api_url, {"email": email, "state": "Maine", "city": "Portland", "zipcode": "04101"})
    _one_row(live, email)
    # WHEN the user is deleted through the API
    status, _ = http("DELETE", f"{live.api_url}/{email}")
    # THEN the API says so, a second delete finds nothing, and the row leaves the target
    assert status == 204
    assert http("DELETE", f"{live.api_url}/{email}")[0] == 404
    wait_for(lambda: target_rows(live, email) == [], f"{email} to leave users_by_location", timeout=30)


def test_get_user_after_post_returns_it(live, email):
    http("POST", live.api_url, {"email": email.upper(), "state": "Texas", "city": "Dallas", "zipcode": "75201"})
    status, body = http("GET", f"{live.api_url}/{email}")
    assert status == 200 and body["email"] == email and body["city"] == "Dallas"
    assert http("GET", f"{live.api_url}/nobody-{email}")[0] == 404


def test_post_two_users_same_city_both_present(live, email):
    other = "second-" + email
    for user in (email, other):
        user_json = {"email": user, "state": "Illinois", "city": "Springfield", "zipcode": "62701"}
        assert http("POST", live.api_url, user_json)[0] == 201
    # THEN neither overwrote the other: both are under the same state and city
    def both():
        items = live.dynamodb.query(
            TableName=live.names.target, KeyConditionExpression="#s = :s AND begins_with(city_email, :c)",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={":s": {"S": "Illinois"}, ":c": {"S": "Springfield#"}})["Items"]
        return {email, other} <= {i["email"]["S"] for i in items}
    wait_for(both, "both Springfield users in users_by_location", timeout=30)
    by_city = live.dynamodb.query(TableName=live.names.target, IndexName="by_city",
                                  KeyConditionExpression="city = :c", ExpressionAttributeValues={":c": {"S": "Springfield"}})
    assert {email, other} <= {i["email"]["S"] for i in by_city["Items"]}


BAD_USERS = {
    "missing email": ({"state": "Ohio", "city": "Columbus", "zipcode": "43004"}, "email"),
    "malformed email": ({"email": "not-an-address", "state": "Ohio", "city": "Columbus", "zipcode": "43004"}, "email"),
    "empty state": ({"state": " ", "city": "Columbus", "zipcode": "43004"}, "state"),
    "city not a string": ({"state": "Ohio", "city": 7, "zipcode": "43004"}, "city"),
    "city with separator": ({"state": "Ohio", "city": "Col#umbus", "zipcode": "43004"}, "city"),
    "zipcode four digits": ({"state": "Ohio", "city": "Columbus", "zipcode": "4300"}, "zipcode"),
    "zipcode a number": ({"state": "Ohio", "city": "Columbus", "zipcode": 43004}, "zipcode"),
    "unknown field": ({"state": "Ohio", "city": "Columbus", "zipcode": "43004", "admin": True}, "admin"),
}


def _user_count(live) -> int:
    pages = live.dynamodb.get_paginator("scan").paginate(TableName=live.names.users, Select="COUNT", ConsistentRead=True)
    return sum(page["Count"] for page in pages)


@pytest.mark.parametrize("case", sorted(BAD_USERS))
def test_post_user_bad_input_400_names_field_writes_nothing(live, email, case):
    payload, field = BAD_USERS[case]
    if "email" not in case:
        payload = {"email": email, **payload}
    before = _user_count(live)  # the tests' own stack: nothing else writes to it meanwhile
    status, body = http("POST", live.api_url, payload)
    assert status == 400, body
    assert field in body["errors"], body
    assert _user_count(live) == before


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b"", b"\xff\xfe"])
def test_post_user_unparseable_body_400(live, raw):
    status, body = http("POST", live.api_url, raw=raw)
    assert status == 400, body
    assert "errors" in body


def test_bootstrap_second_run_everything_unchanged_one_mapping_each(backend_settings, converged):
    # WHEN the bootstrap runs again on a converged backend
    again = stack.converge(backend_settings)
    # THEN nothing changes, every resource keeps its id, and each function has one mapping
    assert again.changed == [], again.changed
    assert again.ids == converged.ids
    assert {kind for kind, _ in again.ids} == {"table", "queue", "role", "function", "mapping", "api"}
    lam = backend_settings.client("lambda")
    for function in ("replicate", "audit"):
        mappings = mappings_of(lam, Names(backend_settings.prefix).function(function))
        assert [m["EventSourceArn"] for m in mappings] == [again.outputs["stream"]], mappings
        assert mappings[0]["State"] == "Enabled"


def test_bootstrap_duplicate_mapping_removed(backend_settings, converged):
    # GIVEN a duplicate mapping (MiniStack creates one silently where AWS would refuse)
    lam = backend_settings.client("lambda")
    function = Names(backend_settings.prefix).audit
    try:
        lam.create_event_source_mapping(FunctionName=function, EventSourceArn=converged.outputs["stream"],
                                        StartingPosition="TRIM_HORIZON", BatchSize=BATCH_SIZE)
        duplicated = True
    except lam.exceptions.ResourceConflictException:
        duplicated = False  # AWS and LocalStack refuse it: then there is nothing to remove
    # WHEN the bootstrap runs
    report = stack.converge(backend_settings)
    # THEN it removes the duplicate, reports it, and one mapping is left
    assert [r[2] for r in report.changed] == (["removed"] if duplicated else []), report.changed
    assert len(lam.list_event_source_mappings(FunctionName=function)["EventSourceMappings"]) == 1


def test_audit_logs_one_line_per_change(live, email):
    http("POST", live.api_url, {"email": email, "state": "Georgia", "city": "Atlanta", "zipcode": "30303"})
    http("PUT", f"{live.api_url}/{email}", {"email": email, "state": "Georgia", "city": "Savannah", "zipcode": "31401"})
    logs = live.client("logs")

    def audit_lines():
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{live.names.audit}", filterPattern=f'"{email}"')["events"]
        entries = [json.loads(e["message"]) for e in events if e["message"].lstrip().startswith("{")]
        entries = [e for e in entries if e.get("keys", {}).get("email") == email]
        return entries if len(entries) >= 2 else None
    entries = wait_for(audit_lines, f"two audit lines for {email}", timeout=30)
    assert [e["audit"] for e in entries[:2]] == ["INSERT", "MODIFY"]
    assert entries[1]["changes"] == {"city": {"old": "Atlanta", "new": "Savannah"}, "zipcode": {"old": "30303", "new": "31401"}}


def test_every_dynamodb_type_replicated_intact(live, email):
    # GIVEN a user written straight to the table with an attribute of every type
    extra = {
        "n": {"N": "12.5"}, "b": {"B": b"\x00\x01binary"}, "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2.5"]},
        "bs": {"BS": [b"\x01", b"\x02"]}, "nothing": {"NULL": True}, "flag": {"BOOL": False},
        "m": {"M": {"inner": {"L": [{"S": "x"}, {"N": "3"}, {"B": b"\xff"}, {"M": {"deep": {"BS": [b"\x07"]}}}]}}},
    }
    item = {"email": {"S": email}, "state": {"S": "Colorado"}, "city": {"S": "Denver"}, "zipcode": {"S": "80202"}, **extra}
    live.dynamodb.put_item(TableName=live.names.users, Item=item)
    # THEN the target holds exactly its projection: every attribute but zipcode, unchanged
    from ddblab.data.reconcile import comparable
    row = _one_row(live, email, city="Denver")
    assert comparable(row) == comparable(projection.project(item))
