"""The whole stack, declared once as data: what `converge` makes a backend hold, what the
tools and the CloudFormation template read their names from. ARNs use the backend's
account (asked once with STS when none is given)."""
from __future__ import annotations

from ddblab.core.settings import Settings
from ddblab.stack.code import handler_module
from ddblab.stack.consumers import API_FUNCTION, CONSUMERS
from ddblab.stack.model import Account, Api, Consumer, Function, Index, Mapping, Names, QueueUrl, Stack, Table

projection = handler_module("projection")  # the key names and separator the handlers use
environment = handler_module("environment")  # the variables' names, as the handlers read them

CITY_INDEX = projection.CITY_INDEX
USERS_KEY = (("email", "HASH"),)
TARGET_KEY = ((projection.PARTITION_KEY, "HASH"), (projection.SORT_KEY, "RANGE"))
# Records per stream batch. Every invocation has a fixed cost (on MiniStack: the event
# serialised to the worker, its output drained, on the one poller thread every mapping
# shares), so fewer, larger batches replicate faster: 1000 instead of 100 measured 1.2-1.5x
# the throughput with the same put->visible latency. 1000 is the most one GetRecords call
# returns; AWS and LocalStack accept up to 10000.
BATCH_SIZE = 1000
VIEW_KEY = ((projection.VIEW_KEY, "HASH"),)  # a consumer's own table: one row per user


def view_index(attribute: str) -> Index:
    return Index(f"by_{attribute}", ((attribute, "HASH"), (projection.VIEW_KEY, "RANGE")))


STREAM_READ = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
               "dynamodb:ListStreams"]


def describe(settings: Settings, account: Account | None = None, replicate_env: dict | None = None,
             max_record_age: int | None = None, max_retries: int | None = None,
             consumers: tuple = CONSUMERS) -> Stack:
    """The stack for these settings. account: where ARNs point (by default read from the
    backend with STS GetCallerIdentity: never a constant). replicate_env adds to
    that function's environment (the fault drill points AWS_ENDPOINT_URL at a proxy);
    max_record_age (seconds a failing batch is retried before it goes to the DLQ) and
    max_retries default to the settings (MAX_RECORD_AGE, MAX_RETRIES)."""
    account = account or Account.of(settings)
    max_record_age = settings.max_record_age if max_record_age is None else max_record_age
    max_retries = settings.max_retries if max_retries is None else max_retries
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

    replicate_policy = [stream_read, dlq_send, {
        "Effect": "Allow", "Resource": target_arn, "Action": ["dynamodb:BatchWriteItem"]}, {
        # AWS authorizes SendMessageBatch as sqs:SendMessage; MiniStack (under AUTH=true)
        # asks for sqs:SendMessageBatch itself. IAM accepts both names in a policy.
        "Effect": "Allow", "Action": ["sqs:SendMessage", "sqs:SendMessageBatch"],
        "Resource": account.queue_arn(n.quarantine)}]

    def consumer(c: Consumer) -> Function:
        if c.module == "replicate":  # the built-in view: users_by_location, and the quarantine queue
            env = {environment.TARGET_TABLE: n.target, environment.QUARANTINE_QUEUE_URL: QueueUrl(n.quarantine),
                   **(replicate_env or {})}
            return function(c.module, env, replicate_policy, timeout=c.timeout)
        if not c.view:
            return function(c.module, {}, [stream_read, dlq_send], timeout=c.timeout)
        view_arn = account.table_arn(n.function(c.module))
        return function(c.module, {environment.VIEW_TABLE: n.function(c.module)}, [stream_read, dlq_send, {
            "Effect": "Allow", "Resource": view_arn, "Action": ["dynamodb:PutItem"]}], timeout=c.timeout)

    api_function = (
        function(API_FUNCTION, {environment.USERS_TABLE: n.users, environment.TARGET_TABLE: n.target}, [{
            "Effect": "Allow", "Resource": users_arn,
            "Action": ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]}, {
            # GET /users?state=..&city=.. reads the view, by its key or through the by_city index.
            "Effect": "Allow", "Resource": [target_arn, f"{target_arn}/index/{CITY_INDEX}"],
            "Action": ["dynamodb:Query"]}]),
    )
    views = tuple(Table(n.function(c.module), VIEW_KEY, indexes=(view_index(c.index),) if c.index else (),
                        view=True) for c in consumers if c.view)
    return Stack(
        settings=settings, account=account, names=n,
        tables=(
            Table(n.users, USERS_KEY, stream="NEW_AND_OLD_IMAGES"),
            Table(n.target, TARGET_KEY, indexes=(Index(CITY_INDEX, (("city", "HASH"), ("email", "RANGE"))),)),
            *views,
        ),
        queues=n.queues,
        functions=api_function + tuple(consumer(c) for c in consumers),
        mappings=tuple(Mapping(n.function(c.module), n.users, batch_size=BATCH_SIZE, max_record_age=max_record_age,
                               max_retries=max_retries, parallelization_factor=settings.parallelization_factor)
                       for c in consumers),
        api=Api(n.api, n.users_api, custom_id=n.api_custom_id),
        consumers=consumers,
    )
