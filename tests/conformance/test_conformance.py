"""What the backend really does with the behaviours this pipeline and its users depend on.

Each test probes one or a few behaviours on tables, functions and mappings of its own and
records a row: pass (as AWS does it), fail (differently), unsupported (accepted and ignored,
or not there). A probe fails as a test only when the harness itself breaks; what the backend
does is the matrix's business. `make conformance`; TEST_BACKEND=localstack make conformance.
"""
from __future__ import annotations

import json

from botocore.exceptions import ClientError

from ddblab.core.waiting import WaitTimeout

FIELDS = ("eventID", "eventSourceARN", "ApproximateCreationDateTime", "SequenceNumber", "SizeBytes")


def _field(record: dict, name: str):
    return record.get(name, record.get("dynamodb", {}).get(name))


def test_two_mappings_batch_size_and_duplicate(probes, matrix):
    table = probes.table("two")
    one, other = probes.function("two-a"), probes.function("two-b")
    keys = [f"k{i}" for i in range(5)]
    probes.put(table, *keys)
    first = probes.mapping(one, table, BatchSize=2)
    second = probes.mapping(other, table)  # no BatchSize: the default
    a, b = probes.wait_received(one, keys), probes.wait_received(other, keys)
    matrix("two mappings on one stream both receive every record", "pass",
           f"{len(probes.received(one))} and {len(probes.received(other))} of 5 records")
    largest = max(len(batch["keys"]) for batch in a)
    matrix("BatchSize honoured", "pass" if largest <= 2 else "fail", f"BatchSize 2: batches of {[len(x['keys']) for x in a]}")
    default = probes.lam.get_event_source_mapping(UUID=second)["BatchSize"]
    matrix("default BatchSize (AWS: 100)", "pass" if default == 100 else "fail",
           f"BatchSize {default}; batches of {[len(x['keys']) for x in b]}")
    try:
        duplicate = probes.lam.create_event_source_mapping(FunctionName=one, EventSourceArn=probes.stream(table),
                                                           StartingPosition="TRIM_HORIZON", BatchSize=2)
    except ClientError as error:
        matrix("duplicate create_event_source_mapping refused", "pass", error.response["Error"]["Code"])
    else:
        probes.created["mapping"].append(duplicate["UUID"])
        matrix("duplicate create_event_source_mapping refused", "fail", f"a second mapping created ({first} and "
               f"{duplicate['UUID']}): records would be delivered twice")


def test_trim_horizon_and_latest(probes, matrix):
    table = probes.table("start")
    trim, latest = probes.function("start-trim"), probes.function("start-latest")
    probes.put(table, "early")
    probes.mapping(trim, table)
    probes.mapping(latest, table, StartingPosition="LATEST")
    probes.settle(3)  # LATEST is taken at the first poll: give it one
    probes.put(table, "late")
    probes.wait_received(trim, ["early", "late"])
    try:
        probes.wait_received(latest, ["late"], timeout=20)
        got = probes.received(latest)
    except WaitTimeout:
        got = probes.received(latest)
    matrix("TRIM_HORIZON delivers records written before the mapping", "pass", "early and late delivered")
    ok = "early" not in got and "late" in got
    matrix("LATEST does not deliver earlier records", "pass" if ok else "fail", f"LATEST received {got}")


def test_filter_criteria(probes, matrix):
    table = probes.table("filter")
    function = probes.function("filter")
    pattern = {"dynamodb": {"NewImage": {"kind": {"S": ["keep"]}}}}
    probes.mapping(function, table, FilterCriteria={"Filters": [{"Pattern": json.dumps(pattern)}]})
    probes.put(table, "dropped", kind="drop")
    probes.put(table, "kept", kind="keep")
    probes.wait_received(function, ["kept"])
    got = probes.received(function)
    matrix("FilterCriteria filters", "fail" if "dropped" in got else "pass", f"received {got}")


def test_write_paths_overwrite_and_record_fields(probes, matrix):
    table = probes.table("paths")
    function = probes.function("paths")
    probes.mapping(function, table)
    ddb, s = probes.ddb, lambda v: {"S": v}
    writes = {
        "PutItem": lambda: ddb.put_item(TableName=table, Item={"pk": s("put"), "v": s("1")}),
        "UpdateItem": lambda: ddb.update_item(TableName=table, Key={"pk": s("update")}, UpdateExpression="SET v = :v",
                                              ExpressionAttributeValues={":v": s("1")}),
        "BatchWriteItem": lambda: ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": {"pk": s("batch")}}}]}),
        "TransactWriteItems": lambda: ddb.transact_write_items(
            TransactItems=[{"Put": {"TableName": table, "Item": {"pk": s("transact")}}}]),
        "PartiQL ExecuteStatement": lambda: ddb.execute_statement(Statement=f"INSERT INTO \"{table}\" VALUE {{'pk': 'partiql'}}"),
        "overwrite (PutItem on an existing item)": lambda: ddb.put_item(TableName=table, Item={"pk": s("put"), "v": s("2")}),
        "DeleteItem": lambda: ddb.delete_item(TableName=table, Key={"pk": s("update")}),
    }
    refused = {}
    for path, write in writes.items():
        try:
            write()
        except ClientError as error:
            refused[path] = error.response["Error"]["Code"]
    try:
        probes.wait_received(function, ["put", "update", "batch", "transact", "partiql"], timeout=20)
    except WaitTimeout:
        pass
    records = [r for batch in probes.batches(function) for r in batch["records"]]
    events = [(r["dynamodb"]["Keys"]["pk"]["S"], r["eventName"]) for r in records]
    expected = {"PutItem": ("put", "INSERT"), "UpdateItem": ("update", "INSERT"), "BatchWriteItem": ("batch", "INSERT"),
                "TransactWriteItems": ("transact", "INSERT"), "PartiQL ExecuteStatement": ("partiql", "INSERT"),
                "DeleteItem": ("update", "REMOVE")}
    for path, event in expected.items():
        seen = event in events
        observed = f"refused: {refused[path]}" if path in refused else (
            f"{event[1]} record" if seen else f"no {event[1]} record for {event[0]!r}")
        matrix(f"a stream record for {path}", "pass" if seen else ("unsupported" if path in refused else "fail"), observed)
    put_events = [name for key, name in events if key == "put"]
    matrix("an overwrite arrives as MODIFY", "pass" if put_events[1:2] == ["MODIFY"] else "fail",
           f"events for one item put twice: {put_events}")
    missing = sorted({f for r in records for f in FIELDS if _field(r, f) in (None, "")})
    sample = records[0] if records else {}
    matrix("records carry eventID, eventSourceARN, ApproximateCreationDateTime, SequenceNumber, SizeBytes",
           "fail" if missing or not records else "pass",
           (f"missing {missing}; " if missing else "") + ", ".join(f"{f}={_field(sample, f)!r}" for f in FIELDS)[:240])


def test_function_error_retries_and_on_failure(probes, matrix):
    table = probes.table("retry")
    function = probes.function("retry", mode="fail")
    url, arn = probes.queue("retry-dlq")
    probes.put(table, "a", "b")
    mapping = probes.mapping(function, table, BatchSize=10, MaximumRetryAttempts=1, MaximumRecordAgeInSeconds=60,
                   DestinationConfig={"OnFailure": {"Destination": arn}})
    probes.wait_received(function, ["a", "b"])
    probes.settle(10)  # AWS: the first try and one retry, then the OnFailure destination
    invocations = len(probes.batches(function))
    matrix("a function error retries the batch", "pass" if invocations >= 2 else "fail", f"{invocations} invocations in ~10 s")
    matrix("MaximumRetryAttempts honoured", "pass" if invocations == 2 else ("unsupported" if invocations > 2 else "fail"),
           f"MaximumRetryAttempts 1: {invocations} invocations in ~10 s")
    messages = probes.sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2, MaxNumberOfMessages=10).get("Messages", [])
    on_failure(matrix, messages, "after MaximumRetryAttempts")
    probes.stop(mapping)  # a batch failing forever would hold up the backend's poller


def on_failure(matrix, messages: list, when: str) -> None:
    """One row per condition that should send the batch to the OnFailure destination."""
    behaviour = f"the OnFailure destination receives a message {when}"
    if not messages:
        matrix(behaviour, "fail", "no message")
        return
    body = json.loads(messages[0]["Body"])
    holds = "; ".join(f"{k} {{{', '.join(sorted(v))}}}" if isinstance(v, dict) else k for k, v in sorted(body.items()))
    records = "with the records" if "Records" in json.dumps(body) else "no records"
    matrix(behaviour, "pass", f"{holds} ({records})"[:400])


def test_maximum_record_age(probes, matrix):
    table = probes.table("age")
    function = probes.function("age", mode="fail")
    url, arn = probes.queue("age-dlq")
    probes.put(table, "old")
    try:
        mapping = probes.mapping(function, table, MaximumRecordAgeInSeconds=5, MaximumRetryAttempts=-1,
                       DestinationConfig={"OnFailure": {"Destination": arn}})
    except ClientError as error:
        matrix("MaximumRecordAgeInSeconds honoured", "pass",
               f"5 s refused as AWS refuses it (minimum 60): {error.response['Error']['Code']}")
        return
    probes.wait_received(function, ["old"])
    probes.settle(12)
    before = len(probes.batches(function))
    probes.settle(3)
    still_retrying = len(probes.batches(function)) > before
    messages = probes.sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2, MaxNumberOfMessages=10).get("Messages", [])
    matrix("MaximumRecordAgeInSeconds honoured", "fail" if still_retrying else "pass",
           f"5 s (AWS refuses under 60): {'still retried after 15 s' if still_retrying else 'retries stopped'}, "
           f"{len(messages)} OnFailure message(s)")
    on_failure(matrix, messages, "after MaximumRecordAgeInSeconds")
    probes.stop(mapping)  # a batch failing forever would hold up the backend's poller


def test_report_batch_item_failures(probes, matrix):
    table = probes.table("partial")
    function = probes.function("partial", mode="report")
    probes.ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": {"pk": {"S": k}}}} for k in ("g1", "bad", "g2")]})
    mapping = probes.mapping(function, table, BatchSize=10, MaximumRetryAttempts=1,
                             FunctionResponseTypes=["ReportBatchItemFailures"])
    probes.wait_received(function, ["g1", "bad", "g2"])
    probes.settle(8)
    batches = [b["keys"] for b in probes.batches(function)]
    retried = batches[1:]
    if retried and retried[0][0] == "bad":
        status, observed = "pass", f"retried from the reported record: {batches}"
    elif retried:
        status, observed = "fail", f"the whole batch retried: {batches}"
    else:
        status, observed = "unsupported", f"no retry: the reported record counted as processed ({batches})"
    matrix("ReportBatchItemFailures rewinds to the failed record", status, observed)
    probes.stop(mapping)  # a batch failing forever would hold up the backend's poller


def test_bisect_batch_on_function_error(probes, matrix):
    table = probes.table("bisect")
    function = probes.function("bisect", mode="fail-on-bad")
    probes.ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": {"pk": {"S": k}}}}
                                                      for k in ("g1", "g2", "bad", "g3")]})
    mapping = probes.mapping(function, table, BatchSize=10, MaximumRetryAttempts=2, BisectBatchOnFunctionError=True)
    probes.wait_received(function, ["g1", "g2", "bad", "g3"])
    probes.settle(8)
    sizes = [len(b["keys"]) for b in probes.batches(function)]
    split = len(sizes) > 1 and min(sizes[1:]) < sizes[0]
    matrix("BisectBatchOnFunctionError honoured", "pass" if split else "unsupported",
           f"batch sizes in order: {sizes[:12]}" + ("" if split else " (never split)"))
    probes.stop(mapping)  # a batch failing forever would hold up the backend's poller


def test_update_function_code_next_invocation(probes, matrix):
    from tests.conformance.conftest import probe_zip
    function = probes.function("code")
    invoke = lambda: json.loads(probes.lam.invoke(FunctionName=function)["Payload"].read())  # noqa: E731 - a one-line helper, local to where it is used
    before = invoke()["version"]
    probes.lam.update_function_code(FunctionName=function, ZipFile=probe_zip("v2"))
    probes.lam.get_waiter("function_updated_v2").wait(FunctionName=function, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    after = invoke()["version"]
    matrix("update_function_code takes effect at the next invocation", "pass" if (before, after) == ("v1", "v2") else "fail",
           f"{before} before, {after} at the next invocation")


def test_iam_enforced_for_function_credentials(probes, matrix):
    function = probes.function("iam", role=probes.bare_role)
    access = json.loads(probes.lam.invoke(FunctionName=function)["Payload"].read())["access"]
    matrix("IAM enforced for function credentials", "pass" if access == "AccessDeniedException" else "unsupported",
           f"a role with no DynamoDB grant called PutItem: {access}")
