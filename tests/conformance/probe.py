"""The function every conformance probe deploys: it records each batch it gets into a sink
table (who, which keys, which event names, the records themselves) and then fails, reports
failures or succeeds as its MODE says. Direct invocations answer its code version and
whether its role let it write. Stdlib + boto3, like the handlers."""
import json
import os
import time
import uuid

import boto3

SINK = os.environ["SINK"]
MODE = os.environ.get("MODE", "")
VERSION = "v1"
ddb = boto3.client("dynamodb")


def _key(record):
    return record["dynamodb"]["Keys"]["pk"]["S"]


def handler(event, context):
    records = event.get("Records")
    if records is None:  # a direct invocation
        try:
            ddb.put_item(TableName=SINK, Item={"pk": {"S": f"direct-{uuid.uuid4().hex}"}, "fn": {"S": "direct"}})
            access = "allowed"
        except Exception as error:  # noqa: BLE001 - the probe reports whatever the backend answered
            access = getattr(error, "response", {}).get("Error", {}).get("Code", type(error).__name__)
        return {"version": VERSION, "access": access}
    ddb.put_item(TableName=SINK, Item={
        "pk": {"S": uuid.uuid4().hex}, "fn": {"S": context.function_name}, "t": {"N": repr(time.time())},
        "keys": {"S": json.dumps([_key(r) for r in records])}, "records": {"S": json.dumps(records, default=str)}})
    bad = [r for r in records if _key(r).startswith("bad")]
    if MODE == "fail" or (MODE == "fail-on-bad" and bad):
        raise RuntimeError(f"probe failure on {len(records)} records")
    if MODE == "report" and bad:
        return {"batchItemFailures": [{"itemIdentifier": bad[0]["dynamodb"]["SequenceNumber"]}]}
    return {}
