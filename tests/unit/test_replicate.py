"""replicate.write and replicate.quarantine against fake clients (no emulator)."""
import json
import types

import projection
import pytest
import replicate
from botocore.exceptions import ClientError
from projection import Delete, Put

from ddblab.events import stream_event, stream_record, user_image
from tests.fakes import FakeTarget

TABLE = replicate.TARGET_TABLE
BACKOFF = replicate._backoff  # the real one: every test but its own runs without sleeping
# SQS's old 256 KiB message limit less 1 KiB of headroom, written here by hand: a change to
# replicate's own constant must show in these tests, not carry them along.
QUARANTINE_LIMIT = 256 * 1024 - 1024


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    monkeypatch.setattr(replicate, "_backoff", lambda attempt: None)


def throttled():
    return ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
                       "BatchWriteItem")


class FakeDynamoDB(FakeTarget):
    """The target of replicate's TARGET_TABLE, answering from a script (tests/fakes.py)."""

    def __init__(self, script=()):
        super().__init__(TABLE, script)


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
        assert len({e["Id"] for e in Entries}) == len(Entries), "SendMessageBatch refuses repeated Ids"
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
    with pytest.raises(replicate.ReplicationFailed, match="^QUARANTINE_QUEUE_URL is not set; cannot quarantine poison records$"):
        replicate.quarantine([({}, "no state")], client=FakeSQS())


def test_quarantine_nothing_to_send_makes_no_call(monkeypatch):
    monkeypatch.setattr(replicate, "QUARANTINE_QUEUE_URL", "")
    sqs = FakeSQS()
    assert replicate.quarantine([], client=sqs) == 0 and sqs.batches == []


def test_handler_batch_with_poison_quarantines_and_writes_the_rest(monkeypatch, capsys):
    # GIVEN a batch with one good user and one without a state
    client, sqs = FakeDynamoDB(), FakeSQS()
    monkeypatch.setattr(replicate, "dynamodb", client)
    monkeypatch.setattr(replicate, "sqs", sqs)
    good = user_image("ada@example.com", "NY", "Queens")
    event = stream_event(stream_record("INSERT", new=good),
                         stream_record("INSERT", new=user_image("bob@example.com", None, "Queens")))
    # WHEN the handler runs
    summary = replicate.handler(event, None)
    # THEN the good one is written, the bad one quarantined, and the summary says so, in one log line
    assert summary == {"records": 2, "writes": 1, "poison": 1, "retries": 0, "rejected": 0, "quarantined": 1}
    assert client.applied == [{"PutRequest": {"Item": projection.project(good)}}]
    assert len(sqs.batches) == 1
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == [{"replicate": summary}]


def test_handler_event_without_records_writes_nothing_and_says_so(monkeypatch, capsys):
    client = FakeDynamoDB()
    monkeypatch.setattr(replicate, "dynamodb", client)
    assert replicate.handler({}, None) == {"records": 0, "writes": 0, "poison": 0, "retries": 0, "rejected": 0, "quarantined": 0}
    assert client.calls == [] and json.loads(capsys.readouterr().out)["replicate"]["records"] == 0


class Context:
    """A Lambda context with this much time left."""

    def __init__(self, remaining_ms):
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self):
        return self.remaining_ms


@pytest.mark.parametrize("context, attempts", [
    (Context(5000), replicate.ATTEMPTS),   # exactly the safety margin left: the deadline is now, not yet past
    (Context(4999), 1),                    # less than the safety margin: no time to retry
    (Context(60_000), replicate.ATTEMPTS),
    (None, replicate.ATTEMPTS),            # no context (a local call): no deadline
    (object(), replicate.ATTEMPTS),        # a context that cannot tell the time left: no deadline
], ids=["margin", "under-margin", "a-minute", "no-context", "context-without-clock"])
def test_handler_retries_only_while_the_function_has_time_left(monkeypatch, context, attempts):
    # GIVEN a frozen clock and a table that throttles every write
    monkeypatch.setattr(replicate, "time", types.SimpleNamespace(monotonic=lambda: 1000.0))
    client = FakeDynamoDB([throttled()] * 99)
    monkeypatch.setattr(replicate, "dynamodb", client)
    event = stream_event(stream_record("INSERT", new=user_image("ada@example.com", "NY", "Queens")))
    # WHEN the handler runs THEN it retries until SAFETY_SECONDS before the function's timeout, then fails the batch
    with pytest.raises(replicate.ReplicationFailed):
        replicate.handler(event, context)
    assert len(client.calls) == attempts


def test_handler_write_failure_logged_with_its_retries_and_error(monkeypatch, capsys):
    monkeypatch.setattr(replicate, "dynamodb", FakeDynamoDB([throttled()] * 99))
    event = stream_event(stream_record("INSERT", new=user_image("ada@example.com", "NY", "Queens")))
    with pytest.raises(replicate.ReplicationFailed) as raised:
        replicate.handler(event, None)
    assert json.loads(capsys.readouterr().out) == {"replicate_failed": {
        "records": 1, "writes": 1, "poison": 0, "retries": replicate.ATTEMPTS - 1, "error": str(raised.value)}}


def test_handler_quarantine_failure_logged_with_the_writes_retries(monkeypatch, capsys):
    # GIVEN a write that succeeds on its second attempt, and a queue that refuses the poison
    monkeypatch.setattr(replicate, "dynamodb", FakeDynamoDB([throttled(), 0]))
    monkeypatch.setattr(replicate, "sqs", FakeSQS(failed=[{"Id": "0", "Code": "InternalError"}]))
    event = stream_event(stream_record("INSERT", new=user_image("ada@example.com", "NY", "Queens")),
                         stream_record("INSERT", new=user_image("bob@example.com", None, "Queens")))
    # WHEN the handler runs THEN the batch fails, and the log line still counts the write's retry
    with pytest.raises(replicate.ReplicationFailed, match="quarantine queue refused 1"):
        replicate.handler(event, None)
    assert json.loads(capsys.readouterr().out)["replicate_failed"]["retries"] == 1


def test_handler_unexpected_error_logged_and_raised_as_it_is(monkeypatch, capsys):
    class Broken:
        def batch_write_item(self, RequestItems):
            raise RuntimeError("boom")
    monkeypatch.setattr(replicate, "dynamodb", Broken())
    event = stream_event(stream_record("INSERT", new=user_image("ada@example.com", "NY", "Queens")))
    with pytest.raises(RuntimeError, match="^boom$"):
        replicate.handler(event, None)
    assert json.loads(capsys.readouterr().out) == {"replicate_failed": {
        "records": 1, "writes": 1, "poison": 0, "retries": 0, "error": "boom"}}


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
    assert all(sum(len(e["MessageBody"].encode()) for e in batch) <= QUARANTINE_LIMIT for batch in sent)
    assert sum(len(batch) for batch in sent) == 3


def test_quarantine_body_record_too_big_keeps_keys_and_position():
    record = stream_record("INSERT", new=user_image("huge@example.com", "NY", None, bio={"S": "x" * 300_000}))
    body = json.loads(replicate.quarantine_body(record, "missing attribute 'city'"))
    assert len(json.dumps(body)) < QUARANTINE_LIMIT
    assert body["record"]["dynamodb"]["Keys"] == {"email": {"S": "huge@example.com"}}
    assert body["record"]["dynamodb"]["SequenceNumber"] == record["dynamodb"]["SequenceNumber"]
    assert body["record"] == {
        "eventID": record["eventID"], "eventName": "INSERT", "eventSourceARN": record["eventSourceARN"],
        "dynamodb": {k: record["dynamodb"][k] for k in ("Keys", "SequenceNumber", "ApproximateCreationDateTime", "SizeBytes")}}
    assert body["reason"] == "missing attribute 'city'"
    size = len(json.dumps({"reason": "missing attribute 'city'", "record": record}).encode())
    assert body["truncated"] == (f"the record is {size} bytes, over {QUARANTINE_LIMIT}: "
                                 "its images are left out; read the item from the source table by its keys")


def too_big():
    return ClientError({"Error": {"Code": "ValidationException", "Message": "Item size has exceeded the maximum allowed size"}},
                       "BatchWriteItem")


def test_backoff_doubles_from_50ms_to_at_most_2s_jittered_down_to_half(monkeypatch):
    # GIVEN a clock that records each sleep, and jitter pinned at its lowest, then its highest
    slept = []
    monkeypatch.setattr(replicate.time, "sleep", slept.append)
    for pinned in (0.0, 1.0):
        monkeypatch.setattr(replicate.random, "uniform", lambda low, high, pinned=pinned: low + pinned * (high - low))
        # WHEN the first eight retries back off
        for attempt in range(8):
            BACKOFF(attempt)
    # THEN each wait is 50 ms doubled per attempt, capped at 2 s, times a jitter in [0.5, 1]
    full = [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]
    assert slept == pytest.approx([wait / 2 for wait in full] + full)


@pytest.mark.parametrize("error", [
    ClientError({"Error": {"Code": "ValidationException"}}, "BatchWriteItem"),
    ClientError({"ResponseMetadata": {"HTTPStatusCode": 500}}, "BatchWriteItem"),
], ids=["validation-without-message", "no-error-section"])
def test_write_client_error_that_is_no_size_refusal_retried_then_raised(error):
    # GIVEN a table that fails every call with an error that says nothing about size
    client = FakeDynamoDB([error] * 3)
    # WHEN written with 3 attempts THEN it is retried like any transient failure, then raised
    with pytest.raises(replicate.ReplicationFailed, match="1 of 1 writes"):
        replicate.write(puts(1), client=client, attempts=3)
    assert len(client.calls) == 3


def test_write_connection_error_retried_then_raised_naming_it():
    from botocore.exceptions import EndpointConnectionError
    client = FakeDynamoDB([EndpointConnectionError(endpoint_url="http://localhost:4566")] * 2)
    with pytest.raises(replicate.ReplicationFailed) as raised:
        replicate.write(puts(1), client=client, attempts=2)
    assert "last error: Could not connect to the endpoint URL" in str(raised.value)


def test_write_answer_without_unprocessed_items_means_all_written():
    # GIVEN a table whose answer leaves UnprocessedItems out (it is optional in the API)
    class Terse(FakeDynamoDB):
        def batch_write_item(self, RequestItems):
            super().batch_write_item(RequestItems)
            return {}
    client = Terse()
    # WHEN written THEN that is success, with no retry
    assert replicate.write(puts(3), client=client)["retries"] == 0 and len(client.calls) == 1


def test_write_gives_up_after_the_last_attempt_without_a_last_backoff(monkeypatch):
    waits = []
    monkeypatch.setattr(replicate, "_backoff", waits.append)
    with pytest.raises(replicate.ReplicationFailed) as raised:
        replicate.write(puts(1), client=FakeDynamoDB([throttled()] * 5), attempts=3)
    # 3 attempts are 2 retries, each after a backoff; the failure carries the count
    assert waits == [0, 1] and raised.value.stats["retries"] == 2


class OneRefusedOneThrottled(RefusingDynamoDB):
    """Refuses batches holding `refused` for good; throttles single writes of `throttled` `times` times."""

    def __init__(self, refused, throttled_email, times):
        super().__init__({refused})
        self.throttled_email, self.times = throttled_email, times

    def batch_write_item(self, RequestItems):
        [request] = RequestItems[TABLE] if len(RequestItems[TABLE]) == 1 else [None]
        if request and request["PutRequest"]["Item"]["email"]["S"] == self.throttled_email and self.times:
            self.times -= 1
            self.calls.append([request])
            raise throttled()
        return super().batch_write_item(RequestItems)


def test_write_refused_chunk_written_one_by_one_with_retries_counted():
    # GIVEN a chunk the table refuses because of u1, and u2 throttled once when written alone
    client = OneRefusedOneThrottled("u1@example.com", "u2@example.com", times=1)
    # WHEN written
    stats = replicate.write(puts(3), client=client)
    # THEN u1 is set apart, u0 and u2 are written, and u2's retry is counted
    assert [op.item["email"]["S"] for op, _ in stats["rejected"]] == ["u1@example.com"]
    assert emails(client.applied) == ["u0@example.com", "u2@example.com"] and stats["retries"] == 1


def test_write_refused_chunk_one_write_still_failing_raises_with_what_was_left():
    # GIVEN a chunk refused because of u1, and u2 throttled whenever it is written alone
    client = OneRefusedOneThrottled("u1@example.com", "u2@example.com", times=99)
    # WHEN written with 3 attempts
    with pytest.raises(replicate.ReplicationFailed) as raised:
        replicate.write(puts(3), client=client, attempts=3)
    # THEN the batch fails for u2 alone, naming the throttling; the failure carries the count and the refusal
    assert str(raised.value).startswith("1 of 3 writes to users_by_location failed after retries (last error: "
                                        "An error occurred (ProvisionedThroughputExceededException)")
    assert raised.value.stats["retries"] == 2 and len(raised.value.stats["rejected"]) == 1
    assert emails(client.applied) == ["u0@example.com"]


def test_write_refused_chunk_past_the_deadline_single_writes_not_retried():
    client = OneRefusedOneThrottled("u1@example.com", "u2@example.com", times=99)
    with pytest.raises(replicate.ReplicationFailed):
        replicate.write(puts(3), client=client, attempts=5, deadline=0)  # long past
    assert sum(1 for call in client.calls if emails(call) == ["u2@example.com"]) == 1


def test_quarantine_body_exactly_at_the_limit_kept_whole_one_byte_less_slimmed():
    record = stream_record("INSERT", new=user_image("ada@example.com", "NY", None))
    size = len(replicate.quarantine_body(record, "missing attribute 'city'").encode())
    assert json.loads(replicate.quarantine_body(record, "missing attribute 'city'", limit=size))["record"] == record
    assert "truncated" in json.loads(replicate.quarantine_body(record, "missing attribute 'city'", limit=size - 1))


def test_quarantine_body_too_big_record_without_dynamodb_section_still_slimmed():
    record = {"eventID": "e1", "eventName": "INSERT", "eventSourceARN": "arn:stream", "padding": "x" * 100}
    body = json.loads(replicate.quarantine_body(record, "no NewImage", limit=50))
    assert body["record"] == {"eventID": "e1", "eventName": "INSERT", "eventSourceARN": "arn:stream",
                              "dynamodb": dict.fromkeys(["Keys", "SequenceNumber", "ApproximateCreationDateTime", "SizeBytes"])}


def test_quarantine_bodies_filling_the_limit_exactly_share_a_batch(monkeypatch):
    # GIVEN four poison records whose messages, two by two, add up to exactly the size limit
    monkeypatch.setattr(replicate, "QUARANTINE_QUEUE_URL", "http://localhost/q")

    def poison(email, bio_length):
        return (stream_record("INSERT", new=user_image(email, None, "Queens", bio={"S": "x" * bio_length})), "no state")

    def of_size(email, size):
        length = 0
        while (missing := size - len(replicate.quarantine_body(*poison(email, length)).encode())) != 0:
            length += missing  # the record's SizeBytes grows a digit on the way: a second step
        return poison(email, length)
    half = QUARANTINE_LIMIT // 2
    items = [of_size(f"{c}@example.com", half) for c in "abcd"]
    assert sum(len(replicate.quarantine_body(*item).encode()) for item in items) == 2 * QUARANTINE_LIMIT
    sqs = FakeSQS()
    # WHEN they are quarantined
    replicate.quarantine(items, client=sqs)
    # THEN two messages go per batch: the limit is inclusive
    assert [len(entries) for _, entries in sqs.batches] == [2, 2]


def test_handler_refused_write_and_poison_both_quarantined_retries_of_the_cleanup_counted(monkeypatch):
    # GIVEN a batch of a good user, one the target refuses (after one throttled try of the chunk),
    # and one without a state; the delete that cleans up after the refused one is throttled once
    client = FakeDynamoDB([throttled(), too_big(), 0, too_big(), throttled(), 0])
    sqs = FakeSQS()
    monkeypatch.setattr(replicate, "dynamodb", client)
    monkeypatch.setattr(replicate, "sqs", sqs)
    big = stream_record("INSERT", new=user_image("big@example.com", "NY", "Queens"))
    event = stream_event(stream_record("INSERT", new=user_image("ok@example.com", "NY", "Queens")), big,
                         stream_record("INSERT", new=user_image("bob@example.com", None, "Queens")))
    # WHEN the batch is handled
    summary = replicate.handler(event, None)
    # THEN both the poison and the refused record are quarantined, and every retry is counted
    assert summary == {"records": 3, "writes": 2, "poison": 1, "retries": 2, "rejected": 1, "quarantined": 2}
    [(_, entries)] = sqs.batches
    quarantined = [json.loads(e["MessageBody"])["record"]["eventID"] for e in entries]
    assert quarantined == [event["Records"][2]["eventID"], big["eventID"]]
    assert client.calls[-1] == [{"DeleteRequest": {"Key": projection.target_key(big["dynamodb"]["NewImage"])}}]


def test_handler_no_time_left_the_cleanup_delete_not_retried_either(monkeypatch):
    monkeypatch.setattr(replicate, "time", types.SimpleNamespace(monotonic=lambda: 1000.0))
    client = FakeDynamoDB([too_big(), too_big()] + [throttled()] * 20)
    monkeypatch.setattr(replicate, "dynamodb", client)
    event = stream_event(stream_record("INSERT", new=user_image("big@example.com", "NY", "Queens")))
    with pytest.raises(replicate.ReplicationFailed):
        replicate.handler(event, Context(1000))
    assert [next(iter(call[0])) for call in client.calls] == ["PutRequest", "PutRequest", "DeleteRequest"]


@pytest.mark.parametrize("limit", [QUARANTINE_LIMIT, 100], ids=["whole", "slim"])
def test_quarantine_body_record_read_with_boto3_keeps_its_datetime_as_text(limit):
    # GIVEN a record as boto3's streams client returns it: ApproximateCreationDateTime is a datetime
    from datetime import datetime, timezone
    record = stream_record("INSERT", new=user_image("ada@example.com", "NY", None))
    record["dynamodb"]["ApproximateCreationDateTime"] = datetime(2026, 1, 1, tzinfo=timezone.utc)
    # WHEN its message is made, whole or slimmed THEN it is JSON, the time as text
    body = json.loads(replicate.quarantine_body(record, "missing attribute 'city'", limit=limit))
    assert body["record"]["dynamodb"]["ApproximateCreationDateTime"] == "2026-01-01 00:00:00+00:00"
