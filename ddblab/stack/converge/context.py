"""What every converge step shares: the stack, the clients, the report, and what earlier
steps learned (queue URLs, role ARNs) that later ones need."""
from __future__ import annotations

from dataclasses import dataclass, field

from ddblab.stack.model import Stack
from ddblab.stack.report import Report


@dataclass
class Context:
    stack: Stack
    backend: str  # ministack | localstack | unknown (an emulator of unknown kind) | aws
    report: Report = field(default_factory=Report)
    queue_urls: dict = field(default_factory=dict)
    role_arns: dict = field(default_factory=dict)

    def __post_init__(self):
        client = self.stack.settings.client
        self.ddb, self.sqs, self.iam = client("dynamodb"), client("sqs"), client("iam")
        self.lam, self.apigw = client("lambda"), client("apigateway")
