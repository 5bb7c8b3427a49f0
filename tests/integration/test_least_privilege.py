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
from ddblab.core.aws import log_events
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


def _as_role(settings, spec, service: str):
    """A client with a session of the function's execution role: the credentials MiniStack gives the
    function under AUTH=true (ministack/core/lambda_runtime.py, execution_credentials), and those AWS's
    Lambda service uses to read the stream, write the log and send to the on-failure queue."""
    role_arn = settings.client("iam").get_role(RoleName=spec.role)["Role"]["Arn"]
    session = settings.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=spec.name)["Credentials"]
    return boto3.client(service, endpoint_url=settings.endpoint_url, region_name=settings.region,
                        aws_access_key_id=session["AccessKeyId"], aws_secret_access_key=session["SecretAccessKey"],
                        aws_session_token=session["SessionToken"])


def _write_own_log(settings, spec) -> None:
    admin, logs = settings.client("logs"), _as_role(settings, spec, "logs")
    if not admin.describe_log_groups(logGroupNamePrefix=spec.log_group)["logGroups"]:
        admin.create_log_group(logGroupName=spec.log_group)
    stream = f"grant-{uuid.uuid4().hex[:8]}"
    logs.create_log_stream(logGroupName=spec.log_group, logStreamName=stream)
    logs.put_log_events(logGroupName=spec.log_group, logStreamName=stream,
                        logEvents=[{"timestamp": int(time.time() * 1000), "message": "grant check"}])


def _send_to_dlq(settings, spec) -> None:
    sqs = settings.client("sqs")
    url = sqs.get_queue_url(QueueName=Names(settings.prefix).dlq)["QueueUrl"]
    _as_role(settings, spec, "sqs").send_message(QueueUrl=url, MessageBody='{"grant": "check"}')
    sqs.purge_queue(QueueUrl=url)


def test_least_privilege_audit_logs_a_change_under_iam_enforcement(enforced):
    settings, _ = enforced
    audit = next(f for f in describe(settings).functions if f.module == "audit")
    email = f"au-{uuid.uuid4().hex[:8]}@example.com"
    # WHEN a user is written
    settings.client("dynamodb").put_item(TableName=Names(settings.prefix).users, Item=user_item(email))
    # THEN audit ran under IAM enforcement and logged the change
    logs = settings.client("logs")

    def logged():  # every page of the group; the deadline of the module's other waits (a loaded machine)
        return [e for e in log_events(logs, audit.log_group, 0)
                if email in e["message"] and '"audit": "INSERT"' in e["message"]]
    wait_for(logged, f"audit's log line for {email} under IAM enforcement", timeout=60)


# audit's grants, each used as AWS's Lambda service uses it. MiniStack's own poller reads the
# stream, writes the function's log and sends to the on-failure queue without the role
# (ministack/services/lambda_svc.py: _poll_dynamodb_streams, _emit_lambda_logs,
# _send_ddb_stream_failure_record), so only a session of the role shows whether the policy grants
# them; MiniStack's IAM evaluator enforces logs actions on the log group's ARN and sqs on the
# queue's (ministack/core/iam_actions.py). The stream read grant cannot be checked this way:
# MiniStack authorizes DescribeStream/GetRecords on "*" (dynamodb_resource_arns finds no
# TableName in a streams request), so a grant on the stream's ARN, as AWS wants it, is denied.
AUDIT_GRANTS = {"logs:PutLogEvents": _write_own_log, "sqs:SendMessage": _send_to_dlq}


@pytest.mark.parametrize("action", sorted(AUDIT_GRANTS))
def test_least_privilege_audit_grant_removed_denied_then_restored_by_converge(enforced, action):
    settings, _ = enforced
    audit = next(f for f in describe(settings).functions if f.module == "audit")
    use = AUDIT_GRANTS[action]
    use(settings, audit)  # GIVEN audit's role can do it with the policy the bootstrap writes
    # WHEN the statement that grants it is removed
    statements = [s for s in audit.policy if action not in s["Action"]]
    assert len(statements) == len(audit.policy) - 1
    settings.client("iam").put_role_policy(RoleName=audit.role, PolicyName=Names.POLICY,
                                           PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    # THEN it is denied (the grant is needed)
    with pytest.raises(ClientError) as denied:
        use(settings, audit)
    assert denied.value.response["Error"]["Code"] in ("AccessDeniedException", "AccessDenied"), denied.value.response
    # WHEN the bootstrap runs, THEN it restores the policy and the role can again
    report = stack.converge(settings)
    assert ("role", audit.role, "updated", "") in report.rows
    use(settings, audit)


def test_least_privilege_failing_batch_reaches_dead_letter_queue_under_iam_enforcement(enforced):
    # GIVEN a stack of its own on the enforcing MiniStack whose replicate fails every batch (its
    # endpoint is a port nothing listens on) and a mapping that gives up after 5 s
    settings = enforced[0].sub(f"d{uuid.uuid4().hex[:5]}-")
    try:
        report = stack.converge(settings, replicate_env={
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}", "WRITE_ATTEMPTS": "1"}, max_record_age=5)
        email = f"dl-{uuid.uuid4().hex[:8]}@example.com"
        # WHEN a user is written
        settings.client("dynamodb").put_item(TableName=Names(settings.prefix).users, Item=user_item(email))
        # THEN the failed batch reaches the dead-letter queue under IAM enforcement. (Whether it
        # would without the role's sqs:SendMessage cannot be shown here: MiniStack's mapping puts
        # the message on the queue itself, not with the role - see AUDIT_GRANTS above, where the
        # grant is checked with the role's session.)
        sqs = settings.client("sqs")
        replicate = f":function:{Names(settings.prefix).replicate}"

        def dead_lettered():
            messages = sqs.receive_message(QueueUrl=report.outputs["dlq"], MaxNumberOfMessages=10,
                                           WaitTimeSeconds=1).get("Messages", [])
            bodies = [json.loads(m["Body"]) for m in messages]
            return [b for b in bodies if b["requestContext"]["functionArn"].endswith(replicate)]
        letters = wait_for(dead_lettered, "replicate's failed batch in the dead-letter queue", timeout=60)
        assert letters[0]["requestContext"]["condition"] == "MaxRecordAgeExceeded"
        assert letters[0]["DDBStreamBatchInfo"]["streamArn"] == report.outputs["stream"]
    finally:
        stack.remove(settings)
