"""replicate.write and replicate.quarantine against fake clients (no emulator)."""
import json

import projection
import pytest
import replicate
from botocore.exceptions import ClientError
from projection import Delete, Put

from ddblab.events import stream_event, stream_record, user_image

TABLE = replicate.TARGET_TABLE


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    monkeypatch.setattr(replicate, "_backoff", lambda attempt: None)


def throttled():
    return ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
                       "BatchWriteItem")


class FakeDynamoDB:
    """batch_write_item that answers from a script: per call, an exception to raise or the
    number of requests to hand back as unprocessed. Records what it applied."""

    def __init__(self, script=()):
        self.script = list(script)
        self.calls = []
        self.applied = []

    def batch_write_item(self, RequestItems):
        requests = RequestItems[TABLE]
        assert set(RequestItems) == {TABLE}
        assert 0 < len(requests) <= 25, "BatchWriteItem takes at most 25 requests"
        self.calls.append(list(requests))
        step = self.script.pop(0) if self.script else 0
        if isinstance(step, Exception):
            raise step
        if callable(step):
            step = step(requests)
        self.applied.extend(requests[:len(requests) - step])
        left = requests[len(requests) - step:] if step else []
        return {"UnprocessedItems": {TABLE: left} if left else {}}


def puts(count, state="NY"):
    return [Put(projection.project(user_image(f"u{i}@example.com", state, "Queens"))) for i in range(count)]


def emails(requests):
    return sorted(r["PutRequest"]["Item"]["email"]["S"] for r in requests)


def test_write_sixty_writes_sent_in_chunks_of_25():
    client = FakeDynamoDB()
    stats = replicate.write(puts(60), client=client)
    assert [len(call) for call in client.calls] == [25, 25, 10]
    assert stats["retries"] == 0 and len(client.applied) == 60
    assert emails(client.applied) == emails([{"PutRequest": {"Item": p.item}} for p in puts(60)])


def test_write_nothing_to_write_makes_no_call():
    client = FakeDynamoDB()
    stats = replicate.write([], client=client)
    assert stats["retries"] == 0
    assert client.calls == []


def test_write_put_and_delete_become_put_and_delete_requests_in_client_form():
    image = user_image("ada@example.com", "NY", "Queens", avatar={"B": "AAE="})
    gone = projection.target_key(user_image("bob@example.com", "TX", "Austin"))
    client = FakeDynamoDB()
    replicate.write([Put(projection.project(image)), Delete(gone)], client=client)
    put, delete = client.calls[0]
    assert put["PutRequest"]["Item"]["avatar"] == {"B": b"\x00\x01"}  # bytes, as the client wants
    assert delete == {"DeleteRequest": {"Key": gone}}


def test_write_unprocessed_items_retried_until_done():
    # GIVEN a table that leaves 10, then 3, then 0 of the 20 requests unprocessed
    client = FakeDynamoDB([10, 3, 0])
    # WHEN the writes are sent
    stats = replicate.write(puts(20), client=client)
    # THEN only the unprocessed ones are re-sent, until every one is applied
    assert [len(call) for call in client.calls] == [20, 10, 3]
    assert client.calls[1] == client.calls[0][10:] and client.calls[2] == client.calls[1][7:]
    assert len(client.applied) == 20 and stats["retries"] == 2


def test_write_throttling_client_error_retried():
    client = FakeDynamoDB([throttled(), throttled(), 0])
    stats = replicate.write(puts(5), client=client)
    assert len(client.calls) == 3 and len(client.applied) == 5
    assert len(client.applied) == 5 and stats["retries"] == 2


def test_write_backs_off_between_attempts(monkeypatch):
    waits = []
    monkeypatch.setattr(replicate, "_backoff", waits.append)
    replicate.write(puts(3), client=FakeDynamoDB([throttled(), 2, 0]))
    assert waits == [0, 1]


def test_write_persistent_failure_raises_after_applying_other_chunks():
    # GIVEN 60 writes whose second chunk is never accepted
    def second_chunk_left_unprocessed(requests):
        return len(requests) if requests[0]["PutRequest"]["Item"]["email"]["S"] == "u25@example.com" else 0
    client = FakeDynamoDB([second_chunk_left_unprocessed] * 50)
    # WHEN they are written with 4 attempts
    with pytest.raises(replicate.ReplicationFailed) as raised:
        replicate.write(puts(60), client=client, attempts=4)
    # THEN chunks 1 and 3 were applied, chunk 2 tried 4 times, and the error says what was left
    assert len(client.applied) == 35
    assert [len(call) for call in client.calls] == [25, 25, 25, 25, 25, 10]
    assert "25 of 60 writes" in str(raised.value) and "25 unprocessed items" in str(raised.value)


def test_write_persistent_client_error_raises_with_last_error():
    client = FakeDynamoDB([throttled()] * 10)
    with pytest.raises(replicate.ReplicationFailed) as raised:
        replicate.write(puts(2), client=client, attempts=3)
    assert len(client.calls) == 3 and client.applied == []
    assert "ProvisionedThroughputExceededException" in str(raised.value)


class FakeSQS:
    def __init__(self, failed=()):
        self.batches = []
        self.failed = list(failed)

    def send_message_batch(self, QueueUrl, Entries):
        assert len(Entries) <= 10, "SendMessageBatch takes at most 10 entries"
        self.batches.append((QueueUrl, Entries))
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": self.failed}


def test_quarantine_message_holds_reason_and_full_record(monkeypatch):
    monkeypatch.setattr(replicate, "QUARANTINE_QUEUE_URL", "http://localhost/q")
    record = stream_record("INSERT", new=user_image("ada@example.com", None, "Queens", avatar={"B": "AAE="}))
    sqs = FakeSQS()
    assert replicate.quarantine([(record, "missing attribute 'state'")], client=sqs) == 1
    [(url, [entry])] = sqs.batches
    assert url == "http://localhost/q"
    assert json.loads(entry["MessageBody"]) == {"reason": "missing attribute 'state'", "record": record}


def test_quarantine_more_than_ten_sent_in_batches_of_ten(monkeypatch):
    monkeypatch.setattr(replicate, "QUARANTINE_QUEUE_URL", "http://localhost/q")
    poison = [(stream_record("INSERT", new=user_image(f"u{i}@example.com", None, None)), f"r{i}") for i in range(23)]
    sqs = FakeSQS()
    assert replicate.quarantine(poison, client=sqs) == 23
    assert [len(entries) for _, entries in sqs.batches] == [10, 10, 3]
    reasons = [json.loads(e["MessageBody"])["reason"] for _, entries in sqs.batches for e in entries]
    assert reasons == [f"r{i}" for i in range(23)]


def test_quarantine_refused_by_queue_raises(monkeypatch):
    monkeypatch.setattr(replicate, "QUARANTINE_QUEUE_URL", "http://localhost/q")
    sqs = FakeSQS(failed=[{"Id": "0", "Code": "InternalError"}])
    with pytest.raises(replicate.ReplicationFailed, match="refused 1"):
        replicate.quarantine([(stream_record("INSERT", new={}), "no state")], client=sqs)


def test_quarantine_without_queue_url_raises_instead_of_dropping(monkeypatch):
    monkeypatch.setattr(replicate, "QUARANTINE_QUEUE_URL", "")
    with pytest.raises(replicate.ReplicationFailed, match="QUARANTINE_QUEUE_URL"):
        replicate.quarantine([({}, "no state")], client=FakeSQS())


def test_quarantine_nothing_to_send_makes_no_call(monkeypatch):
    monkeypatch.setattr(replicate, "QUARANTINE_QUEUE_URL", "")
    sqs = FakeSQS()
    assert replicate.quarantine([], client=sqs) == 0 and sqs.batches == []


def test_handler_batch_with_poison_quarantines_and_writes_the_rest(monkeypatch):
    # GIVEN a batch with one good user and one without a state
    client, sqs = FakeDynamoDB(), FakeSQS()
    monkeypatch.setattr(replicate, "dynamodb", client)
    monkeypatch.setattr(replicate, "sqs", sqs)
    good = user_image("ada@example.com", "NY", "Queens")
    event = stream_event(stream_record("INSERT", new=good),
                         stream_record("INSERT", new=user_image("bob@example.com", None, "Queens")))
    # WHEN the handler runs
    summary = replicate.handler(event, None)
    # THEN the good one is written, the bad one quarantined, and the summary says so
    assert {k: summary[k] for k in ("records", "writes", "quarantined", "retries")} == {
        "records": 2, "writes": 1, "quarantined": 1, "retries": 0}
    assert client.applied == [{"PutRequest": {"Item": projection.project(good)}}]
    assert len(sqs.batches) == 1


def test_handler_write_failure_raises_so_the_batch_is_retried(monkeypatch):
    monkeypatch.setattr(replicate, "dynamodb", FakeDynamoDB([throttled()] * 10))
    monkeypatch.setattr(replicate, "sqs", FakeSQS())
    event = stream_event(stream_record("INSERT", new=user_image("ada@example.com", "NY", "Queens")))
    with pytest.raises(replicate.ReplicationFailed, match="1 of 1 writes"):
        replicate.handler(event, None)


class RefusingDynamoDB(FakeDynamoDB):
    """Refuses, for good (ValidationException), any batch holding one of the given emails."""

    def __init__(self, refused):
        super().__init__()
        self.refused = set(refused)

    def batch_write_item(self, RequestItems):
        requests = RequestItems[TABLE]
        self.calls.append(list(requests))
        if any(r.get("PutRequest", {}).get("Item", {}).get("email", {}).get("S") in self.refused for r in requests):
            raise ClientError({"Error": {"Code": "ValidationException",
                                         "Message": "Item size has exceeded the maximum allowed size"}}, "BatchWriteItem")
        self.applied.extend(requests)
        return {"UnprocessedItems": {}}


def test_write_item_refused_for_good_only_that_write_set_apart():
    # GIVEN a chunk of 30 writes, one of which the table will never accept
    client = RefusingDynamoDB({"u7@example.com"})
    # WHEN written
    stats = replicate.write(puts(30), client=client)
    # THEN the others are applied, the refused one is returned with the reason, nothing raises
    assert emails(client.applied) == sorted(f"u{i}@example.com" for i in range(30) if i != 7)
    [(op, reason)] = stats["rejected"]
    assert op.item["email"]["S"] == "u7@example.com"
    assert "refused the write" in reason and "maximum allowed size" in reason
    # AND the refusal was not retried as if it were transient
    assert sum(1 for call in client.calls if len(call) == 25) == 1


def test_handler_refused_item_quarantined_with_its_record_and_row_deleted(monkeypatch):
    # GIVEN a batch whose second user the target refuses
    client = RefusingDynamoDB({"big@example.com"})
    sent = []

    class FakeSQS:
        def send_message_batch(self, QueueUrl, Entries):
            sent.extend(json.loads(e["MessageBody"]) for e in Entries)
            return {"Successful": [{"Id": e["Id"]} for e in Entries]}
    monkeypatch.setattr(replicate, "dynamodb", client)
    monkeypatch.setattr(replicate, "sqs", FakeSQS())
    monkeypatch.setattr(replicate, "QUARANTINE_QUEUE_URL", "http://queue")
    ok = stream_record("INSERT", new=user_image("ok@example.com", "NY", "Queens"))
    big = stream_record("MODIFY", old=user_image("big@example.com", "NY", "Queens"),
                        new=user_image("big@example.com", "NY", "Queens", bio={"S": "x" * 10}))
    # WHEN the batch is handled
    summary = replicate.handler(stream_event(ok, big), None)
    # THEN the good user is written, the refused record is quarantined whole, its old row deleted
    assert summary["rejected"] == 1 and summary["quarantined"] == 1
    assert "ok@example.com" in emails([r for r in client.applied if "PutRequest" in r])
    assert sent[0]["record"]["dynamodb"]["NewImage"]["email"] == {"S": "big@example.com"}
    assert "refused the write" in sent[0]["reason"]
    assert {"DeleteRequest": {"Key": projection.target_key(user_image("big@example.com", "NY", "Queens"))}} in client.applied


def test_write_validation_not_about_size_raised_not_quarantined():
    # GIVEN a target that refuses every write for a reason about the table (its key changed)
    class WrongKey(FakeDynamoDB):
        def batch_write_item(self, RequestItems):
            self.calls.append(RequestItems[TABLE])
            raise ClientError({"Error": {"Code": "ValidationException",
                                         "Message": "One of the required keys was not given a value"}}, "BatchWriteItem")
    # THEN nothing is set apart as poison: the batch fails, to be retried (and dead-lettered)
    with pytest.raises(replicate.ReplicationFailed):
        replicate.write(puts(3), client=WrongKey(), attempts=2)


def test_write_deadline_passed_stops_retrying():
    client = FakeDynamoDB([throttled()] * 10)
    with pytest.raises(replicate.ReplicationFailed):
        replicate.write(puts(1), client=client, attempts=10, deadline=0)  # long past
    assert len(client.calls) == 1


def test_quarantine_large_bodies_split_into_batches_within_the_limit():
    sent = []

    class FakeSQS:
        def send_message_batch(self, QueueUrl, Entries):
            sent.append(Entries)
            return {"Successful": [{"Id": e["Id"]} for e in Entries]}
    big = [(stream_record("INSERT", new=user_image(f"b{i}@example.com", "NY", None, bio={"S": "x" * 100_000})),
            "missing attribute 'city'") for i in range(3)]
    replicate.quarantine(big, client=FakeSQS())
    assert len(sent) > 1
    assert all(sum(len(e["MessageBody"].encode()) for e in batch) <= replicate.QUARANTINE_MESSAGE_LIMIT for batch in sent)
    assert sum(len(batch) for batch in sent) == 3


def test_quarantine_body_record_too_big_keeps_keys_and_position():
    record = stream_record("INSERT", new=user_image("huge@example.com", "NY", None, bio={"S": "x" * 300_000}))
    body = json.loads(replicate.quarantine_body(record, "missing attribute 'city'"))
    assert len(json.dumps(body)) < replicate.QUARANTINE_MESSAGE_LIMIT
    assert body["record"]["dynamodb"]["Keys"] == {"email": {"S": "huge@example.com"}}
    assert body["record"]["dynamodb"]["SequenceNumber"] == record["dynamodb"]["SequenceNumber"]
    assert "NewImage" not in body["record"]["dynamodb"] and "images are left out" in body["truncated"]
