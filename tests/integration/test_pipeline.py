"""The pipeline end to end: HTTP API -> users -> stream -> replicate -> users_by_location."""
from __future__ import annotations

import dataclasses
import io
import json
import zipfile

import pytest

from ddblab import stack
from ddblab.core.aws import find, log_events, mappings_of
from ddblab.core.kinds import Status
from ddblab.core.waiting import wait_for
from ddblab.diagnose import checks
from ddblab.stack.consumers import CONSUMERS
from ddblab.stack.describe import BATCH_SIZE, describe
from ddblab.stack.model import Names
from tests.integration.helpers import cli_output, http, target_rows


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
    posted, answer = http("POST", live.api_url, {"email": email.upper(), "state": "Texas", "city": "Dallas", "zipcode": "75201"})
    assert posted == 201, answer
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


# Each payload carries this test's marker (its email, or the email's uuid part where the email
# itself is the bad field), so "nothing written" is checked for this payload alone.
BAD_USERS = {
    "missing email": (lambda e: {"state": f"Ohio {e}", "city": "Columbus", "zipcode": "43004"}, "email"),
    "malformed email": (lambda e: {"email": e.replace("@", "-at-"), "state": "Ohio", "city": "Columbus",
                                   "zipcode": "43004"}, "email"),
    "empty state": (lambda e: {"email": e, "state": " ", "city": "Columbus", "zipcode": "43004"}, "state"),
    "city not a string": (lambda e: {"email": e, "state": "Ohio", "city": 7, "zipcode": "43004"}, "city"),
    "city with separator": (lambda e: {"email": e, "state": "Ohio", "city": "Col#umbus", "zipcode": "43004"}, "city"),
    "zipcode four digits": (lambda e: {"email": e, "state": "Ohio", "city": "Columbus", "zipcode": "4300"}, "zipcode"),
    "zipcode a number": (lambda e: {"email": e, "state": "Ohio", "city": "Columbus", "zipcode": 43004}, "zipcode"),
    "unknown field": (lambda e: {"email": e, "state": "Ohio", "city": "Columbus", "zipcode": "43004", "admin": True},
                      "admin"),
}


def _written_for(live, email: str) -> list:
    """Every users item that holds this test's marker anywhere a payload can put it: under its
    own key (read consistently), or in the email or state of any item (a consistent scan)."""
    marker = email.split("@")[0]
    own = live.dynamodb.get_item(TableName=live.names.users, Key={"email": {"S": email}}, ConsistentRead=True)
    found = [own["Item"]] if "Item" in own else []
    pages = live.dynamodb.get_paginator("scan").paginate(
        TableName=live.names.users, ConsistentRead=True, FilterExpression="contains(email, :m) OR contains(#s, :m)",
        ExpressionAttributeNames={"#s": "state"}, ExpressionAttributeValues={":m": {"S": marker}})
    return found + [item for page in pages for item in page["Items"]]


@pytest.mark.parametrize("case", sorted(BAD_USERS))
def test_post_user_bad_input_400_names_field_writes_nothing(live, email, case):
    payload, field = BAD_USERS[case][0](email), BAD_USERS[case][1]
    status, body = http("POST", live.api_url, payload)
    assert status == 400, body
    assert field in body["errors"], body
    assert _written_for(live, email) == []


# Bodies that are not one JSON object, most of them around a valid user of the test's own: a
# lenient reader (the first object found, the first element of a list, invalid bytes skipped)
# would write it.
UNPARSEABLE = {
    "not json": lambda user: b"not json " + user,
    "a list": lambda user: b"[" + user + b", 1, 2]",
    "empty": lambda user: b"",
    "invalid utf-8": lambda user: b"\xff\xfe" + user,
    "truncated": lambda user: user[:-1],
}


@pytest.mark.parametrize("case", sorted(UNPARSEABLE))
def test_post_user_unparseable_body_400_writes_nothing(live, email, case):
    user = json.dumps({"email": email, "state": "Ohio", "city": "Columbus", "zipcode": "43004"}).encode()
    status, body = http("POST", live.api_url, raw=UNPARSEABLE[case](user))
    assert status == 400, body
    assert "errors" in body
    assert _written_for(live, email) == []


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


def test_bootstrap_says_a_consumer_taken_out_still_gets_records_and_prune_removes_it(own):
    # GIVEN a stack converged with audit keeping a view (a table of its own, as make consumer's
    # consumers do), then a description without audit (its line taken out)
    lam, iam, ddb = own.client("lambda"), own.client("iam"), own.client("dynamodb")
    function, users = own.names.audit, own.names.users
    with_view = tuple(dataclasses.replace(c, view=True) if c.module == "audit" else c for c in CONSUMERS)
    without = tuple(c for c in CONSUMERS if c.module != "audit")
    try:
        stack.converge(own.settings, consumers=with_view)
        # WHEN the bootstrap runs
        report = stack.converge(own.settings, consumers=without)
        # THEN it says the mapping is there, not described, and leaves it
        (row,) = [r for r in report.changed if r.kind == "mapping"]
        assert (row.name, row.action) == (f"{function} <- {users}", "not described"), report.changed
        assert row.detail.endswith(f": not described - no line of ddblab/stack/consumers.py makes {function}, and every "
                                   "record still reaches it; make bootstrap ARGS=--prune (removes the mapping, the "
                                   "function, its role and its view table), or put its line back"), row.detail
        assert [m["EventSourceArn"] for m in mappings_of(lam, function)] == [own.stream_arn]
        # AND doctor and status warn of it, with the same way out
        d = checks.Diagnosis(own)
        d.spec = describe(own.settings, consumers=without)
        (warned,) = [c for c in checks.mappings(d) if c.status != Status.PASS]
        assert (warned.name, warned.status) == (f"{function} <- {users}", Status.WARN)
        assert f"{warned.detail}; {warned.fix}" == row.detail
        # WHEN it runs with --prune
        report = stack.converge(own.settings, consumers=without, prune=True)
        # THEN the mapping, the function, the role and the view made for it are removed, the log group stays
        role = f"{function}-role"
        assert [(r.kind, r.name, r.action) for r in report.changed] == [
            ("mapping", f"{function} <- {users}", "removed"), ("function", function, "removed"),
            ("role policy", role, "removed"), ("role", role, "removed"), ("table", function, "removed")], report.changed
        assert report.changed[0].detail.endswith(f", not described; its log group /aws/lambda/{function}, if any, stays")
        assert mappings_of(lam, function) == []
        with pytest.raises(lam.exceptions.ResourceNotFoundException):
            lam.get_function(FunctionName=function)
        with pytest.raises(iam.exceptions.NoSuchEntityException):
            iam.get_role(RoleName=role)
        with pytest.raises(ddb.exceptions.ResourceNotFoundException):
            ddb.describe_table(TableName=function)
        assert [m["EventSourceArn"] for m in mappings_of(lam, own.names.replicate)] == [own.stream_arn]
        # AND the next bootstrap has nothing to say
        assert stack.converge(own.settings, consumers=without).changed == []
    finally:
        find(ddb.delete_table, "ResourceNotFoundException", TableName=function)


def test_bootstrap_prune_keeps_a_function_and_a_table_it_did_not_make(own):
    # GIVEN a function made by hand (as the tutorials do), with replicate's role, on the users
    # stream, and a table of its name keyed as a view is
    lam, ddb, function = own.client("lambda"), own.client("dynamodb"), f"{own.settings.prefix}by-hand"
    role = lam.get_function(FunctionName=own.names.replicate)["Configuration"]["Role"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("by_hand.py", "def handler(event, context):\n    return None\n")
    try:
        ddb.create_table(TableName=function, BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "email", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "email", "AttributeType": "S"}])
        lam.create_function(FunctionName=function, Runtime="python3.12", Role=role, Handler="by_hand.handler",
                            Code={"ZipFile": code.getvalue()})
        lam.get_waiter("function_active_v2").wait(FunctionName=function)
        lam.create_event_source_mapping(FunctionName=function, EventSourceArn=own.stream_arn,
                                        StartingPosition="TRIM_HORIZON", BatchSize=10)
        # WHEN the bootstrap runs, then with --prune
        said = stack.converge(own.settings).changed
        pruned = stack.converge(own.settings, prune=True).changed
        # THEN it says prune would keep the function, and does: only the mapping goes
        assert [(r.name, r.action) for r in said] == [(f"{function} <- {own.names.users}", "not described")], said
        assert said[0].detail.endswith("(removes the mapping; the function stays: bootstrap did not make it)")
        assert [(r.kind, r.name, r.action) for r in pruned] == [("mapping", f"{function} <- {own.names.users}", "removed")]
        assert pruned[0].detail.endswith(f", not described; the function {function} stays: bootstrap did not make it; "
                                         f"the table {function} stays: bootstrap did not make it as {function}'s view; "
                                         f"its log group /aws/lambda/{function}, if any, stays"), pruned[0].detail
        assert mappings_of(lam, function) == []
        assert lam.get_function(FunctionName=function)["Configuration"]["Role"] == role
        assert own.client("iam").get_role(RoleName=role.rsplit("/", 1)[1])["Role"]["Arn"] == role
        assert ddb.describe_table(TableName=function)["Table"]["TableName"] == function
    finally:
        find(lam.delete_function, "ResourceNotFoundException", FunctionName=function)
        find(ddb.delete_table, "ResourceNotFoundException", TableName=function)


def test_bootstrap_prune_with_nothing_to_prune_says_so(backend_settings, converged):
    out = cli_output(backend_settings, "bootstrap", "--prune")
    assert "converged       everything unchanged" in out
    assert out.splitlines()[-2] == ("prune: nothing to remove (no mapping on the users stream calls a function the "
                                    "stack does not describe)")


def test_bootstrap_duplicate_mapping_removed(own):
    # GIVEN, on a stack of its own (the shared one's audit lines are counted elsewhere), a second
    # audit mapping on the users stream: MiniStack creates the duplicate silently
    lam, function = own.client("lambda"), own.names.audit
    (original,) = mappings_of(lam, function)
    try:
        extra = lam.create_event_source_mapping(FunctionName=function, EventSourceArn=own.stream_arn,
                                                StartingPosition="TRIM_HORIZON", BatchSize=BATCH_SIZE)
        why, replaced = "duplicate", {original["UUID"], extra["UUID"]}
    except lam.exceptions.ResourceConflictException:
        # AWS and LocalStack refuse it: the removal is tested with a mapping the converge must
        # replace instead, one reading from LATEST (a starting position cannot be updated)
        lam.delete_event_source_mapping(UUID=original["UUID"])
        wait_for(lambda: not mappings_of(lam, function), f"{function}'s mapping deleted")
        extra = lam.create_event_source_mapping(FunctionName=function, EventSourceArn=own.stream_arn,
                                                StartingPosition="LATEST", BatchSize=BATCH_SIZE)
        why, replaced = "starting position LATEST", {extra["UUID"]}
    # WHEN the bootstrap runs
    report = stack.converge(own.settings)
    # THEN it removes that mapping and says so
    removed = [row for row in report.changed if row.action == "removed"]
    assert [(row.kind, row.detail.rsplit(" ", 1)[0]) for row in removed] == [("mapping", why)], report.changed
    gone = removed[0].detail.rsplit(" ", 1)[1]
    assert gone in replaced, (gone, replaced)
    # AND one mapping is left, on the stream, from the start of it, and it is not the removed one
    (left,) = mappings_of(lam, function)
    assert left["UUID"] != gone
    assert (left["EventSourceArn"], left["StartingPosition"], left["State"]) == (own.stream_arn, "TRIM_HORIZON", "Enabled")


def test_audit_logs_one_line_per_change(live, email):
    http("POST", live.api_url, {"email": email, "state": "Georgia", "city": "Atlanta", "zipcode": "30303"})
    http("PUT", f"{live.api_url}/{email}", {"email": email, "state": "Georgia", "city": "Savannah", "zipcode": "31401"})
    logs = live.client("logs")

    def audit_lines():
        events = log_events(logs, f"/aws/lambda/{live.names.audit}", 0, term=email)
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
    # THEN the target holds every attribute but zipcode, each with its type and value, plus the key
    expected = {"email": {"S": email}, "state": {"S": "Colorado"}, "city": {"S": "Denver"},
                "city_email": {"S": f"Denver#{email}"}, **extra}
    row = _one_row(live, email, city="Denver")
    assert _sets_sorted(row) == _sets_sorted(expected)


def _sets_sorted(item: dict) -> dict:
    """An item with its sets in order (DynamoDB keeps none), all else as it is: two such items
    are equal only when every attribute has the same type and value."""
    return {name: _value_sets_sorted(value) for name, value in item.items()}


def _value_sets_sorted(value: dict) -> dict:
    (kind, inner), = value.items()
    if kind in ("SS", "NS", "BS"):
        return {kind: sorted(inner)}
    if kind == "M":
        return {kind: _sets_sorted(inner)}
    if kind == "L":
        return {kind: [_value_sets_sorted(v) for v in inner]}
    return value
