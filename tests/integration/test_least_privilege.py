"""The IAM policies the bootstrap writes are enough, and each grant is needed: proven on a
MiniStack of this module's own with AUTH=true, which enforces IAM on function credentials
(LocalStack's community edition does not enforce IAM)."""
from __future__ import annotations

import json
import time
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

from ddblab import stack
from ddblab.core.settings import Settings
from ddblab.core.waiting import wait_for
from ddblab.emulator.health import free_port
from ddblab.emulator.ministack import MiniStack
from ddblab.stack.describe import describe
from ddblab.stack.model import Names
from tests.integration.helpers import http, user_item


@pytest.fixture(scope="module")
def enforced(tmp_path_factory):
    port = free_port()
    settings = Settings.from_env(endpoint_url=f"http://127.0.0.1:{port}", run_dir=tmp_path_factory.mktemp("auth"),
                                 prefix="")
    ministack = MiniStack(settings, port=port, tag="ministack-auth", env={"AUTH": "true"})
    ministack.start()
    try:
        yield settings, stack.converge(settings)
    finally:
        ministack.stop()


def _row(settings, email, city="Akron"):
    item = settings.client("dynamodb").get_item(
        TableName=Names(settings.prefix).target, Key={"state": {"S": "Ohio"}, "city_email": {"S": f"{city}#{email}"}})
    return item.get("Item")


def test_least_privilege_whole_pipeline_works_under_iam_enforcement(enforced):
    settings, report = enforced
    email = f"lp-{uuid.uuid4().hex[:8]}@example.com"
    # WHEN a user is posted (users_api: PutItem) and a poison item written (replicate: SendMessage)
    user = {"email": email, "state": "Ohio", "city": "Akron", "zipcode": "44301"}
    assert http("POST", report.outputs["api_url"], user)[0] == 201
    settings.client("dynamodb").put_item(TableName=Names(settings.prefix).users, Item={"email": {"S": "p-" + email}})
    # THEN replicate could write the target (BatchWriteItem) and quarantine (SendMessage)
    wait_for(lambda: _row(settings, email), f"{email} replicated under IAM enforcement", timeout=30)
    sqs = settings.client("sqs")
    wait_for(lambda: sqs.receive_message(QueueUrl=report.outputs["quarantine_queue"], WaitTimeSeconds=1).get("Messages"),
             "the poison item quarantined under IAM enforcement", timeout=30)
    # AND users_api could read and delete its own table (GetItem, DeleteItem)
    assert http("GET", f"{report.outputs['api_url']}/{email}")[0] == 200
    assert http("DELETE", f"{report.outputs['api_url']}/{email}")[0] == 204


def test_least_privilege_replicate_without_batchwrite_denied_then_caught_up(enforced):
    settings, _ = enforced
    iam, logs = settings.client("iam"), settings.client("logs")
    spec = next(f for f in describe(settings).functions if f.module == "replicate")
    role = f"{spec.name}-role"
    # GIVEN replicate's policy without its one write permission
    statements = [s for s in spec.policy if "dynamodb:BatchWriteItem" not in s["Action"]]
    iam.put_role_policy(RoleName=role, PolicyName="least-privilege",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    email = f"deny-{uuid.uuid4().hex[:8]}@example.com"
    users = Names(settings.prefix).users
    settings.client("dynamodb").put_item(TableName=users, Item=user_item(email, state="Ohio", city="Akron"))

    # THEN the write is denied (the grant is needed), the function raises, nothing is lost
    def denied():
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{spec.name}", filterPattern="replicate_failed")["events"]
        return [e for e in events if "AccessDeniedException" in e["message"]]
    wait_for(denied, "replicate's write denied without dynamodb:BatchWriteItem", timeout=60)
    assert _row(settings, email) is None
    # WHEN the bootstrap restores the policy, THEN it says so and the held-up record arrives
    report = stack.converge(settings)
    assert ("role", role, "updated", "") in report.rows
    wait_for(lambda: _row(settings, email), f"{email} replicated once the policy is back", timeout=60)


def test_least_privilege_replicate_cannot_write_audits_log_group(enforced):
    # GIVEN replicate's credentials as MiniStack gives them to the function under AUTH=true: a
    # session of its execution role (ministack/core/lambda_runtime.py, execution_credentials)
    settings, _ = enforced
    functions = {f.module: f for f in describe(settings).functions}
    replicate, audit = functions["replicate"], functions["audit"]
    role_arn = settings.client("iam").get_role(RoleName=f"{replicate.name}-role")["Role"]["Arn"]
    session = settings.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=replicate.name)["Credentials"]
    logs = boto3.client("logs", endpoint_url=settings.endpoint_url, region_name=settings.region,
                        aws_access_key_id=session["AccessKeyId"], aws_secret_access_key=session["SecretAccessKey"],
                        aws_session_token=session["SessionToken"])
    admin = settings.client("logs")
    for group in (replicate.log_group, audit.log_group):  # there already once the functions have run
        if not admin.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
            admin.create_log_group(logGroupName=group)
    stream = f"forged-{uuid.uuid4().hex[:8]}"
    line = [{"timestamp": int(time.time() * 1000), "message": '{"audit": "REMOVE", "keys": {"email": "ceo@example.com"}}'}]
    # WHEN it writes to its own log group, THEN that is allowed
    logs.create_log_stream(logGroupName=replicate.log_group, logStreamName=stream)
    logs.put_log_events(logGroupName=replicate.log_group, logStreamName=stream, logEvents=line)
    # AND a forged line in audit's log group is denied (MiniStack authorizes logs actions on the
    # log group's ARN: ministack/core/iam_actions.py)
    admin.create_log_stream(logGroupName=audit.log_group, logStreamName=stream)
    for call, kwargs in ((logs.create_log_stream, {}), (logs.put_log_events, {"logEvents": line})):
        with pytest.raises(ClientError) as denied:
            call(logGroupName=audit.log_group, logStreamName=stream, **kwargs)
        assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
