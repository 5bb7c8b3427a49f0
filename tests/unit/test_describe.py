"""The stack description: names from the prefix, ARNs from the backend's account."""
from __future__ import annotations

import json

from ddblab.core.settings import Settings
from ddblab.stack.describe import describe
from ddblab.stack.model import Account, Names


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
    stack = describe(Settings(prefix="dev1-"), Account("aws", "us-east-1", "123456789012"))
    names = Names("dev1-")
    assert [t.name for t in stack.tables] == [names.users, names.target]
    assert {f.name for f in stack.functions} == set(names.functions)
    assert all(f.role == f"{f.name}-role" and f.log_group == f"/aws/lambda/{f.name}" for f in stack.functions)
    assert stack.queues == (names.quarantine, names.dlq) and stack.api.name == names.api
    assert all(name.startswith("dev1-") for name in (*names.functions, *names.queues, names.users, names.target))


def test_describe_each_function_writes_only_its_own_log_group():
    stack = describe(Settings(), Account("aws", "us-east-1", "123456789012"))
    for fn in stack.functions:
        logs = [s for s in fn.policy if any(a.startswith("logs:") for a in s["Action"])]
        assert len(logs) == 1
        assert all(f":log-group:{fn.log_group}" in r for r in logs[0]["Resource"]), logs
