"""Queues: the quarantine and dead-letter queues, kept 14 days."""
from __future__ import annotations

from ddblab.core.aws import queue_url
from ddblab.stack.converge.context import Context

RETENTION_SECONDS = 1_209_600  # SQS's maximum: time to find and redrive what landed here


def converge(ctx: Context, name: str) -> None:
    url = queue_url(ctx.sqs, name)
    action = "unchanged"
    if url is None:
        url = ctx.sqs.create_queue(QueueName=name, Attributes={"MessageRetentionPeriod": str(RETENTION_SECONDS)})["QueueUrl"]
        action = "created"
    ctx.queue_urls[name] = url
    ctx.report.add("queue", name, action)

