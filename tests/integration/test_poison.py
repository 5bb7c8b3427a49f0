"""Records replicate cannot place go to the quarantine queue, whole, and never block the stream."""
from __future__ import annotations

import json

from scripts.waiting import wait_for
from tests.integration.helpers import target_rows, user_item

POISON = {
    "no city": lambda e: {"email": {"S": e}, "state": {"S": "Ohio"}, "zipcode": {"S": "43004"}},
    "no state": lambda e: {"email": {"S": e}, "city": {"S": "Columbus"}},
    "city is a number": lambda e: user_item(e, city="x") | {"city": {"N": "7"}},
    "state is empty": lambda e: user_item(e, state=""),
    "city holds the separator": lambda e: user_item(e, city="Col#umbus"),
}


def test_poison_records_quarantined_with_reason_and_stream_flows(live, email):
    sqs = live.client("sqs")
    queue = live.queue_urls["quarantine"]
    poison_emails = {f"{name.replace(' ', '-')}-{email}": name for name in POISON}
    # GIVEN unplaceable items written straight into users (the API would refuse them)
    for poison_email, name in poison_emails.items():
        live.dynamodb.put_item(TableName=live.names["users"], Item=POISON[name](poison_email))
    # AND a good user written after them
    live.dynamodb.put_item(TableName=live.names["users"], Item=user_item(email, city="Columbus", state="Ohio"))

    # THEN the good user still reaches the target: the poison did not block the stream
    wait_for(lambda: len(target_rows(live, email)) == 1, f"{email} in users_by_location after poison records", timeout=30)
    # AND every poison record is in the quarantine queue with its reason and the full record
    found = {}

    def collect():
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            body = json.loads(message["Body"])
            key = body["record"]["dynamodb"]["Keys"]["email"]["S"]
            if key in poison_emails:
                found[key] = body
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        return set(found) == set(poison_emails)
    wait_for(collect, "every poison record in the quarantine queue", timeout=30)
    reasons = {poison_emails[k]: body["reason"] for k, body in found.items()}
    assert "missing attribute 'city'" in reasons["no city"]
    assert "missing attribute 'state'" in reasons["no state"]
    assert "expected S" in reasons["city is a number"]
    assert "empty" in reasons["state is empty"]
    assert "separator" in reasons["city holds the separator"]
    for key, body in found.items():
        assert body["record"]["eventName"] == "INSERT"
        assert body["record"]["dynamodb"]["NewImage"]["email"] == {"S": key}
        assert target_rows(live, key) == []


def test_user_fixed_after_quarantine_then_replicated(live, email):
    # GIVEN a user quarantined for a missing city
    live.dynamodb.put_item(TableName=live.names["users"], Item={"email": {"S": email}, "state": {"S": "Ohio"}})
    # WHEN the item is fixed
    live.dynamodb.put_item(TableName=live.names["users"], Item=user_item(email, state="Ohio", city="Dayton"))
    # THEN it is replicated like any other
    wait_for(lambda: [r["city"]["S"] for r in target_rows(live, email)] == ["Dayton"], f"{email} in Dayton", timeout=30)
