"""make reconcile: finds missing, extra and different items, and --fix repairs them."""
from __future__ import annotations

import uuid

from ddblab import stack
from ddblab.core.waiting import wait_for
from ddblab.data import reconciliation
from ddblab.stack.model import Names
from tests.integration.helpers import cli, user_item


def test_reconcile_drift_found_and_fixed_including_backfill(backend_settings):
    # GIVEN a stack of its own whose target drifted: a row lost, a row changed, a row extra
    settings = backend_settings.sub(f"rec{uuid.uuid4().hex[:4]}-")
    stack.converge(settings)
    try:
        ddb = settings.client("dynamodb")
        users_table, target = Names(settings.prefix).users, Names(settings.prefix).target
        emails = [f"r{i}-{uuid.uuid4().hex[:6]}@example.com" for i in range(30)]
        for email in emails:
            ddb.put_item(TableName=users_table, Item=user_item(email, state="Ohio", city="Akron"))
        wait_for(lambda: reconciliation.compare(ddb, users_table, target).target_items == 30, "30 replicated rows", timeout=30)
        key = lambda e: {"state": {"S": "Ohio"}, "city_email": {"S": f"Akron#{e}"}}  # noqa: E731 - a one-line helper, local to where it is used
        ddb.delete_item(TableName=target, Key=key(emails[0]))
        ddb.update_item(TableName=target, Key=key(emails[1]), UpdateExpression="SET active = :f",
                        ExpressionAttributeValues={":f": {"BOOL": False}})
        ddb.put_item(TableName=target, Item={**key("ghost@example.com"), "email": {"S": "ghost@example.com"}})
        # WHEN reconcile compares
        drift = reconciliation.compare(ddb, users_table, target)
        # THEN it names each kind of drift
        assert [i["email"]["S"] for i in drift.missing] == [emails[0]]
        assert [w["email"]["S"] for w, _ in drift.different] == [emails[1]]
        assert [i["email"]["S"] for i in drift.extra] == ["ghost@example.com"]
        report = reconciliation.describe(drift)
        assert "different: Ohio / Akron#" in report and "active should be True" in report
        # AND --fix repairs it
        assert reconciliation.repair(ddb, target, drift).written == 3
        assert reconciliation.compare(ddb, users_table, target).total == 0

        # GIVEN a target emptied (as if created after the users were written)
        for email in emails:
            ddb.delete_item(TableName=target, Key=key(email))
        drift = reconciliation.compare(ddb, users_table, target)
        assert len(drift.missing) == 30 and drift.target_items == 0
        # WHEN fixed, THEN it is backfilled
        reconciliation.repair(ddb, target, drift)
        after = reconciliation.compare(ddb, users_table, target)
        assert after.total == 0 and after.target_items == 30
    finally:
        stack.remove(settings)


def test_reconcile_command_exit_code_on_drift_and_fix_repairs(own):
    # GIVEN a stack of its own whose target drifted: a row lost, a row changed, a row extra
    emails = [f"c{i}-{uuid.uuid4().hex[:6]}@example.com" for i in range(3)]
    for email in emails:
        own.dynamodb.put_item(TableName=own.names.users, Item=user_item(email, state="Ohio", city="Kent"))
    wait_for(lambda: reconciliation.compare(own.dynamodb, own.names.users, own.names.target).target_items == 3,
             "3 replicated rows", timeout=30)
    key = lambda e: {"state": {"S": "Ohio"}, "city_email": {"S": f"Kent#{e}"}}  # noqa: E731 - a one-line helper, local to where it is used
    own.dynamodb.delete_item(TableName=own.names.target, Key=key(emails[0]))
    own.dynamodb.update_item(TableName=own.names.target, Key=key(emails[1]), UpdateExpression="SET active = :f",
                             ExpressionAttributeValues={":f": {"BOOL": False}})
    own.dynamodb.put_item(TableName=own.names.target, Item={**key("ghost@example.com"), "email": {"S": "ghost@example.com"}})
    # WHEN make reconcile runs THEN it names the drift, says how to repair it, and exits 1
    found = cli(own.settings, "reconcile")
    assert found.returncode == 1, found.stderr
    assert "drift: 3 (missing 1, extra 1, different 1)" in found.stdout, found.stdout
    assert "make reconcile ARGS=--fix" in found.stdout
    # WHEN make reconcile ARGS=--fix runs THEN it writes the 3 repairs, says the drift is now 0, exits 0
    fixed = cli(own.settings, "reconcile", "--fix")
    assert fixed.returncode == 0, fixed.stderr
    assert "fixed: 3 writes" in fixed.stdout and "drift now 0" in fixed.stdout, fixed.stdout
    # AND the target is in step: make reconcile finds nothing now, and exits 0
    assert reconciliation.compare(own.dynamodb, own.names.users, own.names.target).total == 0
    again = cli(own.settings, "reconcile")
    assert again.returncode == 0, again.stderr
    assert "drift: 0 " in again.stdout and "ARGS=--fix" not in again.stdout, again.stdout
