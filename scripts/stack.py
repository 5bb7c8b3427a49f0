"""The whole stack, declared once as data. bootstrap.py converges a backend to it."""
from __future__ import annotations

from dataclasses import dataclass, field

from scripts.settings import Settings

RUNTIME = "python3.12"
ACCOUNT = "000000000000"  # both emulators' default account


@dataclass(frozen=True)
class Table:
    name: str
    key: tuple  # ((attribute, "HASH"), (attribute, "RANGE"))
    stream: str | None = None  # StreamViewType
    indexes: tuple = ()  # ((index_name, ((attribute, "HASH"), ...)),)

    @property
    def attributes(self) -> list:
        names = [a for a, _ in self.key] + [a for _, key in self.indexes for a, _ in key]
        return [{"AttributeName": a, "AttributeType": "S"} for a in dict.fromkeys(names)]


@dataclass(frozen=True)
class QueueUrl:
    """An environment value filled in at converge time: URLs differ between backends."""
    queue: str


@dataclass(frozen=True)
class Function:
    name: str
    module: str  # handlers/<module>.py, zipped with the shared modules
    env: dict
    policy: list  # IAM statements: least privilege
    timeout: int = 30
    memory: int = 256


@dataclass(frozen=True)
class Mapping:
    function: str
    table: str  # whose stream
    batch_size: int
    # Honoured by AWS and LocalStack; MiniStack ignores retries and bisect but sends a batch
    # to the OnFailure queue once its oldest record is older than the maximum age.
    max_retries: int = 10
    max_record_age: int = 3600
    bisect: bool = True


@dataclass(frozen=True)
class Api:
    name: str
    function: str
    paths: tuple = ("/users", "/users/{email}")


@dataclass(frozen=True)
class Stack:
    settings: Settings
    tables: tuple
    queues: tuple
    functions: tuple
    mappings: tuple
    api: Api
    names: dict = field(default_factory=dict)

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.settings.region}:{ACCOUNT}:{resource}"


def describe(settings: Settings, replicate_env: dict | None = None, max_record_age: int = 3600,
             max_retries: int = 10) -> Stack:
    """The stack for these settings. replicate_env adds to that function's environment
    (the chaos drill sets AWS_ENDPOINT_URL to a fault-injecting proxy); max_record_age is
    how long a failing batch is retried before it goes to the dead-letter queue."""
    n = settings.name
    users, target = n("users"), n("users_by_location")
    quarantine, dlq = n("users-quarantine"), n("users-dlq")
    table_arn = lambda t: f"arn:aws:dynamodb:{settings.region}:{ACCOUNT}:table/{t}"  # noqa: E731
    stream_read = {"Effect": "Allow", "Resource": f"{table_arn(users)}/stream/*", "Action": [
        "dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
        "dynamodb:ListStreams"]}
    logs = {"Effect": "Allow", "Resource": "*", "Action": [
        "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]}
    dlq_send = {"Effect": "Allow", "Action": ["sqs:SendMessage"],
                "Resource": f"arn:aws:sqs:{settings.region}:{ACCOUNT}:{dlq}"}
    replicate_env_base = {"TARGET_TABLE": target, "QUARANTINE_QUEUE_URL": QueueUrl(quarantine)}
    replicate_env = {**replicate_env_base, **(replicate_env or {})}
    functions = (
        Function(n("users_api"), "users_api", {"USERS_TABLE": users, "TARGET_TABLE": target}, [logs, {
            "Effect": "Allow", "Resource": table_arn(users),
            "Action": ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]}, {
            # GET /users?state=..&city=.. reads the view, by its key or through the by_city index.
            "Effect": "Allow", "Resource": [table_arn(target), f"{table_arn(target)}/index/by_city"],
            "Action": ["dynamodb:Query"]}]),
        Function(n("replicate"), "replicate", replicate_env, [logs, stream_read, dlq_send, {
            "Effect": "Allow", "Resource": table_arn(target), "Action": ["dynamodb:BatchWriteItem"]}, {
            # AWS authorizes SendMessageBatch as sqs:SendMessage; MiniStack (under AUTH=true)
            # asks for sqs:SendMessageBatch itself. IAM accepts both names in a policy.
            "Effect": "Allow", "Action": ["sqs:SendMessage", "sqs:SendMessageBatch"],
            "Resource": f"arn:aws:sqs:{settings.region}:{ACCOUNT}:{quarantine}"}], timeout=60),
        Function(n("audit"), "audit", {}, [logs, stream_read, dlq_send]),
    )
    return Stack(
        settings=settings,
        tables=(
            Table(users, (("email", "HASH"),), stream="NEW_AND_OLD_IMAGES"),
            Table(target, (("state", "HASH"), ("city_email", "RANGE")),
                  indexes=(("by_city", (("city", "HASH"), ("email", "RANGE"))),)),
        ),
        queues=(quarantine, dlq),
        functions=functions,
        mappings=tuple(Mapping(n(fn), users, batch_size=100, max_record_age=max_record_age, max_retries=max_retries)
                       for fn in ("replicate", "audit")),
        api=Api(n("users-api"), n("users_api")),
        names={"users": users, "target": target, "quarantine": quarantine, "dlq": dlq,
               "users_api": n("users_api"), "replicate": n("replicate"), "audit": n("audit")},
    )
