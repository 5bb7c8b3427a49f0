"""The helpers other integration tests rely on, where a wrong helper would make them pass
or fail for the wrong reason."""
from __future__ import annotations

import json
import uuid

from tests.integration.helpers import record_email, take_messages


def _body(email: str) -> str:
    return json.dumps({"reason": "test", "record": {"dynamodb": {"Keys": {"email": {"S": email}}}}})


def _all_visible(sqs, url: str) -> set:
    """The users of every message visible now (each one hidden once read, so the next receive
    brings others: the queue is this test's own, and removed afterwards)."""
    seen = set()
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60,
                                          WaitTimeSeconds=0).get("Messages", []):
        seen |= {record_email(json.loads(m["Body"])) for m in messages}
    return seen


def test_take_messages_own_found_past_others_and_others_left_visible(backend_settings):
    # GIVEN a queue holding more messages of other tests than one receive returns, then this test's
    sqs = backend_settings.client("sqs")
    url = sqs.create_queue(QueueName=f"{backend_settings.prefix}take{uuid.uuid4().hex[:6]}")["QueueUrl"]
    try:
        others = {f"other{i}@example.com" for i in range(15)}
        for email in sorted(others) + ["mine@example.com"]:
            sqs.send_message(QueueUrl=url, MessageBody=_body(email))
        # WHEN this test takes its own
        found = take_messages(sqs, url, record_email, {"mine@example.com"}, "mine in the queue", timeout=10)
        # THEN it has it, and every other message is still there and visible at once
        assert set(found) == {"mine@example.com"}
        assert _all_visible(sqs, url) == others
    finally:
        sqs.delete_queue(QueueUrl=url)
