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
from ddblab.data import reconcile
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
    records, _ = data.draw(streams(emails=tuple(f"{tag}-{e}" for e in EMAILS)))
    ddb = own_stack.client("dynamodb")
    users, target = Names(own_stack.prefix).users, Names(own_stack.prefix).target
    # WHEN the records' changes are made to the users table, in order
    for record in records:
        change = record["dynamodb"]
        if record["eventName"] == "REMOVE":
            ddb.delete_item(TableName=users, Key=change["Keys"])
        else:
            ddb.put_item(TableName=users, Item=projection.item_to_client_form(change["NewImage"]))
    # THEN the target reaches the projection of the users table, exactly
    try:
        wait_for(lambda: reconcile.compare(ddb, users, target).total == 0, f"no drift after {len(records)} changes",
                 timeout=15, interval=0.1)
    except WaitTimeout:
        pytest.fail(reconcile.describe(reconcile.compare(ddb, users, target)))
