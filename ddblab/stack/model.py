"""The kinds of resource a stack is made of, as small typed records. Only Account.of asks
the backend anything (who am I: the partition and account ARNs point at)."""
from __future__ import annotations

from dataclasses import dataclass

from ddblab.core.settings import Settings


@dataclass(frozen=True)
class Account:
    """Where ARNs point: read from the backend (STS GetCallerIdentity), never a constant."""
    partition: str
    region: str
    account_id: str

    def arn(self, service: str, resource: str, region: bool = True, account: bool = True) -> str:
        return (f"arn:{self.partition}:{service}:{self.region if region else ''}:"
                f"{self.account_id if account else ''}:{resource}")

    def table_arn(self, table: str) -> str:
        return self.arn("dynamodb", f"table/{table}")

    def queue_arn(self, queue: str) -> str:
        return self.arn("sqs", queue)

    def log_group_arn(self, group: str) -> str:
        return self.arn("logs", f"log-group:{group}")

    @classmethod
    def of(cls, settings) -> "Account":
        """Asked once per backend and region: a command converging, reading and removing
        stacks on one backend need not ask STS each time."""
        key = (settings.endpoint_url, settings.region)
        if key not in _ACCOUNTS:
            identity = settings.client("sts").get_caller_identity()
            _ACCOUNTS[key] = cls(partition=identity["Arn"].split(":")[1], region=settings.region,
                                 account_id=identity["Account"])
        return _ACCOUNTS[key]


_ACCOUNTS: dict = {}  # (endpoint, region) -> Account


@dataclass(frozen=True)
class Index:
    name: str
    key: tuple  # ((attribute, "HASH"), (attribute, "RANGE"))


# The tag bootstrap creates a consumer's view table with (value: the table's name, which is the
# consumer's function's): how
# make bootstrap ARGS=--prune knows the table of a consumer taken out is the view it made, and
# never deletes a table it did not.
VIEW_TAG = "ddb-streams-lab:view-of"


@dataclass(frozen=True)
class Table:
    name: str
    key: tuple  # ((attribute, "HASH"), (attribute, "RANGE"))
    stream: str | None = None  # StreamViewType
    indexes: tuple = ()  # (Index, ...)
    view: bool = False  # a consumer's view (named as its function): created with the VIEW_TAG tag

    @property
    def attributes(self) -> list:
        names = [a for a, _ in self.key] + [a for index in self.indexes for a, _ in index.key]
        return [{"AttributeName": a, "AttributeType": "S"} for a in dict.fromkeys(names)]

    @property
    def key_schema(self) -> list:
        return key_schema(self.key)


def key_schema(key: tuple) -> list:
    return [{"AttributeName": a, "KeyType": t} for a, t in key]


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
    runtime: str = "python3.12"
    architecture: str = "x86_64"

    @property
    def handler(self) -> str:
        return f"{self.module}.handler"

    @property
    def role(self) -> str:
        return Names.role(self.name)

    @property
    def log_group(self) -> str:
        return Names.log_group(self.name)


@dataclass(frozen=True)
class Mapping:
    function: str
    table: str  # whose stream
    batch_size: int
    starting_position: str = "TRIM_HORIZON"  # LATEST misses writes made before the first poll
    # Honoured by AWS and LocalStack; MiniStack ignores retries and bisect but sends a batch
    # to the OnFailure queue once its oldest record is older than the maximum age.
    max_retries: int = 10
    max_record_age: int = 3600
    bisect: bool = True
    # Batches of one shard in flight at once; AWS keeps each partition key's records in order
    # across them. The fold is per key, so any such interleaving ends at the same target.
    parallelization_factor: int = 1

    @property
    def label(self) -> str:
        return mapping_label(self.function, self.table)


def mapping_label(function: str, table: str) -> str:
    """How every tool names a mapping: `replicate <- users`."""
    return f"{function} <- {table}"


@dataclass(frozen=True)
class Consumer:
    """A function the users stream feeds: one line of describe.CONSUMERS, from which its
    function, its mapping, its table and every tool's list of functions are derived.

    view: it keeps a table of its own, named after it, one row per user (key `email`).
    index: an attribute of those rows to query by (a global secondary index `by_<index>`).
    reconcile: how its view is recomputed from `users` and compared ("module:function" in
    ddblab, called by `make reconcile`); empty: replay only - `make redrive` repairs it by
    handing a dead-lettered batch to it again."""
    module: str
    view: bool = True
    index: str = ""
    reconcile: str = ""
    timeout: int = 30

    @property
    def recovery(self) -> str:
        return "recompute" if self.reconcile else "replay only"


@dataclass(frozen=True)
class Api:
    name: str
    function: str
    custom_id: str  # a stable id where the backend allows one: $API survives make down up
    paths: tuple = ("/users", "/users/{email}")
    resource_path: str = "/users"  # what the API URL points at


@dataclass(frozen=True)
class Names:
    """Every name of a stack, derived from the prefix: the one place a name is spelt."""
    prefix: str = ""

    def _n(self, base: str) -> str:
        return f"{self.prefix}{base}"

    @property
    def users(self) -> str:
        return self._n("users")

    @property
    def target(self) -> str:
        return self._n("users_by_location")

    @property
    def quarantine(self) -> str:
        return self._n("users-quarantine")

    @property
    def dlq(self) -> str:
        return self._n("users-dlq")

    @property
    def users_api(self) -> str:
        return self._n("users_api")

    @property
    def replicate(self) -> str:
        return self._n("replicate")

    @property
    def audit(self) -> str:
        return self._n("audit")

    @property
    def api(self) -> str:
        return self._n("users-api")

    @property
    def queues(self) -> tuple:
        return (self.quarantine, self.dlq)

    def function(self, module: str) -> str:
        return self._n(module)

    @staticmethod
    def role(function: str) -> str:
        return f"{function}-role"

    POLICY = "least-privilege"  # the inline policy on each role

    @staticmethod
    def log_group(function: str) -> str:
        return f"/aws/lambda/{function}"

    @property
    def api_custom_id(self) -> str:
        # REST API ids are lower-case letters and digits (LocalStack's _custom_id_ tag
        # refuses upper case); derived from the prefix so each stack keeps its own.
        cleaned = "".join(c for c in self.prefix.lower() if c.isalnum())
        return f"{cleaned}usersapi"[:30]


@dataclass(frozen=True)
class Stack:
    settings: Settings
    account: Account
    names: Names
    tables: tuple
    queues: tuple
    functions: tuple
    mappings: tuple
    api: Api
    consumers: tuple = ()  # Consumer, in the order describe.CONSUMERS lists them

    def consumer(self, function: str) -> Consumer | None:
        """The consumer whose function has this name (prefix included), or None."""
        return next((c for c in self.consumers if self.names.function(c.module) == function), None)

    def table(self, name: str) -> Table:
        return next(t for t in self.tables if t.name == name)

    def function(self, name: str) -> Function:
        return next(f for f in self.functions if f.name == name)

    def api_url(self, api_id: str) -> str:
        return f"{self.settings.endpoint_url}/_aws/execute-api/{api_id}/{self.settings.stage}{self.api.resource_path}"

    def invoke_permission_source(self, api_id: str) -> str:
        return self.account.arn("execute-api", f"{api_id}/*/*")

    def integration_uri(self, function_arn: str) -> str:
        # The account field of this ARN is the literal "lambda": the integration's service.
        return (f"arn:{self.account.partition}:apigateway:{self.account.region}:lambda:path/2015-03-31/functions/"
                f"{function_arn}/invocations")
