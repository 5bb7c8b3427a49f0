"""The reference-style replicate handler, for `make bench` only (never deployed by make up):
one put_item or delete_item per stream record, as most tutorials write it. Same projection
as handlers/replicate.py, so the benchmark compares write strategies and nothing else."""
import json

import boto3
import environment
import log_lines
import projection

(TARGET_TABLE,) = environment.require(environment.TARGET_TABLE)
dynamodb = boto3.client("dynamodb")


def handler(event, context):
    for record in event.get("Records", []):
        change = record["dynamodb"]
        old, new = change.get("OldImage"), change.get("NewImage")
        old_key = projection.target_key(old) if old else None
        item = projection.item_to_client_form(projection.project(new)) if new and record["eventName"] != "REMOVE" else None
        if old_key and (item is None or projection.key_id(old_key) != projection.key_id(item)):
            dynamodb.delete_item(TableName=TARGET_TABLE, Key=old_key)
        if item is not None:
            dynamodb.put_item(TableName=TARGET_TABLE, Item=item)
    # One line per batch, as replicate prints: MiniStack waits up to 50 ms for output from a
    # stream-triggered function that prints nothing, which would slow this baseline (and the
    # poller every mapping shares) for a reason that is not its write strategy.
    summary = {log_lines.RECORDS: len(event.get("Records", []))}
    print(json.dumps({"reference": summary}))
    return summary
