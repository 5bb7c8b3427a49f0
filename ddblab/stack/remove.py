"""Delete everything a stack description names (the test, bench and drill stacks), log
groups included; what is already gone is skipped. remove_function is also how make bootstrap
ARGS=--prune removes a consumer taken out of the description."""
from __future__ import annotations

from botocore.exceptions import ClientError

from ddblab.core.aws import error_code, find, mappings_of, queue_url, rest_api_ids
from ddblab.core.settings import Settings
from ddblab.core.waiting import wait_for
from ddblab.stack.describe import describe
from ddblab.stack.model import VIEW_TAG, Names
from ddblab.stack.report import Report


def gone(report: Report, kind: str, name: str, call, *missing: str, **kwargs) -> bool:
    """call(**kwargs) deletes one resource: reported removed if it was there (False if not)."""
    if find(call, *missing, **kwargs) is None:
        return False
    report.add(kind, name, "removed")
    return True


def deleted(delete, look, what: str, **key) -> bool:
    """delete(**key), then wait until look(**key) no longer finds it; False if it was gone already."""
    if find(delete, "ResourceNotFoundException", **key) is None:
        return False
    wait_for(lambda: find(look, "ResourceNotFoundException", **key) is None, f"{what} to be deleted", timeout=60)
    return True


def delete_mapping(lam, uuid: str, function: str) -> bool:
    """Delete a mapping and wait until it is gone (LocalStack lists a deleted mapping until its
    poller stops)."""
    return deleted(lam.delete_event_source_mapping, lam.get_event_source_mapping, f"mapping {uuid} ({function})", UUID=uuid)


def delete_table(ddb, name: str) -> bool:
    """Delete a table and wait until it is gone (so it can be made again)."""
    return deleted(ddb.delete_table, ddb.describe_table, f"table {name}", TableName=name)


def tagged_view(ddb, table: dict) -> bool:
    """Whether bootstrap created this table (a DescribeTable answer's Table) as a consumer's
    view: the VIEW_TAG it creates views with, naming the table. A table it did not tag (made by
    hand, taken over, or made before views were tagged) is never deleted as a view."""
    tags = find(ddb.list_tags_of_resource, "ResourceNotFoundException", ResourceArn=table["TableArn"]) or {}
    return {"Key": VIEW_TAG, "Value": table["TableName"]} in tags.get("Tags", [])


def remove_function(report: Report, lam, iam, logs, name: str, role: str | None, log_group: str | None) -> None:
    """Delete a function, then, when given, the role bootstrap made for it (with the stack's
    inline policy) and its log group. A role that holds policies of someone else's is kept, and
    said so, rather than half deleted."""
    gone(report, "function", name, lam.delete_function, "ResourceNotFoundException", FunctionName=name)
    if role:
        gone(report, "role policy", role, iam.delete_role_policy, "NoSuchEntity", RoleName=role, PolicyName=Names.POLICY)
        try:
            gone(report, "role", role, iam.delete_role, "NoSuchEntity", RoleName=role)
        except ClientError as error:
            if error_code(error) != "DeleteConflict":
                raise
            report.add("role", role, "kept", "it holds policies bootstrap did not put there")
    if log_group:
        gone(report, "log group", log_group, logs.delete_log_group, "ResourceNotFoundException", logGroupName=log_group)


def remove(settings: Settings) -> Report:
    spec = describe(settings)
    report = Report()
    client = settings.client
    lam, ddb, sqs, iam, apigw, logs = (client(s) for s in ("lambda", "dynamodb", "sqs", "iam", "apigateway", "logs"))
    for api_id in rest_api_ids(apigw, spec.api.name):
        gone(report, "api", spec.api.name, apigw.delete_rest_api, "NotFoundException", restApiId=api_id)
    for fn in spec.functions:
        for m in find(mappings_of, "ResourceNotFoundException", lam=lam, function=fn.name) or []:
            gone(report, "mapping", m["UUID"], lam.delete_event_source_mapping, "ResourceNotFoundException", UUID=m["UUID"])
        remove_function(report, lam, iam, logs, fn.name, fn.role, fn.log_group)
    for table in spec.tables:
        gone(report, "table", table.name, ddb.delete_table, "ResourceNotFoundException", TableName=table.name)
    for queue in spec.queues:
        url = queue_url(sqs, queue)
        if url:
            gone(report, "queue", queue, sqs.delete_queue, "AWS.SimpleQueueService.NonExistentQueue", QueueUrl=url)
    return report
