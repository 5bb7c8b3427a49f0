"""make doctor names each deliberate break of the chain, with the command that fixes it -
and running that command makes doctor pass again. Each break is made on a stack of its
own, so the breaks never meet."""
from __future__ import annotations

import io
import json
import time
import uuid
import zipfile

import pytest
from botocore.exceptions import ClientError

from ddblab import stack
from ddblab.core.aws import mappings_of
from ddblab.core.waiting import wait_for
from ddblab.diagnose import checks
from ddblab.inspect import queue_contents
from ddblab.stack.code import HANDLERS
from ddblab.stack.deployed import Deployed
from tests.builtin import ADDED
from tests.integration.helpers import backend_of, cli, user_item


def diagnose(live: Deployed, probe: bool = False, deadline: float = 10.0) -> list:
    return list(checks.run(checks.Diagnosis(live), probe=probe, deadline=deadline))


def failures(found: list) -> list:
    return [c for c in found if c.failed]


def named(found: list, part: str, name: str, words: str) -> checks.Check:
    """The failed check of this part and name whose detail says `words`."""
    hits = [c for c in failures(found) if c.part == part and c.name == name and words in c.detail]
    assert hits, f"no failed {part} check of {name} saying {words!r}; failures: {failures(found)}"
    return hits[0]


def mapping_of(live: Deployed, module: str) -> dict:
    return mappings_of(live.client("lambda"), live.names.function(module))[0]


def test_doctor_whole_stack_passes_with_probe(own):
    # GIVEN a freshly converged stack
    # WHEN doctor runs, probe included
    found = diagnose(own, probe=True, deadline=20)
    # THEN nothing fails, and the probe went through both built-in consumers: replicate's
    # view, audit's log - and the view of each consumer a user added (make consumer), after them
    assert failures(found) == []
    probes = [(c.name, c.function, c.status) for c in found if c.part == "probe"]
    n = own.names
    assert probes[:2] == [(n.target, n.replicate, "pass"), (f"/aws/lambda/{n.audit}", n.audit, "pass")]
    assert probes[2:] == [(n.function(c.module), n.function(c.module), "pass") for c in ADDED if c.view]


def test_doctor_disabled_mapping_named_and_fixed_by_bootstrap(own):
    # GIVEN the audit mapping disabled
    lam = own.client("lambda")
    uuid_ = mapping_of(own, "audit")["UUID"]
    lam.update_event_source_mapping(UUID=uuid_, Enabled=False)
    wait_for(lambda: lam.get_event_source_mapping(UUID=uuid_)["State"] == "Disabled", "the mapping disabled")
    # WHEN doctor runs
    check = named(diagnose(own), "mapping", f"{own.names.audit} <- {own.names.users}", "Disabled")
    # THEN it names the break and the fix, and the fix works
    assert check.fix.startswith("make bootstrap")
    stack.converge(own.settings)
    assert failures(diagnose(own)) == []


def test_doctor_deleted_function_named(own):
    # GIVEN replicate deleted (its mapping left behind)
    own.client("lambda").delete_function(FunctionName=own.names.replicate)
    # WHEN doctor runs THEN it says the function is missing, and bootstrap brings it back
    check = named(diagnose(own), "function", own.names.replicate, "missing")
    assert check.fix == "make bootstrap"
    stack.converge(own.settings)
    assert failures(diagnose(own)) == []


def test_doctor_mapping_on_stale_stream_named(own):
    # GIVEN the users stream replaced (disabled and enabled again: a new stream ARN), so
    # both mappings read a stream nothing is written to any more
    ddb = own.dynamodb
    old = ddb.describe_table(TableName=own.names.users)["Table"]["LatestStreamArn"]
    if backend_of(own.settings) == "localstack":
        # Only there: a MiniStack that fails to replace a stream is a failure, never a skip.
        pytest.skip("LocalStack 4.14 cannot re-enable a table's stream: in Docker its DynamoDB fails with a 500 "
                    "(its issue 12491); on the host moto refuses it (ResourceInUseException: Cannot enable stream)")
    ddb.update_table(TableName=own.names.users, StreamSpecification={"StreamEnabled": False})
    ddb.update_table(TableName=own.names.users,
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    assert ddb.describe_table(TableName=own.names.users)["Table"]["LatestStreamArn"] != old
    # WHEN doctor runs THEN each mapping is named as stale, and as missing on the current stream
    found = diagnose(own)
    for module in ("replicate", "audit"):
        label = f"{own.names.function(module)} <- {own.names.users}"
        assert "make bootstrap" in named(found, "mapping", label, "stale stream").fix
        named(found, "mapping", label, "missing")
    stack.converge(own.settings)
    assert failures(diagnose(own)) == []


def test_doctor_duplicate_mapping_named(own):
    # GIVEN a second mapping of audit on the same stream (MiniStack creates it silently)
    lam, first = own.client("lambda"), mapping_of(own, "audit")
    duplicate = dict(FunctionName=own.names.audit, EventSourceArn=first["EventSourceArn"],
                     StartingPosition="TRIM_HORIZON", BatchSize=100)
    if backend_of(own.settings) == "localstack":
        # LocalStack refuses the duplicate, as AWS does: that refusal, and the one mapping
        # left, is what there is to check there (never a skip: MiniStack must accept it).
        with pytest.raises(ClientError) as refused:
            lam.create_event_source_mapping(**duplicate)
        assert refused.value.response["Error"]["Code"] == "ResourceConflictException"
        assert len(mappings_of(lam, own.names.audit)) == 1
        return
    lam.create_event_source_mapping(**duplicate)
    # WHEN doctor runs THEN it counts them and says bootstrap removes the extra one
    check = named(diagnose(own), "mapping", f"{own.names.audit} <- {own.names.users}", "2 mappings")
    assert "duplicates" in check.fix
    stack.converge(own.settings)
    assert failures(diagnose(own)) == []


def broken_zip(module: str) -> tuple:
    """The function's code with a syntax error appended to its handler module, and its line."""
    source = (HANDLERS / f"{module}.py").read_text().splitlines() + ["def broken(:"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{module}.py", "\n".join(source) + "\n")
        archive.writestr("projection.py", (HANDLERS / "projection.py").read_text())
    return buffer.getvalue(), len(source)


def deploy_broken_audit(own, email) -> int:
    """audit deployed with a syntax error and a record it failed on (on MiniStack, the mapping
    reports the failed batch before this returns); the error's line."""
    lam = own.client("lambda")
    code, line = broken_zip("audit")
    lam.update_function_code(FunctionName=own.names.audit, ZipFile=code)
    lam.get_waiter("function_updated_v2").wait(FunctionName=own.names.audit)
    own.dynamodb.put_item(TableName=own.names.users, Item=user_item(email))
    if backend_of(own.settings) == "ministack":  # LocalStack never updates the result
        wait_for(lambda: mapping_of(own, "audit").get("LastProcessingResult") == "FAILED",
                 "the audit mapping's batch to fail", timeout=30)
    return line


def test_doctor_function_failing_on_import_named_with_its_error(own, email):
    # GIVEN audit deployed with a syntax error, and a record for it to fail on
    line = deploy_broken_audit(own, email)
    label = f"{own.names.audit} <- {own.names.users}"
    # WHEN doctor runs
    found = diagnose(own)
    # THEN the function is named with the runtime's error (line included) and the fix
    check = named(found, "function", own.names.audit, "fails on start")
    assert f"line {line}" in check.detail, check.detail
    assert "handlers/audit.py" in check.fix and "make bootstrap" in check.fix
    # and the failed mapping gives that reason, not a bare FAILED (MiniStack reports the failed
    # batch, deploy_broken_audit waited for it; LocalStack never updates the result)
    if backend_of(own.settings) == "ministack":
        assert "cannot start" in named(found, "mapping", label, "FAILED").detail
    stack.converge(own.settings)
    assert not [c for c in failures(diagnose(own)) if c.part == "function"]


def test_doctor_dead_letter_named_and_quarantine_reads_it_without_consuming(own):
    # GIVEN a dead letter as a mapping's OnFailure sends it
    sqs, url = own.sqs, own.queue_url("dlq")
    body = {"requestContext": {"functionArn": f"arn:aws:lambda:us-east-1:000000000000:function:{own.names.replicate}",
                               "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 11},
            "responseContext": {"functionError": "Unhandled"}, "version": "1.0",
            "DDBStreamBatchInfo": {"shardId": "shardId-1", "batchSize": 3, "startSequenceNumber": "100",
                                   "endSequenceNumber": "102", "streamArn": "arn:stream"}}
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))
    # WHEN doctor runs THEN it names the queue, its depth and what to run
    check = named(diagnose(own), "queue", own.names.dlq, "1 message")
    assert "make quarantine" in check.fix
    # WHEN the messages are listed, twice THEN both times the dead letter is there, whole
    for _ in range(2):
        [message] = queue_contents.peek(sqs, url, "dlq")
        assert message.reason == "RetryAttemptsExhausted (Unhandled)"
        assert "batch of 3" in message.detail and "100..102" in message.detail
    assert own.queue_depth("dlq") == 1



def test_quarantine_lists_every_message_past_the_first_ten_and_leaves_them_all(own):
    # GIVEN 15 quarantined records (a receive returns at most 10)
    sqs, url = own.sqs, own.queue_url("quarantine")
    emails = [f"q{i:02d}-{uuid.uuid4().hex[:6]}@example.com" for i in range(15)]
    for email in emails:
        record = {"eventName": "INSERT", "dynamodb": {"Keys": {"email": {"S": email}}, "SequenceNumber": "1"}}
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"reason": "missing attribute 'city'", "record": record}))
    # WHEN they are listed, twice THEN both times all 15 are there, each once
    for _ in range(2):
        assert sorted(m.user for m in queue_contents.peek(sqs, url, "quarantine")) == emails
    # AND none was taken away or left hidden
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                                                        "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    assert (attributes["ApproximateNumberOfMessages"], attributes["ApproximateNumberOfMessagesNotVisible"]) == ("15", "0")

def test_doctor_filter_that_drops_records_named(own, email):
    # GIVEN audit's mapping filtered to REMOVE events only, and a user in the table
    lam = own.client("lambda")
    own.dynamodb.put_item(TableName=own.names.users, Item=user_item(email))
    m = mapping_of(own, "audit")
    lam.update_event_source_mapping(UUID=m["UUID"], FilterCriteria={
        "Filters": [{"Pattern": json.dumps({"eventName": ["REMOVE"]})}]})
    wait_for(lambda: mapping_of(own, "audit").get("FilterCriteria"), "the filter to be set")
    # WHEN doctor runs THEN it says the filter drops an INSERT of that table's items
    check = named(diagnose(own), "mapping", f"{own.names.audit} <- {own.names.users}", "drop an INSERT")
    assert "make bootstrap" in check.fix
    # AND the fix it names removes the filter
    stack.converge(own.settings)
    assert not (mapping_of(own, "audit").get("FilterCriteria") or {}).get("Filters")


def test_doctor_latest_mapping_after_writes_named(own, email):
    # GIVEN a user written, then audit's mapping recreated with LATEST
    lam = own.client("lambda")
    own.dynamodb.put_item(TableName=own.names.users, Item=user_item(email))
    m = mapping_of(own, "audit")
    lam.delete_event_source_mapping(UUID=m["UUID"])
    wait_for(lambda: not mappings_of(lam, own.names.audit), "the old mapping gone")
    # Stream times are whole seconds: the mapping must be created in a later second than the record.
    written = time.time()
    wait_for(lambda: time.time() >= int(written) + 2, "the clock to pass the second the record was written in",
             timeout=5, interval=0.05)
    lam.create_event_source_mapping(FunctionName=own.names.audit, EventSourceArn=m["EventSourceArn"],
                                    StartingPosition="LATEST", BatchSize=100)
    # WHEN doctor runs THEN it says the records before it are never seen
    check = named(diagnose(own), "mapping", f"{own.names.audit} <- {own.names.users}", "LATEST, created")
    assert "reconcile" in check.fix and "make bootstrap" in check.fix
    # AND the bootstrap it names replaces the mapping with one that reads from the start
    stack.converge(own.settings)
    assert mapping_of(own, "audit")["StartingPosition"] == "TRIM_HORIZON"


def test_function_failing_on_import_shown_by_status_logs_and_doctor_cli(own, email):
    # GIVEN audit deployed with a syntax error, and a record it fails on
    line = deploy_broken_audit(own, email)
    # WHEN status, logs and doctor run as a user runs them
    status, logs, doctor = cli(own.settings, "status"), cli(own.settings, "logs", "--no-follow", "--function", "audit"), \
        cli(own.settings, "doctor", "--no-probe")
    # THEN each shows the error with its line, marks the part failed, and says what to run
    assert status.returncode == 1 and f"line {line}" in status.stdout, status.stdout
    assert not [x for x in status.stdout.splitlines() if x.strip().startswith("ok") and own.names.audit in x.split()[2:3]]
    assert "cannot start" in logs.stdout and f"line {line}" in logs.stdout, logs.stdout
    assert doctor.returncode == 1 and "FAIL function" in doctor.stdout and "run: fix handlers/audit.py" in doctor.stdout


def test_watch_cli_decodes_filters_and_records_raw(own, email, tmp_path):
    # GIVEN a user created, moved and removed
    users, ddb = own.names.users, own.dynamodb
    ddb.put_item(TableName=users, Item=user_item(email, city="Boise"))
    ddb.put_item(TableName=users, Item=user_item(email, city="Nampa"))
    ddb.put_item(TableName=users, Item=user_item("other-" + email))
    ddb.delete_item(TableName=users, Key={"email": {"S": email}})
    # WHEN watch reads the stream from its start, for that key only, recording raw records
    record = tmp_path / "records.jsonl"
    result = cli(own.settings, "watch", "--from-start", "--key", email, "--record", str(record), "--stop-after", "2")
    # THEN one line per record of that key, in order, the move as old -> new
    assert result.returncode == 0, result.stderr
    lines = [x for x in result.stdout.splitlines() if email in x]
    assert [x.split()[1] for x in lines] == ["INSERT", "MODIFY", "REMOVE"], result.stdout
    assert "city: 'Boise' -> 'Nampa'" in lines[1]
    raw = [json.loads(x) for x in record.read_text().splitlines()]
    assert [r["eventName"] for r in raw] == ["INSERT", "MODIFY", "REMOVE"]
    # and --event keeps only those events
    only = cli(own.settings, "watch", "--from-start", "--event", "MODIFY", "--stop-after", "2")
    assert [x.split()[1] for x in only.stdout.splitlines()[1:]] == ["MODIFY"], only.stdout
