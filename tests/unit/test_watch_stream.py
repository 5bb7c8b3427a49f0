"""make watch's stream reader and its lines: decoded, filtered, and surviving an expired
iterator and a new shard (against a fake DynamoDB Streams client: no emulator)."""
from __future__ import annotations

import json

from botocore.exceptions import ClientError
from rich.console import Console

from ddblab.inspect import stream
from ddblab.inspect.render import change_line


def record(seq: int, event="INSERT", email="a@x.io", old=None, new=None) -> dict:
    change = {"Keys": {"email": {"S": email}}, "SequenceNumber": str(seq), "ApproximateCreationDateTime": 1700000000}
    if old is not None:
        change["OldImage"] = old
    if new is not None:
        change["NewImage"] = new
    return {"eventName": event, "dynamodb": change}


class FakeStreams:
    """Shards of records; iterators are "shard:position"; `expire` makes the next
    get_records on that shard raise ExpiredIteratorException once."""

    def __init__(self, shards: dict, closed=()):
        self.shards, self.closed, self.expire = shards, set(closed), set()

    def describe_stream(self, StreamArn, **_):
        return {"StreamDescription": {"Shards": [
            {"ShardId": s, "SequenceNumberRange": {"StartingSequenceNumber": "0",
                                                   **({"EndingSequenceNumber": "9"} if s in self.closed else {})}}
            for s in self.shards]}}

    def get_shard_iterator(self, StreamArn, ShardId, ShardIteratorType, SequenceNumber=None):
        records = self.shards[ShardId]
        position = {"TRIM_HORIZON": 0, "LATEST": len(records)}.get(ShardIteratorType)
        if ShardIteratorType == "AFTER_SEQUENCE_NUMBER":
            position = next(i + 1 for i, r in enumerate(records) if r["dynamodb"]["SequenceNumber"] == SequenceNumber)
        return {"ShardIterator": f"{ShardId}:{position}"}

    def get_records(self, ShardIterator, Limit):
        shard, position = ShardIterator.rsplit(":", 1)
        if shard in self.expire:
            self.expire.discard(shard)
            raise ClientError({"Error": {"Code": "ExpiredIteratorException", "Message": "expired"}}, "GetRecords")
        records = self.shards[shard][int(position):int(position) + Limit]
        end = int(position) + len(records)
        done = shard in self.closed and end == len(self.shards[shard])
        return {"Records": records, **({} if done else {"NextShardIterator": f"{shard}:{end}"})}


def seqs(records: list) -> list:
    return [int(r["dynamodb"]["SequenceNumber"]) for r in records]


def test_reader_latest_sees_only_new_records():
    fake = FakeStreams({"s1": [record(1)]})
    reader = stream.StreamReader(fake, "arn")
    assert reader.poll() == []
    fake.shards["s1"].append(record(2))
    assert seqs(reader.poll()) == [2]


def test_reader_from_start_reads_everything_kept():
    reader = stream.StreamReader(FakeStreams({"s1": [record(1), record(2)]}), "arn", from_start=True)
    assert seqs(reader.poll()) == [1, 2]


def test_reader_expired_iterator_renewed_after_last_record_without_loss_or_repeat():
    fake = FakeStreams({"s1": [record(1)]})
    reader = stream.StreamReader(fake, "arn", from_start=True)
    assert seqs(reader.poll()) == [1]
    fake.shards["s1"] += [record(2), record(3)]
    fake.expire.add("s1")
    assert reader.poll() == []  # the renewal pass
    assert seqs(reader.poll()) == [2, 3]
    assert reader.renewed == 1


def test_reader_closed_shard_then_child_read_from_its_start():
    fake = FakeStreams({"s1": [record(1)]})
    reader = stream.StreamReader(fake, "arn")
    reader.poll()
    fake.shards["s1"].append(record(2))
    fake.closed.add("s1")
    fake.shards["s2"] = [record(3), record(4)]  # the child shard, with records already in it
    got = reader.poll() + reader.poll()
    assert seqs(got) == [2, 3, 4]


def test_selected_by_event_and_key():
    r = record(1, "MODIFY", email="b@x.io")
    assert stream.selected(r, ("MODIFY",), ()) and stream.selected(r, (), ("b@x.io",))
    assert not stream.selected(r, ("INSERT",), ()) and not stream.selected(r, (), ("a@x.io",))


def shown(markup: str) -> str:
    console = Console(width=300, record=True)
    console.print(markup, soft_wrap=True)
    return console.export_text().strip()


def test_modify_line_shows_typed_changes_only():
    # GIVEN a MODIFY where zip stays, city moves, and N 1 becomes BOOL true (equal in Python)
    old = {"email": {"S": "a@x.io"}, "city": {"S": "Boise"}, "zip": {"S": "1"}, "flag": {"N": "1"}}
    new = {"email": {"S": "a@x.io"}, "city": {"S": "Nampa"}, "zip": {"S": "1"}, "flag": {"BOOL": True}}
    entry = stream.entry(record(7, "MODIFY", old=old, new=new))
    entry.pop("created")
    # THEN the line shows both changes, by type, and the other fields after them
    assert shown(change_line(entry)) == "MODIFY a@x.io  city: 'Boise' -> 'Nampa'; flag: 1 -> True  sequence=7"


def test_audit_line_extra_field_is_shown():
    line = {"audit": "REMOVE", "keys": {"email": "a@x.io"}, "changes": {"city": {"old": "Boise", "new": None}},
            "sequence": "42", "reason": "ttl"}
    assert shown(change_line(line)) == "REMOVE a@x.io  city='Boise'  sequence=42 reason=ttl"


def test_raw_record_written_as_one_json_line_with_epoch_times():
    from datetime import datetime, timezone
    r = record(1)
    r["dynamodb"]["ApproximateCreationDateTime"] = datetime(2026, 1, 1, tzinfo=timezone.utc)
    line = stream.as_json(r)
    assert "\n" not in line and json.loads(line)["dynamodb"]["ApproximateCreationDateTime"] == 1767225600.0
