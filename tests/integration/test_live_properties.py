"""The fold's properties, on the live pipeline: whatever sequence of inserts, updates,
moves, deletes and re-inserts reaches `users` - items of every DynamoDB type, some of them
unplaceable - users_by_location ends as the projection of users: no drift."""
from __future__ import annotations

import uuid

import projection
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from ddblab import stack
from ddblab.core.waiting import WaitTimeout, wait_for
from ddblab.data import reconciliation
from ddblab.events import user_image
from ddblab.stack.model import Names
from tests.strategies import EMAILS, streams


@pytest.fixture(scope="module")
def own_stack(backend_settings):
    settings = backend_settings.sub(f"prop{uuid.uuid4().hex[:4]}-")
    stack.converge(settings)
    yield settings
    stack.remove(settings)


# No shrinking: every example costs a round trip through the emulator, and a failure
# already names the drift it found.
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck),
          phases=[Phase.explicit, Phase.reuse, Phase.generate], database=None)
@given(data=st.data())
def test_live_pipeline_any_sequence_of_changes_ends_without_drift(own_stack, data):
    # GIVEN users of this example's own (so examples do not share keys)
    tag = uuid.uuid4().hex[:6]
    records, final = data.draw(streams(emails=tuple(f"{tag}-{e}" for e in EMAILS)))
    ddb = own_stack.client("dynamodb")
    users, target = Names(own_stack.prefix).users, Names(own_stack.prefix).target
    # WHEN the records' changes are made to the users table, in order
    for record in records:
        change = record["dynamodb"]
        if record["eventName"] == "REMOVE":
            ddb.delete_item(TableName=users, Key=change["Keys"])
        else:
            ddb.put_item(TableName=users, Item=projection.item_to_client_form(change["NewImage"]))
    # AND a marker user last: records reach replicate in order (one shard), so once the marker is
    # in the target every change before it has been applied - the target is compared then, not at
    # the first moment it happens to match (insert, move, move back would match before the end)
    marker = user_image(f"{tag}-zz-marker@example.com", "NY", "Brooklyn")
    ddb.put_item(TableName=users, Item=marker)
    final[marker["email"]["S"]] = marker
    marker_key = {"state": {"S": "NY"}, "city_email": {"S": f"Brooklyn#{marker['email']['S']}"}}
    wait_for(lambda: "Item" in ddb.get_item(TableName=target, Key=marker_key, ConsistentRead=True),
             f"the end marker of {len(records)} changes in {target}", timeout=30)
    # THEN the target is the projection of the users table, exactly (the marker's batch may
    # still be writing the keys it folded, hence a short wait)
    try:
        wait_for(lambda: reconciliation.compare(ddb, users, target).total == 0, f"no drift after {len(records)} changes",
                 timeout=5, interval=0.1)
    except WaitTimeout:
        pytest.fail(reconciliation.describe(reconciliation.compare(ddb, users, target)))
    # AND, worked out here without the projection code: this example's rows are keyed exactly
    # (state, "<city>#<email>") for each final user that has a place, and none holds zipcode
    rows = [row for page in ddb.get_paginator("scan").paginate(TableName=target, ConsistentRead=True)
            for row in page["Items"] if tag in row["city_email"]["S"] or tag in row.get("email", {}).get("S", "")]
    expected = {place for image in final.values() if (place := _place(image))}
    assert {(row["state"]["S"], row["city_email"]["S"]) for row in rows} == expected
    assert [row for row in rows if "zipcode" in row] == []


def _place(image: dict) -> tuple | None:
    """Where a user belongs, by the rule as DESIGN.md states it: state and city strings, not
    blank, the city without the key separator; None for a user that has no place."""
    state, city = image.get("state", {}), image.get("city", {})
    if set(state) != {"S"} or set(city) != {"S"} or not state["S"].strip() or not city["S"].strip():
        return None
    if "#" in city["S"]:
        return None
    return state["S"], f"{city['S']}#{image['email']['S']}"
