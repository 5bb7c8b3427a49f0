"""Real events, captured from the emulator: what the stack's REST API and the users stream
deliver to a function.

A converged stack of its own gets echo functions in place of users_api and replicate: the
API's echo answers each request with the event it was given, and replicate's sends each batch
it is given to the quarantine queue. Then one user is created, moved and deleted through the table, and the API
is called on each route. tests/fixtures holds one capture (`python -m tests.capture`
rewrites it, on the emulator `make up` started or AWS_ENDPOINT_URL); the unit tests check the
event factories against it, and tests/integration/test_captured_events.py captures again on
every run and checks the stored capture still has the live events' shape.
"""
from __future__ import annotations

import io
import json
import sys
import uuid
import zipfile
from pathlib import Path
from urllib.parse import quote

from ddblab import stack
from ddblab.core.kinds import Backend
from ddblab.core.settings import Settings, UserError
from ddblab.core.waiting import wait_for
from ddblab.emulator.health import backend_answering, require_backend
from ddblab.stack.deployed import Deployed
from tests.integration.helpers import http

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixtures(backend: str) -> tuple[Path, Path]:
    """(stream records, API events) captured on this backend: "ministack" (what the unit tests'
    factories are checked against) or "localstack-host" (LocalStack's own API Gateway events;
    stream records from moto, which serves LocalStack's streams on the host)."""
    return FIXTURES / f"stream_records_{backend}.json", FIXTURES / f"api_events_{backend}.json"


STREAM_FIXTURE, API_FIXTURE = fixtures("ministack")
EMAIL = "ada@example.com"

# Free-form maps whose keys are data (header names), not structure.
FREE_FORM = {"headers", "multiValueHeaders"}


def shape(value, name=None):
    """An event's structure: the keys at every level, and the JSON type of every leaf - what the
    factories must match and what a new capture must keep."""
    if isinstance(value, dict):
        if name in FREE_FORM:
            return "map"
        return {key: shape(inner, key) for key, inner in value.items()}
    if isinstance(value, list):
        return [shape(inner) for inner in value]
    if isinstance(value, bool) or value is None:
        return repr(value) if value is None else "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


ECHO_API = '''
import json
def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}
'''
ECHO_STREAM = '''
import json, os
import boto3
def handler(event, context):
    boto3.client("sqs").send_message(QueueUrl=os.environ["QUARANTINE_QUEUE_URL"], MessageBody=json.dumps(event))
'''
# What each route is called with: the walkthrough's user, by the routes the stack declares.
REQUESTS = {
    "POST /users": ("POST", "", {"email": EMAIL, "state": "NY", "city": "Brooklyn", "zipcode": "11208"}),
    "GET /users/{email}": ("GET", f"/{quote(EMAIL)}", None),
    "PUT /users/{email}": ("PUT", f"/{quote(EMAIL)}", {"email": EMAIL, "state": "NY", "city": "Queens", "zipcode": "11101"}),
    "PATCH /users/{email}": ("PATCH", f"/{quote(EMAIL)}", {"city": "Astoria"}),
    "DELETE /users/{email}": ("DELETE", f"/{quote(EMAIL)}", None),
    "GET /users?state": ("GET", "?state=NY&city=Brooklyn", None),
    "GET /users?city": ("GET", "?city=Brooklyn", None),
}


def _zip(module: str, source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{module}.py", source)
    return buffer.getvalue()


def _deploy(live: Deployed, function: str, module: str, source: str) -> None:
    lam = live.client("lambda")
    lam.update_function_code(FunctionName=function, ZipFile=_zip(module, source))
    lam.get_waiter("function_updated_v2").wait(FunctionName=function)


def capture(live: Deployed) -> tuple[dict, dict]:
    """({eventName: stream record}, {route: API event}) from a stack of the caller's own
    (its users_api and replicate are replaced by echoes: converge it again to restore them)."""
    _deploy(live, live.names.function("users_api"), "users_api", ECHO_API)
    _deploy(live, live.names.function("replicate"), "replicate", ECHO_STREAM)
    api = {}
    for route, (method, path, payload) in REQUESTS.items():
        status, event = http(method, live.api_url + path, payload)
        assert status == 200 and "httpMethod" in event, f"{route}: the echo answered {status}: {event}"
        api[route] = event
    image = {"email": {"S": EMAIL}, "state": {"S": "NY"}, "city": {"S": "Brooklyn"}, "zipcode": {"S": "11208"}}
    live.dynamodb.put_item(TableName=live.names.users, Item=image)
    live.dynamodb.put_item(TableName=live.names.users, Item={**image, "city": {"S": "Queens"}})
    live.dynamodb.delete_item(TableName=live.names.users, Key={"email": {"S": EMAIL}})
    records, queue = {}, live.queue_url("quarantine")

    def all_three():
        for message in live.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            for record in json.loads(message["Body"])["Records"]:
                records.setdefault(record["eventName"], record)
            live.sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        return set(records) == {"INSERT", "MODIFY", "REMOVE"}
    wait_for(all_three, "an INSERT, a MODIFY and a REMOVE from the users stream", timeout=60)
    return records, api


def main() -> int:
    settings = Settings.from_env().sub(f"cap{uuid.uuid4().hex[:4]}-")
    try:
        document = require_backend(settings)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    backend = backend_answering(settings.endpoint_url, document)
    if backend not in (Backend.MINISTACK, Backend.LOCALSTACK_HOST):
        print(f"error: captures are kept for MiniStack and LocalStack on the host; {backend} answers on "
              f"{settings.endpoint_url}", file=sys.stderr)
        return 1
    try:
        stack.converge(settings)
        records, api = capture(Deployed(settings))
    finally:
        stack.remove(settings)
    print(f"captured on {settings.endpoint_url}, on a stack of its own ({settings.prefix}*, removed again): "
          f"{', '.join(records)} from the users stream; {', '.join(api)} from the API")
    for path, events in zip(fixtures(backend), (records, api), strict=True):
        path.write_text(json.dumps(events, indent=1, sort_keys=True) + "\n")
        print(f"wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    print("ids, times and hosts change on every capture; commit the files when `make test-unit` shows the "
          "factories no longer match (tests/unit/test_factories.py), or when a route is added")
    return 0


if __name__ == "__main__":
    sys.exit(main())
