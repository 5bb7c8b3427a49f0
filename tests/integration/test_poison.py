"""Records replicate cannot place go to the quarantine queue, whole, and never block the stream."""
from __future__ import annotations

from ddblab.core.waiting import wait_for
from tests.integration.helpers import record_email, take_messages, target_rows, user_item

POISON = {
    "no city": lambda e: {"email": {"S": e}, "state": {"S": "Ohio"}, "zipcode": {"S": "43004"}},
    "no state": lambda e: {"email": {"S": e}, "city": {"S": "Columbus"}},
    "city is a number": lambda e: user_item(e, city="x") | {"city": {"N": "7"}},
    "state is empty": lambda e: user_item(e, state=""),
    "city holds the separator": lambda e: user_item(e, city="Col#umbus"),
}


def test_poison_records_quarantined_with_reason_and_stream_flows(live, email):
    poison_emails = {f"{name.replace(' ', '-')}-{email}": name for name in POISON}
    # GIVEN unplaceable items written straight into users (the API would refuse them)
    for poison_email, name in poison_emails.items():
        live.dynamodb.put_item(TableName=live.names.users, Item=POISON[name](poison_email))
    # AND a good user written after them
    live.dynamodb.put_item(TableName=live.names.users, Item=user_item(email, city="Columbus", state="Ohio"))

    # THEN the good user still reaches the target: the poison did not block the stream
    wait_for(lambda: len(target_rows(live, email)) == 1, f"{email} in users_by_location after poison records", timeout=30)
    # AND every poison record is in the quarantine queue with its reason and the full record
    found = take_messages(live.sqs, live.queue_url("quarantine"), record_email, set(poison_emails),
                          "every poison record in the quarantine queue")
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
    # GIVEN a user quarantined for a missing city (its message taken: the queue is shared)
    live.dynamodb.put_item(TableName=live.names.users, Item={"email": {"S": email}, "state": {"S": "Ohio"}})
    body = take_messages(live.sqs, live.queue_url("quarantine"), record_email, {email}, f"{email} quarantined")[email]
    assert "missing attribute 'city'" in body["reason"]
    # WHEN the item is fixed
    live.dynamodb.put_item(TableName=live.names.users, Item=user_item(email, state="Ohio", city="Dayton"))
    # THEN it is replicated like any other
    wait_for(lambda: [r["city"]["S"] for r in target_rows(live, email)] == ["Dayton"], f"{email} in Dayton", timeout=30)


def test_item_target_refuses_quarantined_and_stream_flows(live, email):
    # GIVEN a user already replicated, that then grows to fit in users (400 KB) but not
    # once the target key is added
    big = "big-" + email
    live.dynamodb.put_item(TableName=live.names.users, Item=user_item(big, state="Ohio", city="Canton"))
    wait_for(lambda: len(target_rows(live, big)) == 1, f"{big} replicated while small", timeout=30)
    item = user_item(big, state="Ohio", city="Canton") | {"bio": {"S": ""}}
    size = sum(len(k) + (len(v["S"]) if "S" in v else 1) for k, v in item.items())  # DynamoDB's item size
    item["bio"] = {"S": "x" * (400 * 1024 - size - 4)}  # 4 bytes under the limit; the target key adds ~40
    live.dynamodb.put_item(TableName=live.names.users, Item=item)
    # AND a good user after it
    live.dynamodb.put_item(TableName=live.names.users, Item=user_item(email, state="Ohio", city="Canton"))
    # THEN the good user is replicated: the refusal did not block the stream
    wait_for(lambda: len(target_rows(live, email)) == 1, f"{email} replicated after an item the target refuses", timeout=60)
    # AND the refused record is in the quarantine queue with the table's reason
    body = take_messages(live.sqs, live.queue_url("quarantine"), record_email, {big},
                         f"{big} in the quarantine queue")[big]
    assert "refuse the write for good" in body["reason"] and "size" in body["reason"]
    assert "truncated" in body and body["record"]["dynamodb"]["Keys"] == {"email": {"S": big}}
    # AND its old, small row is gone: the target never keeps a stale version of it
    assert target_rows(live, big) == []
