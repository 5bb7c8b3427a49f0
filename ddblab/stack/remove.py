"""Delete everything a stack description names (the test, bench and drill stacks), log
groups included; what is already gone is skipped."""
from __future__ import annotations

from ddblab.core.aws import find, mappings_of, queue_url, rest_api_ids
from ddblab.core.settings import Settings
from ddblab.stack.describe import describe
from ddblab.stack.model import Names
from ddblab.stack.report import Report


def remove(settings: Settings) -> Report:
    spec = describe(settings)
    report = Report()
    client = settings.client
    lam, ddb, sqs, iam, apigw, logs = (client(s) for s in ("lambda", "dynamodb", "sqs", "iam", "apigateway", "logs"))

    def gone(kind: str, name: str, call, *missing: str, **kwargs) -> None:
        if find(call, *missing, **kwargs) is not None:
            report.add(kind, name, "removed")

    for api_id in rest_api_ids(apigw, spec.api.name):
        gone("api", spec.api.name, apigw.delete_rest_api, "NotFoundException", restApiId=api_id)
    for fn in spec.functions:
        mappings = find(mappings_of, "ResourceNotFoundException", lam=lam, function=fn.name) or []
        for m in mappings:
            gone("mapping", m["UUID"], lam.delete_event_source_mapping, "ResourceNotFoundException", UUID=m["UUID"])
        gone("function", fn.name, lam.delete_function, "ResourceNotFoundException", FunctionName=fn.name)
        gone("role policy", fn.role, iam.delete_role_policy, "NoSuchEntity", RoleName=fn.role, PolicyName=Names.POLICY)
        gone("role", fn.role, iam.delete_role, "NoSuchEntity", RoleName=fn.role)
        gone("log group", fn.log_group, logs.delete_log_group, "ResourceNotFoundException", logGroupName=fn.log_group)
    for table in spec.tables:
        gone("table", table.name, ddb.delete_table, "ResourceNotFoundException", TableName=table.name)
    for queue in spec.queues:
        url = queue_url(sqs, queue)
        if url:
            gone("queue", queue, sqs.delete_queue, "AWS.SimpleQueueService.NonExistentQueue", QueueUrl=url)
    return report
