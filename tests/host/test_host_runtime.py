"""LocalStack 4.14.0 on the host (EMULATOR=localstack-host), as the project runs it: its host
runtime executor (localstack_host/) on the live runtime, and the init hook `docker compose up`
relies on (scripts/ready.d).

Each test starts a LocalStack of its own (a free port, a run directory of the test's own), so
what it counts (processes, logs, resources) is its own. `make test-host` runs them.
"""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
import zipfile
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from ddblab import stack
from ddblab.core.settings import ROOT, Settings
from ddblab.core.waiting import wait_for
from ddblab.emulator.health import free_port
from ddblab.emulator.localstack_host import LocalStackHost

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
FUNCTION_SOURCE = '''
import json, os, sys, time

import boto3  # at import, as handlers do: its cold import (seconds on a loaded machine) is not the handler's

def handler(event, context):
    print("event", json.dumps(event))
    if event.get("sleep"):
        time.sleep(event["sleep"])
    try:
        import localstack  # noqa: F401 - must not be importable: a Lambda runtime has no such package
        localstack_visible = True
    except ImportError:
        localstack_visible = False
    return {"python": "%d.%d" % sys.version_info[:2], "localstack_visible": localstack_visible,
            "boto3": boto3.__version__, "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
            "left_ms": context.get_remaining_time_in_millis()}
'''


def started(tmp_path: Path, init_hooks: bool = False) -> tuple:
    settings = Settings.from_env(endpoint_url=f"http://127.0.0.1:{free_port()}", run_dir=tmp_path, prefix="")
    host = LocalStackHost(settings, port=settings.port, init_hooks=init_hooks)
    host.start()
    return host, settings


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    host, settings = started(tmp_path_factory.mktemp("localstack-host"))
    yield host, settings
    host.stop()


def zipped(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("fn.py", source)
    return buffer.getvalue()


def function(settings: Settings, timeout: int = 3, environment: dict | None = None) -> str:
    lam = settings.client("lambda")
    name = f"fn-{uuid.uuid4().hex[:8]}"
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="fn.handler",
                        Code={"ZipFile": zipped(FUNCTION_SOURCE)}, Timeout=timeout,
                        Environment={"Variables": environment or {}})
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    return name


def invoke(settings: Settings, name: str, event: dict) -> tuple:
    answer = settings.client("lambda", read_timeout=60).invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return answer.get("FunctionError"), json.loads(answer["Payload"].read())


def function_processes(parent: int | None = None) -> list:
    """pids of host-executor function processes (of this LocalStack's, when parent is given)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            environ = (proc / "environ").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state == "Z" or not any(part.endswith(b"runtime_init.py") for part in cmdline):
            continue
        if parent is None or f"DDBLAB_INIT_PARENT={parent}".encode() in environ:
            found.append(int(proc.name))
    return found


def test_function_runs_on_an_interpreter_without_localstack_packages(host):
    _, settings = host
    name = function(settings)
    error, result = invoke(settings, name, {"hello": 1})
    assert error is None, result
    assert result["localstack_visible"] is False
    assert result["boto3"] == "1.42.54"  # the lock's boto3, in the functions' own virtualenv
    assert result["python"] in ("3.12", "3.13")
    assert result["endpoint"] == settings.endpoint_url  # LocalStack's injected AWS_ENDPOINT_URL
    assert 0 < result["left_ms"] <= 3000


def test_function_environment_applies_last(host):
    # GIVEN a function that sets AWS_ENDPOINT_URL itself (LocalStack applies the user's environment last)
    _, settings = host
    name = function(settings, environment={"AWS_ENDPOINT_URL": "http://elsewhere.invalid:9"})
    _, result = invoke(settings, name, {})
    assert result["endpoint"] == "http://elsewhere.invalid:9"


def test_function_output_reaches_cloudwatch_logs(host):
    _, settings = host
    name = function(settings)
    marker = uuid.uuid4().hex
    invoke(settings, name, {"marker": marker})
    logs = settings.client("logs")

    def lines():
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        return [e["message"] for e in events]
    found = wait_for(lambda: [line for line in lines() if marker in line], f"the marker in /aws/lambda/{name}", timeout=20)
    assert found[0].strip() == f'event {{"marker": "{marker}"}}'
    assert any(line.startswith("START RequestId:") for line in lines())
    assert any(line.startswith("REPORT RequestId:") for line in lines())


def test_timeout_is_honoured_and_the_function_answers_again(host):
    # GIVEN a function with a 2 s timeout
    _, settings = host
    name = function(settings, timeout=2)
    started_at = time.monotonic()
    # WHEN an invocation sleeps for 10 s
    error, result = invoke(settings, name, {"sleep": 10})
    took = time.monotonic() - started_at
    # THEN it ends as Lambda ends it, about 2 s in, and the next invocation runs
    assert error == "Unhandled"
    assert result["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 2.00 seconds" in result["errorMessage"]
    assert took < 8, f"the timed-out invocation took {took:.1f} s"
    error, result = invoke(settings, name, {})
    assert error is None and result["localstack_visible"] is False


def test_import_error_answers_the_runtime_error_type(host):
    _, settings = host
    lam = settings.client("lambda")
    name = f"broken-{uuid.uuid4().hex[:8]}"
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="fn.handler",
                        Code={"ZipFile": zipped("import not_a_module_anywhere\n")})
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    error, result = invoke(settings, name, {})
    assert error == "Unhandled"
    assert result == {"errorType": "Runtime.ImportModuleError", "requestId": "", "stackTrace": [],
                      "errorMessage": "Unable to import module 'fn': No module named 'not_a_module_anywhere'"}


def test_no_function_process_outlives_a_stop(tmp_path):
    # GIVEN a LocalStack of this test's own with three functions, two invoked at once
    host, settings = started(tmp_path)
    try:
        names = [function(settings, timeout=10) for _ in range(3)]
        import concurrent.futures
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda n: invoke(settings, n, {"sleep": 1}), names + names[:1]))
        pid = host.pid()
        assert len(function_processes(pid)) >= 3
    finally:
        # WHEN make down stops it
        host.stop()
    # THEN none of its function processes is left
    assert function_processes(pid) == []


def test_function_processes_end_when_localstack_is_killed(tmp_path):
    # GIVEN a LocalStack with a running function environment
    host, settings = started(tmp_path)
    pid = host.pid()
    try:
        invoke(settings, function(settings), {})
        assert function_processes(pid)
        # WHEN LocalStack is killed outright (no shutdown, no atexit)
        os.kill(pid, signal.SIGKILL)
        # THEN its function processes end by themselves
        wait_for(lambda: not function_processes(pid), "function processes to end after LocalStack was killed", timeout=15)
    finally:
        host.stop()


def test_init_hook_converges_the_stack_and_a_second_converge_changes_nothing(tmp_path):
    # GIVEN LocalStack started with the project's init hooks (as docker compose up mounts them)
    host, settings = started(tmp_path, init_hooks=True)
    try:
        def ready():
            with urllib.request.urlopen(f"{settings.endpoint_url}/_localstack/init/ready", timeout=5) as answer:
                document = json.loads(answer.read())
            return document if document["completed"] else None
        # THEN the hook ran to success at the ready stage
        document = wait_for(ready, "LocalStack's ready.d scripts to complete", timeout=120)
        assert document["scripts"] == [{"stage": "READY", "name": "ddblab_converge.py", "state": "SUCCESSFUL"}]
        assert "ddb-streams-lab: stack converged by the init hook" in host.log_file.read_text()
        # AND the whole stack is there: converging it again from outside changes nothing
        report = stack.converge(settings)
        assert report.changed == [], report.summary()
        assert report.summary() == "everything unchanged"
    finally:
        host.stop()


def listening_addresses(port: int) -> set:
    """The local addresses with a listening TCP socket on this port (/proc/net/tcp: state 0A)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:
            found.add(".".join(str(int(address[i:i + 2], 16)) for i in (6, 4, 2, 0)))
    return found


def test_localstack_and_its_functions_listen_on_loopback_only(host):
    # GIVEN LocalStack on the host (it takes any credentials), with a function environment running
    _, settings = host
    invoke(settings, function(settings), {})
    # THEN its gateway listens on 127.0.0.1 only (4.14.0 alone would bind 0.0.0.0)
    assert listening_addresses(settings.port) == {"127.0.0.1"}


def test_make_down_keeps_the_users_and_make_up_brings_them_back_through_the_stream(tmp_path):
    # GIVEN LocalStack on the host started as make up starts it, with three users replicated
    port = free_port()
    env = {**os.environ, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "RUN_DIR": str(tmp_path),
           "EMULATOR": "localstack-host", "STACK_PREFIX": "", "NO_COLOR": "1"}

    def ddblab(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "ddblab", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, f"ddblab {' '.join(args)}: {done.stderr}{done.stdout}"
        return done.stdout
    settings = Settings.from_env(endpoint_url=env["AWS_ENDPOINT_URL"], run_dir=tmp_path, prefix="")
    try:
        ddblab("up")
        ddb = settings.client("dynamodb")
        emails = [f"keep{i}-{uuid.uuid4().hex[:6]}@example.com" for i in range(3)]
        for email in emails:
            ddb.put_item(TableName="users", Item={"email": {"S": email}, "state": {"S": "Ohio"}, "city": {"S": "Akron"}})
        # WHEN make down, then make up
        said = ddblab("down")
        assert "data: kept 3 items of users" in said, said
        ddblab("up")
        # THEN the users are back, and the stream rebuilt users_by_location from them
        back = {item["email"]["S"] for item in ddb.scan(TableName="users")["Items"]}
        assert back == set(emails)

        def rebuilt():
            rows = ddb.query(TableName="users_by_location", KeyConditionExpression="#s = :s",
                             ExpressionAttributeNames={"#s": "state"}, ExpressionAttributeValues={":s": {"S": "Ohio"}})
            return {row["email"]["S"] for row in rows["Items"]} == set(emails)
        wait_for(rebuilt, "users_by_location rebuilt from the restored users", timeout=60)
    finally:
        env["EMULATOR"] = "auto"
        subprocess.run([sys.executable, "-m", "ddblab", "down", "--discard"], cwd=ROOT, env=env, capture_output=True,
                       timeout=120)


def test_moto_answers_as_dynamodb_does_where_the_providers_correct_it(host):
    # GIVEN a table with a stream and an item holding binaries, a binary set and nested both
    _, settings = host
    ddb, streams = settings.client("dynamodb"), settings.client("dynamodbstreams")
    name = f"moto-{uuid.uuid4().hex[:6]}"
    arn = ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                           AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                           BillingMode="PAY_PER_REQUEST",
                           StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
                           )["TableDescription"]["LatestStreamArn"]
    item = {"k": {"S": "a"}, "b": {"B": b"\x00\x01"}, "bs": {"BS": [b"\x02"]},
            "m": {"M": {"l": {"L": [{"B": b"\xff"}, {"BS": [b"\x07"]}]}}}}
    ddb.put_item(TableName=name, Item=item)
    # THEN Scan, a projection and Query answer the item's binaries as bytes
    assert ddb.scan(TableName=name)["Items"] == [item]
    assert ddb.scan(TableName=name, ProjectionExpression="k")["Items"] == [{"k": {"S": "a"}}]
    assert ddb.query(TableName=name, KeyConditionExpression="k = :k", ProjectionExpression="bs",
                     ExpressionAttributeValues={":k": {"S": "a"}})["Items"] == [{"bs": {"BS": [b"\x02"]}}]
    # AND the stream's INSERT carries the binaries once encoded, no OldImage, and the table's region
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    (record,) = streams.get_records(ShardIterator=iterator)["Records"]
    assert record["dynamodb"]["NewImage"] == item
    assert "OldImage" not in record["dynamodb"]
    assert record["awsRegion"] == settings.region
    # AND an item of DynamoDB's 400 KB is accepted (moto alone refused over 405,000 bytes), one byte more is not
    limit = {"k": {"S": "big"}, "v": {"S": ""}}
    limit["v"] = {"S": "x" * (400 * 1024 - len("k") - len("big") - len("v"))}
    ddb.put_item(TableName=name, Item=limit)
    limit["v"] = {"S": limit["v"]["S"] + "x"}
    with pytest.raises(ClientError) as refused:
        ddb.put_item(TableName=name, Item=limit)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
