"""The conformance suite's harness: a stack of its own on the test backend (the same backend
as the integration tests: the emulator answering, an embedded MiniStack, or LocalStack with
TEST_BACKEND=localstack), torn down afterwards, and the matrix it fills in - printed at the
end and written as JSON to .run/conformance.json."""
from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

from ddblab.core.settings import ROOT
from ddblab.core.waiting import wait_for
from ddblab.emulator.health import emulator_name
from tests.integration.conftest import backend_settings  # noqa: F401 - the session's backend, shared

PROBE = Path(__file__).with_name("probe.py")
MATRIX_FILE = ROOT / ".run" / "conformance.json"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


@dataclass
class Row:
    behaviour: str
    status: str  # pass | fail | unsupported
    observed: str


ROWS: list = []
BACKEND: dict = {}


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/conformance" in str(item.fspath):
            item.add_marker(pytest.mark.conformance)


def pytest_terminal_summary(terminalreporter):
    if not ROWS:
        return
    width = max(len(r.behaviour) for r in ROWS)
    terminalreporter.section(f"conformance matrix: {BACKEND.get('name', '?')} at {BACKEND.get('endpoint', '?')}")
    for row in ROWS:
        terminalreporter.write_line(f"{row.behaviour:<{width}}  {row.status:<11}  {row.observed}")
    MATRIX_FILE.parent.mkdir(parents=True, exist_ok=True)
    MATRIX_FILE.write_text(json.dumps({**BACKEND, "rows": [asdict(r) for r in ROWS]}, indent=2) + "\n")
    terminalreporter.write_line(f"written to {MATRIX_FILE.relative_to(ROOT)}")


@pytest.fixture
def matrix():
    def record(behaviour: str, status: str, observed: str) -> None:
        assert status in ("pass", "fail", "unsupported")
        ROWS.append(Row(behaviour, status, observed))
    return record


def probe_zip(version: str = "v1") -> bytes:
    source = PROBE.read_text().replace('VERSION = "v1"', f'VERSION = "{version}"')
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("probe.py", date_time=(1980, 1, 1, 0, 0, 0)), source)
    return buffer.getvalue()


class Probes:
    """Tables with streams, probe functions, mappings and queues, all named <prefix>..., and
    what the functions recorded."""

    def __init__(self, settings):
        self.settings = settings
        self.ddb, self.lam = settings.client("dynamodb"), settings.client("lambda")
        self.sqs, self.iam = settings.client("sqs"), settings.client("iam")
        self.created: dict = {"mapping": [], "function": [], "table": [], "queue": [], "role": []}
        self.sink = self.table("sink", stream=False)
        self.role = self._role("role", [{"Effect": "Allow", "Action": "*", "Resource": "*"}])
        self.bare_role = self._role("bare-role", [{"Effect": "Allow", "Resource": "*", "Action": [
            "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]}])

    def name(self, base: str) -> str:
        return f"{self.settings.prefix}{base}"  # a probe's own resource, not part of the stack

    def _role(self, base: str, statements: list) -> str:
        name = self.name(base)
        arn = self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
        self.iam.put_role_policy(RoleName=name, PolicyName="probe",
                                 PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
        self.created["role"].append(name)
        return arn

    def table(self, base: str, stream: bool = True) -> str:
        name = self.name(base)
        args = dict(TableName=name, BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
        if stream:
            args["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
        self.ddb.create_table(**args)
        self.ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 150})
        self.created["table"].append(name)
        return name

    def stream(self, table: str) -> str:
        return self.ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]

    def function(self, base: str, mode: str = "", role: str | None = None) -> str:
        name = self.name(base)
        self.lam.create_function(FunctionName=name, Runtime="python3.12", Handler="probe.handler", Timeout=30,
                                 Role=role or self.role, Code={"ZipFile": probe_zip()},
                                 Environment={"Variables": {"SINK": self.sink, "MODE": mode}})
        self.created["function"].append(name)
        self.lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 600})
        return name

    def mapping(self, function: str, table: str, **settings) -> str:
        settings.setdefault("StartingPosition", "TRIM_HORIZON")
        uuid_ = self.lam.create_event_source_mapping(FunctionName=function, EventSourceArn=self.stream(table),
                                                     Enabled=True, **settings)["UUID"]
        self.created["mapping"].append(uuid_)
        wait_for(lambda: self.lam.get_event_source_mapping(UUID=uuid_)["State"] == "Enabled",
                 f"mapping {uuid_} of {function} Enabled", timeout=60)
        return uuid_

    def stop(self, mapping: str) -> None:
        self.lam.delete_event_source_mapping(UUID=mapping)
        self.created["mapping"].remove(mapping)

    def queue(self, base: str) -> tuple:
        url = self.sqs.create_queue(QueueName=self.name(base))["QueueUrl"]
        self.created["queue"].append(url)
        return url, self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def put(self, table: str, *keys: str, **attributes) -> None:
        for key in keys:
            item = {"pk": {"S": key}, **{k: {"S": v} for k, v in attributes.items()}}
            self.ddb.put_item(TableName=table, Item=item)

    def batches(self, function: str) -> list:
        """What the function received, one entry per invocation, oldest first."""
        pages = self.ddb.get_paginator("scan").paginate(
            TableName=self.sink, FilterExpression="fn = :f", ExpressionAttributeValues={":f": {"S": function}})
        items = sorted((i for p in pages for i in p["Items"]), key=lambda i: float(i["t"]["N"]))
        return [{"keys": json.loads(i["keys"]["S"]), "records": json.loads(i["records"]["S"])} for i in items]

    def received(self, function: str) -> list:
        return [key for batch in self.batches(function) for key in batch["keys"]]

    def wait_received(self, function: str, keys, timeout: float = 30) -> list:
        wait_for(lambda: set(keys) <= set(self.received(function)), f"{function} to receive {sorted(keys)}", timeout=timeout)
        return self.batches(function)

    def settle(self, seconds: float) -> None:
        """Time for a backend to do something it should not (deliver a filtered record, retry
        past a limit): an absence can only be observed over a window."""
        time.sleep(seconds)

    def remove(self) -> None:
        for uuid_ in self.created["mapping"]:
            _quietly(self.lam.delete_event_source_mapping, UUID=uuid_)
        for name in self.created["function"]:
            _quietly(self.lam.delete_function, FunctionName=name)
        for name in self.created["table"]:
            _quietly(self.ddb.delete_table, TableName=name)
        for url in self.created["queue"]:
            _quietly(self.sqs.delete_queue, QueueUrl=url)
        for name in self.created["role"]:
            _quietly(self.iam.delete_role_policy, RoleName=name, PolicyName="probe")
            _quietly(self.iam.delete_role, RoleName=name)


def _quietly(call, **kwargs) -> None:
    try:
        call(**kwargs)
    except Exception:  # noqa: BLE001 - teardown of a probe stack: what is gone is gone
        pass


@pytest.fixture(scope="session")
def probes(backend_settings):  # noqa: F811 - the fixture imported above
    settings = backend_settings.sub(f"conf{uuid.uuid4().hex[:4]}-")
    BACKEND.update(name=emulator_name(settings.endpoint_url), endpoint=settings.endpoint_url)
    harness = Probes(settings)
    yield harness
    harness.remove()
