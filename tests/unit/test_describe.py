"""The stack description: names from the prefix, ARNs from the backend's account."""
from __future__ import annotations

import json

import pytest

from ddblab.core.settings import Settings, UserError
from ddblab.stack.describe import describe
from ddblab.stack.model import Account, Consumer, Names
from tests.builtin import ADDED, BUILT_IN


def test_describe_arns_use_the_accounts_partition_region_and_id():
    # GIVEN an account that is not an emulator's default, in another partition
    account = Account("aws-cn", "cn-north-1", "123456789012")
    stack = describe(Settings(region="cn-north-1", prefix="dev1-"), account)
    # THEN every ARN in every policy is in that partition, region and account
    arns = [r for fn in stack.functions for statement in fn.policy
            for r in ([statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"])]
    assert arns and all(a.startswith("arn:aws-cn:") and ":cn-north-1:123456789012:" in a for a in arns), arns
    assert "000000000000" not in json.dumps([fn.policy for fn in stack.functions])
    assert stack.integration_uri("arn:fn").startswith("arn:aws-cn:apigateway:cn-north-1:lambda:path/")


def test_describe_names_all_derive_from_the_prefix():
    stack = describe(Settings(prefix="dev1-"), Account("aws", "us-east-1", "123456789012"), consumers=BUILT_IN)
    names = Names("dev1-")
    assert [t.name for t in stack.tables] == [names.users, names.target]
    assert [f.name for f in stack.functions] == ["dev1-users_api", "dev1-replicate", "dev1-audit"]
    assert all(f.role == f"{f.name}-role" and f.log_group == f"/aws/lambda/{f.name}" for f in stack.functions)
    assert stack.queues == (names.quarantine, names.dlq) and stack.api.name == names.api
    assert [m.function for m in stack.mappings] == ["dev1-replicate", "dev1-audit"]
    assert all(name.startswith("dev1-") for name in (*names.queues, names.users, names.target))


def test_describe_by_default_is_the_built_in_stack_and_one_function_per_added_line():
    # GIVEN consumers.py as it stands (the built-in lines, and any a user added with make consumer)
    stack = describe(Settings(prefix="dev1-"), Account("aws", "us-east-1", "123456789012"))
    added = [f"dev1-{c.module}" for c in ADDED]
    # THEN the built-in functions and mappings come first, as designed, then one per added line
    assert [f.name for f in stack.functions] == ["dev1-users_api", "dev1-replicate", "dev1-audit", *added]
    assert [m.function for m in stack.mappings] == ["dev1-replicate", "dev1-audit", *added]
    assert [t.name for t in stack.tables] == ["dev1-users", "dev1-users_by_location",
                                              *(f"dev1-{c.module}" for c in ADDED if c.view)]


def test_describe_a_consumer_line_gives_its_function_mapping_and_table():
    # GIVEN the stack description with one more consumer line, keeping a view queried by state
    account = Account("aws", "us-east-1", "123456789012")
    stack = describe(Settings(prefix="dev1-"), account, consumers=BUILT_IN + (Consumer("state_counts", index="state"),))
    # THEN it has a function, a mapping on the users stream and a table of its own
    fn = stack.function("dev1-state_counts")
    assert fn.handler == "state_counts.handler" and fn.env == {"VIEW_TABLE": "dev1-state_counts"}
    assert [m.table for m in stack.mappings if m.function == "dev1-state_counts"] == ["dev1-users"]
    table = stack.table("dev1-state_counts")
    assert table.key == (("email", "HASH"),) and [(i.name, i.key) for i in table.indexes] == [
        ("by_state", (("state", "HASH"), ("email", "RANGE")))]
    # AND it may write its own table only (PutItem), read the stream and send to the dead-letter queue
    grants = {(a, r) for s in fn.policy for a in s["Action"] for r in ([s["Resource"]] if isinstance(s["Resource"], str)
                                                                        else s["Resource"]) if a.startswith("dynamodb:Put")}
    assert grants == {("dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:123456789012:table/dev1-state_counts")}
    assert stack.consumer("dev1-state_counts").recovery == "replay only" and stack.consumer("state_counts") is None
    assert stack.consumer("dev1-replicate").recovery == "recompute"


def test_describe_mapping_failure_settings_come_from_the_settings():
    stack = describe(Settings(max_record_age=60, max_retries=2), Account("aws", "us-east-1", "123456789012"))
    assert {(m.max_record_age, m.max_retries) for m in stack.mappings} == {(60, 2)}


def test_describe_each_function_writes_only_its_own_log_group():
    stack = describe(Settings(), Account("aws", "us-east-1", "123456789012"))
    for fn in stack.functions:
        logs = [s for s in fn.policy if any(a.startswith("logs:") for a in s["Action"])]
        assert len(logs) == 1
        assert all(f":log-group:{fn.log_group}" in r for r in logs[0]["Resource"]), logs


def test_settings_read_the_mappings_failure_settings(monkeypatch):
    monkeypatch.setenv("MAX_RECORD_AGE", "60")
    monkeypatch.setenv("MAX_RETRIES", "-1")
    settings = Settings.from_env()
    assert (settings.max_record_age, settings.max_retries) == (60, -1)
    monkeypatch.delenv("MAX_RECORD_AGE")
    monkeypatch.delenv("MAX_RETRIES")
    assert (Settings.from_env().max_record_age, Settings.from_env().max_retries) == (3600, 10)


@pytest.mark.parametrize("name, value", [("MAX_RECORD_AGE", "0"), ("MAX_RECORD_AGE", "1h"), ("MAX_RETRIES", "10001"),
                                         ("MAX_RETRIES", "-2")])
def test_settings_refuse_a_failure_setting_out_of_range_in_one_line(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(UserError) as refused:
        Settings.from_env()
    assert f"{name}={value!r}: give a whole number from" in str(refused.value)


def test_settings_parallelization_factor_reaches_every_mapping(monkeypatch):
    # GIVEN PARALLELIZATION_FACTOR=4 in the environment, WHEN the stack is described
    monkeypatch.setenv("PARALLELIZATION_FACTOR", "4")
    stack = describe(Settings.from_env(), Account("aws", "us-east-1", "123456789012"))
    # THEN each mapping runs 4 batches of a shard at once; unset, one (AWS's default)
    assert [m.parallelization_factor for m in stack.mappings] == [4] * len(stack.mappings)
    monkeypatch.delenv("PARALLELIZATION_FACTOR")
    assert Settings.from_env().parallelization_factor == 1


@pytest.mark.parametrize("value", ["0", "11", "-1", "two", "1.5"])
def test_settings_refuse_a_parallelization_factor_out_of_range_in_one_line(monkeypatch, value):
    monkeypatch.setenv("PARALLELIZATION_FACTOR", value)
    with pytest.raises(UserError) as refused:
        Settings.from_env()
    assert str(refused.value) == f"PARALLELIZATION_FACTOR={value!r}: give a whole number from 1 to 10 (what AWS accepts)"
