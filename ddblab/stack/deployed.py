"""The stack as it stands on the backend: names, clients and the API URL, with a clear
message (what to run) when something the caller needs is not there."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import cached_property

from ddblab.core.aws import find, rest_api_ids
from ddblab.core.kinds import QueueKind
from ddblab.core.settings import Settings, UserError
from ddblab.emulator.health import answering, require_backend
from ddblab.stack.describe import describe
from ddblab.stack.model import Account, Names, Stack


@dataclass
class Deployed:
    settings: Settings
    _queue_urls: dict = field(default_factory=dict, repr=False)

    @classmethod
    def connect(cls, settings: Settings | None = None, announce: bool = True) -> "Deployed":
        """Check an emulator answers, and say which one (on stderr, out of the way of output)."""
        settings = settings or Settings.from_env()
        require_backend(settings)
        if announce:
            prefix = f", stack prefix {settings.prefix!r}" if settings.prefix else ""
            origin = " (remembered from make up)" if settings.endpoint_origin == "remembered" else ""
            print(f"backend: {answering(settings.endpoint_url)} on {settings.endpoint_url}{origin}{prefix}",
                  file=sys.stderr)
        return cls(settings)

    @cached_property
    def names(self) -> Names:
        return Names(self.settings.prefix)

    @cached_property
    def stack(self) -> Stack:
        return describe(self.settings, Account.of(self.settings))

    @cached_property
    def dynamodb(self):
        return self.settings.client("dynamodb", max_pool_connections=32)

    def client(self, service: str):
        return self.settings.client(service)

    def require_tables(self) -> None:
        for table in (self.names.users, self.names.target):
            if find(self.dynamodb.describe_table, "ResourceNotFoundException", TableName=table) is None:
                raise UserError(f"table {table} does not exist on {self.settings.endpoint_url} - run: make up")

    @cached_property
    def stream_arn(self) -> str:
        """The users table's current stream ARN (it changes when the stream is replaced)."""
        table = find(self.dynamodb.describe_table, "ResourceNotFoundException", TableName=self.names.users)
        arn = (table or {}).get("Table", {}).get("LatestStreamArn")
        if not arn:
            raise UserError(f"table {self.names.users} has no stream on {self.settings.endpoint_url} - run: make bootstrap")
        return arn

    @cached_property
    def api_id(self) -> str:
        ids = rest_api_ids(self.client("apigateway"), self.names.api)
        if ids:
            return ids[0]
        raise UserError(f"no REST API named {self.names.api} on {self.settings.endpoint_url} - run: make up")

    @cached_property
    def api_url(self) -> str:
        return self.stack.api_url(self.api_id)

    @cached_property
    def sqs(self):
        return self.client("sqs")

    @cached_property
    def queue_urls(self) -> dict:
        return {kind.value: self.queue_url(kind) for kind in QueueKind}

    def queue_url(self, kind: str) -> str:
        """The URL of the quarantine or dlq queue (looked up once; ClientError if missing)."""
        if kind not in self._queue_urls:
            self._queue_urls[kind] = self.sqs.get_queue_url(QueueName=getattr(self.names, kind))["QueueUrl"]
        return self._queue_urls[kind]

    def queue_depth(self, kind: str) -> int:
        """Messages waiting in the quarantine or dlq queue (approximate, as SQS counts)."""
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.queue_url(kind),
                                                   AttributeNames=["ApproximateNumberOfMessages"])
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])
