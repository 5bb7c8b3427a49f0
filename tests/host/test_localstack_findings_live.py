"""LocalStack 4.14.0's behaviours this project copes with, read from its source (BACKENDS.md,
README) and here confirmed or refuted on its own runtime, run on the host: measured on
LocalStack on the host (DynamoDB and Streams by moto, functions as host processes). What the
conformance matrix probes (duplicate mappings, retries, OnFailure contents, partial batch
responses, bisect) is `make conformance`'s; these are the rest.

Each test says in its name what the run found.
"""
from __future__ import annotations

import io
import json
import time
import uuid
import zipfile

import pytest
from botocore.exceptions import ClientError

from ddblab.core.aws import mappings_of
from ddblab.core.settings import Settings
from ddblab.core.waiting import wait_for
from ddblab.emulator.health import free_port
from ddblab.emulator.localstack_host import LocalStackHost

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
RECORDER = '''
import json, os, boto3
logs = []
def handler(event, context):
    keys = [r["dynamodb"]["Keys"]["k"]["S"] for r in event.get("Records", [])]
    print("KEYS " + json.dumps(keys))
    if os.environ.get("FAIL") == "1":
        raise RuntimeError("failing on purpose")
    return {"version": os.environ.get("VERSION", "v1")}
'''


@pytest.fixture(scope="module")
def ls(tmp_path_factory):
    settings = Settings.from_env(endpoint_url=f"http://127.0.0.1:{free_port()}",
                                 run_dir=tmp_path_factory.mktemp("findings"), prefix="")
    host = LocalStackHost(settings, port=settings.port)
    host.start()
    yield settings
    host.stop()


def zipped(source: str, name: str = "fn.py") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, source)
    return buffer.getvalue()


def function(ls: Settings, name: str, env: dict | None = None) -> str:
    lam = ls.client("lambda")
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="fn.handler",
                        Code={"ZipFile": zipped(RECORDER)}, Environment={"Variables": env or {}}, Timeout=10)
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    return name


def table(ls: Settings) -> tuple:
    ddb = ls.client("dynamodb")
    name = f"t-{uuid.uuid4().hex[:8]}"
    description = ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                                   AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                                   BillingMode="PAY_PER_REQUEST",
                                   StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    return name, description["TableDescription"]["LatestStreamArn"]


def delivered(ls: Settings, function_name: str) -> list:
    """Every key the function was handed, in order, from its CloudWatch log."""
    logs = ls.client("logs")
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{function_name}")["events"]
    except ClientError:
        return []
    return [key for e in sorted(events, key=lambda e: e["timestamp"]) if e["message"].startswith("KEYS ")
            for key in json.loads(e["message"][5:])]


def test_list_mappings_by_function_name_matches_by_substring_confirmed(ls):
    # GIVEN two functions, one name inside the other, each with a mapping on one stream
    _, stream = table(ls)
    suffix = uuid.uuid4().hex[:6]
    short, long = function(ls, f"rep{suffix}"), function(ls, f"test-rep{suffix}")
    lam = ls.client("lambda")
    for name in (short, long):
        lam.create_event_source_mapping(FunctionName=name, EventSourceArn=stream, StartingPosition="TRIM_HORIZON")
    # WHEN the mappings of the short name are listed
    listed = lam.list_event_source_mappings(FunctionName=short)["EventSourceMappings"]
    # THEN LocalStack answers both (AWS: only the exact function's); the project's filter keeps one
    assert sorted(m["FunctionArn"].rsplit(":", 1)[1] for m in listed) == sorted([short, long])
    assert [m["FunctionArn"].rsplit(":", 1)[1] for m in mappings_of(lam, short)] == [short]


def test_updating_a_mapping_replays_the_stream_from_trim_horizon_confirmed(ls):
    # GIVEN a mapping that delivered three records
    name, stream = table(ls)
    fn = function(ls, f"replay-{uuid.uuid4().hex[:6]}")
    lam, ddb = ls.client("lambda"), ls.client("dynamodb")
    mapping = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=stream, StartingPosition="TRIM_HORIZON",
                                              BatchSize=10)["UUID"]
    for key in ("a", "b", "c"):
        ddb.put_item(TableName=name, Item={"k": {"S": key}})
    wait_for(lambda: sorted(delivered(ls, fn)) == ["a", "b", "c"], "a, b, c delivered once", timeout=60)
    # WHEN only its BatchSize is updated
    lam.update_event_source_mapping(UUID=mapping, BatchSize=5)
    # THEN the three records are delivered again: the poller starts from TRIM_HORIZON anew
    wait_for(lambda: sorted(delivered(ls, fn)) == ["a", "a", "b", "b", "c", "c"], "a, b, c delivered twice", timeout=60)


def test_custom_id_tag_replaces_an_existing_api_silently_confirmed(ls):
    # GIVEN a REST API created with the _custom_id_ tag
    apigw = ls.client("apigateway")
    api_id = f"x{uuid.uuid4().hex[:8]}"
    apigw.create_rest_api(name="first", tags={"_custom_id_": api_id})
    # WHEN another is created with the same tag
    second = apigw.create_rest_api(name="second", tags={"_custom_id_": api_id})
    # THEN it is taken without an error, and the id now names the second API only
    assert second["id"] == api_id
    named = [api["name"] for api in apigw.get_rest_apis()["items"] if api["id"] == api_id]
    assert named == ["second"]


def test_function_state_pending_then_active_confirmed(ls):
    lam = ls.client("lambda")
    name = f"state-{uuid.uuid4().hex[:6]}"
    created = lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="fn.handler",
                                  Code={"ZipFile": zipped(RECORDER)})
    assert created["State"] == "Pending"
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    configuration = lam.get_function(FunctionName=name)["Configuration"]
    assert (configuration["State"], configuration["LastUpdateStatus"]) == ("Active", "Successful")


def test_hot_reload_bucket_serves_a_host_folder_and_follows_its_saves_confirmed(ls, tmp_path):
    # GIVEN a function whose code is a folder of this machine (S3Bucket=hot-reload)
    (tmp_path / "fn.py").write_text("def handler(event, context):\n    return 'v1'\n")
    lam = ls.client("lambda")
    name = f"hot-{uuid.uuid4().hex[:6]}"
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="fn.handler",
                        Code={"S3Bucket": "hot-reload", "S3Key": str(tmp_path)})
    lam.get_waiter("function_active_v2").wait(FunctionName=name)

    def answer() -> str:
        return json.loads(lam.invoke(FunctionName=name)["Payload"].read())
    assert answer() == "v1"
    # WHEN the file is saved with new code
    saved = time.monotonic()
    (tmp_path / "fn.py").write_text("def handler(event, context):\n    return 'v2'\n")
    # THEN the next invocations answer with it, within seconds, with no deployment
    wait_for(lambda: answer() == "v2", "the saved code to answer", timeout=15, interval=0.2)
    assert time.monotonic() - saved < 15


def test_deleting_a_mapping_whose_batch_keeps_failing_leaves_its_poller_retrying(ls):
    """Confirmed: the poller goes on retrying after the delete. Refuted: the proof saw the mapping
    stay "Deleting"; here it is gone from the API at once (ResourceNotFoundException)."""
    # GIVEN a mapping whose function fails every batch, retried forever (MaximumRetryAttempts -1)
    name, stream = table(ls)
    fn = function(ls, f"fails-{uuid.uuid4().hex[:6]}", env={"FAIL": "1"})
    lam, ddb = ls.client("lambda"), ls.client("dynamodb")
    mapping = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=stream, StartingPosition="TRIM_HORIZON",
                                              MaximumRetryAttempts=-1)["UUID"]
    ddb.put_item(TableName=name, Item={"k": {"S": "poison"}})
    wait_for(lambda: delivered(ls, fn).count("poison") >= 2, "the failing batch to be retried", timeout=60)
    # WHEN the mapping is deleted
    lam.delete_event_source_mapping(UUID=mapping)
    # THEN the API no longer knows it, but its poller keeps retrying the batch (LocalStack's
    # esm_worker sets only the worker's shutdown event; the retry loop waits on the poller's own)
    with pytest.raises(ClientError) as gone:
        lam.get_event_source_mapping(UUID=mapping)
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"
    retries = delivered(ls, fn).count("poison")
    wait_for(lambda: delivered(ls, fn).count("poison") >= retries + 2, "two retries after the delete", timeout=90)
