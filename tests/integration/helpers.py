"""Small helpers the integration tests share: HTTP calls, the command line, reads of the
target table, and this test's own messages taken from a queue other tests share."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from ddblab.core.kinds import Backend
from ddblab.core.settings import ROOT, Settings
from ddblab.core.waiting import wait_for
from ddblab.emulator.health import backend_answering, emulator_name
from ddblab.inspect import queue_contents


def http(method: str, url: str, payload=None, raw: bytes | None = None) -> tuple[int, dict]:
    data = raw if raw is not None else (json.dumps(payload).encode() if payload is not None else None)
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            body = answer.read()
            return answer.status, json.loads(body) if body else {}
    except urllib.error.HTTPError as error:
        body = error.read()
        return error.code, json.loads(body) if body else {}


def cli(settings: Settings, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`python -m ddblab <args>` as a user runs it, against the stack of `settings`."""
    env = {**os.environ, "AWS_ENDPOINT_URL": settings.endpoint_url, "STACK_PREFIX": settings.prefix,
           "RUN_DIR": str(settings.run_dir), "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "ddblab", *args], cwd=ROOT, capture_output=True, text=True, env=env,
                          timeout=timeout)


def cli_output(settings: Settings, *args: str, timeout: float = 120) -> str:
    """What the command prints, or the test fails at once with its exit code and stderr - also
    inside a wait_for (pytest.fail is no Exception: never retried as a transient error)."""
    result = cli(settings, *args, timeout=timeout)
    if result.returncode != 0:
        pytest.fail(f"ddblab {' '.join(args)} exited {result.returncode}:\n{result.stderr}{result.stdout}")
    return result.stdout


def target_rows(live, email: str) -> list:
    """Every users_by_location item of one user, wherever it is (through the by_city index
    would need the city; a filtered scan finds moved rows too)."""
    pages = live.dynamodb.get_paginator("scan").paginate(
        TableName=live.names.target, FilterExpression="email = :e",
        ExpressionAttributeValues={":e": {"S": email}})
    return [item for page in pages for item in page["Items"]]


def user_item(email: str, state="New York", city="Brooklyn", zipcode="11208", **extra) -> dict:
    item = {"email": {"S": email}, "state": {"S": state}, "city": {"S": city}, "zipcode": {"S": zipcode},
            "active": {"BOOL": True}}
    item.update(extra)
    return item


def take_messages(sqs, queue_url: str, key, wanted: set, what: str, timeout: float = 30) -> dict:
    """Receive until a message for every key in `wanted` (key(body) names it) has come, delete
    those and return {key: body}; every other message is made visible again at once.

    The queue may be shared with other tests: their messages must stay theirs. They are hidden
    while this looks further (a receive with VisibilityTimeout=0 would bring the same oldest
    ten back every time, so a message past them would never be seen), then put back."""
    found, others = {}, {}  # others: message id -> its latest receipt handle

    def collect():
        for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                           VisibilityTimeout=int(timeout) + 30).get("Messages", []):
            body = json.loads(message["Body"])
            name = key(body)
            if name in wanted:
                found[name] = body
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            else:
                others[message["MessageId"]] = message["ReceiptHandle"]
        return wanted <= set(found)
    try:
        wait_for(collect, what, timeout=timeout)
    finally:
        queue_contents.make_visible(sqs, queue_url, others.values())
    return found


def record_email(body) -> str | None:
    """The user a quarantine message is about (replicate's {"reason", "record"} body), if it says."""
    try:
        return body["record"]["dynamodb"]["Keys"]["email"]["S"]
    except (KeyError, TypeError):
        return None


def backend_of(settings) -> str:
    """"ministack" or "localstack"; fails the test (never a skip, never the other branch) when
    detection cannot tell which emulator answers."""
    name = emulator_name(settings.endpoint_url)
    if name not in ("ministack", "localstack"):
        pytest.fail(f"could not tell which emulator answers on {settings.endpoint_url} (detection said {name!r}): "
                    "this test behaves differently on MiniStack and LocalStack", pytrace=False)
    return name


def localstack_in_docker(settings) -> bool:
    """LocalStack in its container (TEST_BACKEND=localstack), not its runtime on the host: where
    functions run in Lambda containers and DynamoDB is LocalStack's own (DynamoDB Local)."""
    return backend_answering(settings.endpoint_url, name=backend_of(settings)) == Backend.LOCALSTACK
