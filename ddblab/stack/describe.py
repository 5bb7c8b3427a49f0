"""The whole stack, declared once as data: what `converge` makes a backend hold, what the
tools and the CloudFormation template read their names from. ARNs use the backend's
account (asked once with STS when none is given)."""
from __future__ import annotations

from ddblab.core.settings import Settings
from ddblab.stack.code import handler_module
from ddblab.stack.model import Account, Api, Function, Index, Mapping, Names, QueueUrl, Stack, Table

projection = handler_module("projection")  # the key names and separator the handlers use

CITY_INDEX = projection.CITY_INDEX
USERS_KEY = (("email", "HASH"),)
TARGET_KEY = ((projection.PARTITION_KEY, "HASH"), (projection.SORT_KEY, "RANGE"))
# Records per stream batch. Every invocation has a fixed cost (on MiniStack: the event
# serialised to the worker, its output drained, on the one poller thread every mapping
# shares), so fewer, larger batches replicate faster: 1000 instead of 100 measured 1.2-1.5x
# the throughput with the same put->visible latency. 1000 is the most one GetRecords call
# returns; AWS and LocalStack accept up to 10000.
BATCH_SIZE = 1000
STREAM_READ = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
               "dynamodb:ListStreams"]


def describe(settings: Settings, account: Account | None = None, replicate_env: dict | None = None,
             max_record_age: int = 3600, max_retries: int = 10) -> Stack:
    """The stack for these settings. account: where ARNs point (by default read from the
    backend with STS GetCallerIdentity: never a constant). replicate_env adds to
    that function's environment (the fault drill points AWS_ENDPOINT_URL at a proxy);
    max_record_age is how long a failing batch is retried before it goes to the DLQ."""
    account = account or Account.of(settings)
    n = Names(settings.prefix)
    users_arn, target_arn = account.table_arn(n.users), account.table_arn(n.target)

    def logs(function: str) -> dict:
        group = account.log_group_arn(Names.log_group(function))
        # Scoped to the function's own group: replicate cannot forge lines in audit's log.
        return {"Effect": "Allow", "Resource": [group, f"{group}:*"], "Action": [
            "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]}

    stream_read = {"Effect": "Allow", "Resource": f"{users_arn}/stream/*", "Action": STREAM_READ}
    dlq_send = {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": account.queue_arn(n.dlq)}

    def function(module: str, env: dict, policy: list, **options) -> Function:
        name = n.function(module)
        return Function(name, module, env, [logs(name), *policy], **options)

    functions = (
        function("users_api", {"USERS_TABLE": n.users, "TARGET_TABLE": n.target}, [{
            "Effect": "Allow", "Resource": users_arn,
            "Action": ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]}, {
            # GET /users?state=..&city=.. reads the view, by its key or through the by_city index.
            "Effect": "Allow", "Resource": [target_arn, f"{target_arn}/index/{CITY_INDEX}"],
            "Action": ["dynamodb:Query"]}]),
        function("replicate", {"TARGET_TABLE": n.target, "QUARANTINE_QUEUE_URL": QueueUrl(n.quarantine),
                               **(replicate_env or {})}, [stream_read, dlq_send, {
            "Effect": "Allow", "Resource": target_arn, "Action": ["dynamodb:BatchWriteItem"]}, {
            # AWS authorizes SendMessageBatch as sqs:SendMessage; MiniStack (under AUTH=true)
            # asks for sqs:SendMessageBatch itself. IAM accepts both names in a policy.
            "Effect": "Allow", "Action": ["sqs:SendMessage", "sqs:SendMessageBatch"],
            "Resource": account.queue_arn(n.quarantine)}], timeout=60),
        function("audit", {}, [stream_read, dlq_send]),
    )
    return Stack(
        settings=settings, account=account, names=n,
        tables=(
            Table(n.users, USERS_KEY, stream="NEW_AND_OLD_IMAGES"),
            Table(n.target, TARGET_KEY, indexes=(Index(CITY_INDEX, (("city", "HASH"), ("email", "RANGE"))),)),
        ),
        queues=n.queues,
        functions=functions,
        mappings=tuple(Mapping(n.function(module), n.users, batch_size=BATCH_SIZE, max_record_age=max_record_age,
                               max_retries=max_retries) for module in ("replicate", "audit")),
        api=Api(n.api, n.users_api, custom_id=n.api_custom_id),
    )
