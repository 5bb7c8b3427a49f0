"""What happens when things go wrong for good: batches that never succeed reach the
dead-letter queue, and a replaced stream's mapping is found and replaced."""
from __future__ import annotations

import dataclasses
import json
import uuid

import pytest

from ddblab import stack
from ddblab.core.waiting import wait_for
from ddblab.emulator.health import free_port
from ddblab.stack.model import Names
from tests.builtin import ADDED_MODULES
from tests.integration.helpers import backend_of, user_item


@pytest.fixture
def own_stack(backend_settings):
    """A stack of the test's own (prefixed names), removed afterwards."""
    settings = backend_settings.sub(f"f{uuid.uuid4().hex[:5]}-")
    yield settings
    stack.remove(settings)


def test_replicate_failing_for_good_batch_reaches_dead_letter_queue(own_stack):
    # GIVEN replicate whose every AWS call fails (its endpoint is a port nothing listens on)
    # and a mapping that gives up soon: MiniStack honours the record age (5 s here), LocalStack
    # and AWS the retry count (the age must be 60 s or more there)
    ministack = backend_of(own_stack) == "ministack"
    report = stack.converge(own_stack, replicate_env={
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}", "WRITE_ATTEMPTS": "1"},
        max_record_age=5 if ministack else 60, max_retries=10 if ministack else 0)
    ddb = own_stack.client("dynamodb")
    # WHEN users are written (in one request, so they tend to travel in one batch)
    ddb.batch_write_item(RequestItems={Names(own_stack.prefix).users: [
        {"PutRequest": {"Item": user_item(f"dlq{i}-{uuid.uuid4().hex[:6]}@example.com")}} for i in range(3)]})
    # THEN the batch is retried, then sent to the dead-letter queue with where to find it
    sqs = own_stack.client("sqs")

    letters = []

    def all_dead_lettered():
        messages = sqs.receive_message(QueueUrl=report.outputs["dlq"], MaxNumberOfMessages=10, WaitTimeSeconds=1)
        letters.extend(json.loads(m["Body"]) for m in messages.get("Messages", []))
        own = f":function:{Names(own_stack.prefix).replicate}"
        replicate = [b for b in letters if b["requestContext"]["functionArn"].endswith(own)]
        return sum(b["DDBStreamBatchInfo"]["batchSize"] for b in replicate) >= 3 and replicate
    replicate_letters = wait_for(all_dead_lettered, "dead letters covering the 3 records", timeout=90)
    # (the records arrive in one to three batches, depending on when the poller looked)
    assert sum(b["DDBStreamBatchInfo"]["batchSize"] for b in replicate_letters) == 3
    for body in replicate_letters:
        assert body["DDBStreamBatchInfo"]["streamArn"] == report.outputs["stream"]
        assert body["requestContext"]["condition"] == ("MaxRecordAgeExceeded" if ministack else "RetryAttemptsExhausted")


def _replace_table_and_its_stream(settings, table: str) -> None:
    """LocalStack 4.14 cannot replace a stream in place: re-enabling creates the Kinesis stream
    `__ddb_stream_<table>` again, which still exists, and answers 500 (services/dynamodbstreams/
    dynamodbstreams_api.py add_dynamodb_stream; LocalStack issue 12491). Only delete_table removes
    it, asynchronously (same file, delete_streams): so delete the table, wait until its Kinesis
    stream is gone, and let the bootstrap create the table again."""
    ddb, kinesis = settings.client("dynamodb"), settings.client("kinesis")
    ddb.delete_table(TableName=table)
    ddb.get_waiter("table_not_exists").wait(TableName=table, WaiterConfig={"Delay": 0.5, "MaxAttempts": 60})

    def kinesis_stream_gone():
        try:
            kinesis.describe_stream(StreamName=f"__ddb_stream_{table}")
        except kinesis.exceptions.ResourceNotFoundException:
            return True
        return False
    wait_for(kinesis_stream_gone, f"LocalStack's Kinesis stream behind {table} deleted", timeout=30)


def test_bootstrap_stream_replaced_stale_mapping_removed(own_stack):
    # GIVEN a converged stack whose users stream is then replaced: disabled and re-enabled, or on
    # LocalStack, which fails there, with its table deleted (the bootstrap creates it again)
    first = stack.converge(own_stack)
    ddb = own_stack.client("dynamodb")
    users = Names(own_stack.prefix).users
    localstack = backend_of(own_stack) == "localstack"
    if localstack:
        _replace_table_and_its_stream(own_stack, users)
    else:
        ddb.update_table(TableName=users, StreamSpecification={"StreamEnabled": False})
        ddb.update_table(TableName=users, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
        if ddb.describe_table(TableName=users)["Table"]["LatestStreamArn"] == first.outputs["stream"]:
            pytest.fail("the backend kept the stream ARN when the stream was replaced; the test needs a new one")
    # WHEN the bootstrap runs
    report = stack.converge(own_stack)
    new_stream = ddb.describe_table(TableName=users)["Table"]["LatestStreamArn"]
    assert new_stream != first.outputs["stream"]
    # THEN each mapping on the old stream is removed and one on the new stream created: the
    # built-in consumers', and those of the consumers a user added (make consumer)
    actions = sorted((r[1], r[2]) for r in report.changed if r[0] == "mapping")
    assert actions == sorted([(f"{Names(own_stack.prefix).function(f)} <- {users}", a)
                              for f in ("replicate", "audit", *ADDED_MODULES) for a in ("removed", "created")])
    lam = own_stack.client("lambda")
    for function in ("replicate", "audit", *ADDED_MODULES):
        mappings = lam.list_event_source_mappings(FunctionName=Names(own_stack.prefix).function(function))["EventSourceMappings"]
        assert [m["EventSourceArn"] for m in mappings] == [new_stream]
    others = [(r[0], r[1], r[2]) for r in report.changed if r[0] != "mapping"]
    assert others == ([("table", users, "created")] if localstack else [])
    # AND the pipeline works on the new stream
    email = f"new-stream-{uuid.uuid4().hex[:6]}@example.com"
    ddb.put_item(TableName=users, Item=user_item(email, state="Ohio", city="Toledo"))
    wait_for(lambda: "Item" in ddb.get_item(TableName=Names(own_stack.prefix).target,
                                            Key={"state": {"S": "Ohio"}, "city_email": {"S": f"Toledo#{email}"}}),
             f"{email} replicated through the new stream", timeout=30)


def test_bootstrap_disabled_mapping_enabled_again(own_stack):
    # GIVEN a converged stack whose audit mapping someone disabled
    first = stack.converge(own_stack)
    lam = own_stack.client("lambda")
    function = Names(own_stack.prefix).audit
    [mapping] = lam.list_event_source_mappings(FunctionName=function)["EventSourceMappings"]
    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    wait_for(lambda: lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Disabled", "the mapping disabled")
    # WHEN the bootstrap runs, THEN it enables the same mapping again and says so
    report = stack.converge(own_stack)
    users = Names(own_stack.prefix).users
    assert [(r[1], r[2], r[3]) for r in report.changed] == [(f"{function} <- {users}", "updated", "Enabled")]
    assert lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Enabled"
    assert report.ids[("mapping", function)] == first.ids[("mapping", function)]


def test_stacks_whose_function_names_contain_each_other_keep_their_own_mappings(backend_settings):
    # GIVEN two stacks on one backend where one's function names contain the other's
    # (`<p>replicate` inside `a-<p>replicate`, as `replicate` is inside `test-replicate`):
    # LocalStack lists the mappings of both for the shorter name (services/lambda_/provider.py)
    short = backend_settings.sub(f"m{uuid.uuid4().hex[:5]}-")
    long = dataclasses.replace(short, prefix="a-" + short.prefix)
    try:
        stack.converge(short)
        stack.converge(long)
        # WHEN the shorter stack converges again, THEN it sees one mapping per function, its own
        report = stack.converge(short)
        assert report.changed == []
        # AND removing it leaves the longer stack's mappings in place
        stack.remove(short)
        lam = long.client("lambda")
        for function in ("replicate", "audit"):
            mappings = lam.list_event_source_mappings(FunctionName=Names(long.prefix).function(function))["EventSourceMappings"]
            assert [m["FunctionArn"].rsplit(":", 1)[-1] for m in mappings] == [Names(long.prefix).function(function)]
    finally:
        stack.remove(short)
        stack.remove(long)
