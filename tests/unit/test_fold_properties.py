"""Properties of the fold and of replicate, on random streams of several interleaved users.

A model users table produces each record's OldImage/NewImage in stream order, exactly as
DynamoDB Streams would. Every property is checked against a model of the target written
here, by hand, without the projection code: a user in one of the strategy's places has the
row (state, city#email) holding every attribute but zipcode; a user anywhere else has none.
So a fold that writes nothing, never deletes, or keeps zipcode fails each of the properties
that compare tables.
"""
from unittest import mock

import projection
import replicate
from hypothesis import given
from hypothesis import strategies as st

from ddblab.events import stream_record, user_image
from tests.fakes import FakeTarget
from tests.strategies import CITIES, PROFILE, STATES, streams


def model_key(image: dict | None) -> tuple | None:
    """Where the model puts a user: only the strategy's placeable states and cities."""
    if not image or image.get("state") not in [{"S": s} for s in STATES] or image.get("city") not in [{"S": c} for c in CITIES]:
        return None
    return image["state"]["S"], f"{image['city']['S']}#{image['email']['S']}"


def model_row(image: dict) -> dict:
    state, city_email = model_key(image)
    row = {name: value for name, value in image.items() if name != "zipcode"}
    return {**row, "state": {"S": state}, "city_email": {"S": city_email}}


def model_target(users: dict) -> dict:
    """The target table the users model asks for: {(state, city#email): row}."""
    return {model_key(image): model_row(image) for image in users.values() if model_key(image)}


def users_after(records: list) -> dict:
    """The users model after some records: each record's NewImage, or gone on REMOVE."""
    users = {}
    for record in records:
        change = record["dynamodb"]
        email = change["Keys"]["email"]["S"]
        if record["eventName"] == "REMOVE":
            users.pop(email, None)
        else:
            users[email] = change["NewImage"]
    return users


def one_by_one(records, table=None):
    table = {} if table is None else table
    for record in records:
        projection.apply(table, projection.fold([record]).writes.values())
    return table


@PROFILE
@given(streams())
def test_fold_whole_batch_ends_at_the_model(stream):
    records, users = stream
    assert projection.apply({}, projection.fold(records).writes.values()) == model_target(users)


@PROFILE
@given(streams())
def test_fold_record_by_record_ends_at_the_model(stream):
    records, users = stream
    assert one_by_one(records) == model_target(users)


@PROFILE
@given(streams(), st.data())
def test_fold_any_split_into_batches_ends_at_the_model(stream, data):
    records, users = stream
    cuts = sorted(data.draw(st.lists(st.integers(0, len(records)), max_size=6)))
    table = {}
    for start, end in zip([0] + cuts, cuts + [len(records)], strict=True):
        projection.apply(table, projection.fold(records[start:end]).writes.values())
    assert table == model_target(users)


def key_of(record: dict) -> str:
    return record["dynamodb"]["Keys"]["email"]["S"]


def concurrent_lanes(records: list, factor: int, data) -> list:
    """The stream as a mapping with ParallelizationFactor=factor shares it out: each key's
    records all go to one lane, in stream order (AWS hashes the key; here any key may draw any
    lane), and each lane cuts its records into batches. One list of batches per lane."""
    lane_of = {key: data.draw(st.integers(0, factor - 1)) for key in sorted({key_of(r) for r in records})}
    lanes = []
    for lane in range(factor):
        mine = [r for r in records if lane_of[key_of(r)] == lane]
        cuts = sorted(data.draw(st.lists(st.integers(0, len(mine)), max_size=4)))
        lanes.append([mine[start:end] for start, end in zip([0] + cuts, cuts + [len(mine)], strict=True)])
    return lanes


@PROFILE
@given(streams(), st.integers(1, 10), st.data())
def test_fold_concurrent_batches_keeping_each_keys_order_end_at_the_model(stream, factor, data):
    # GIVEN a stream shared out into `factor` lanes of batches, each key's records in one lane, in order
    records, users = stream
    lanes = concurrent_lanes(records, factor, data)
    # WHEN the lanes run at once: their batches' writes interleave in any order, one lane's
    # batches one after the other (a lane's next batch waits for the one before it)
    pending = [[write for batch in lane for write in projection.fold(batch).writes.values()] for lane in lanes]
    turns = data.draw(st.permutations([lane for lane, writes in enumerate(pending) for _ in writes]))
    table: dict = {}
    for lane in turns:
        projection.apply(table, [pending[lane].pop(0)])
    # THEN the target is the model's, whatever the interleaving
    assert table == model_target(users)


def test_fold_batches_of_one_key_out_of_order_end_elsewhere():
    # GIVEN a user created in Brooklyn, NY, then moved to Austin, TX, in two batches
    ada_ny = user_image("ada@example.com", "NY", "Brooklyn")
    ada_tx = user_image("ada@example.com", "TX", "Austin")
    created, moved = [stream_record("INSERT", new=ada_ny)], [stream_record("MODIFY", new=ada_tx, old=ada_ny)]
    # WHEN the batches run in stream order, THEN the one row is in Austin
    in_order = projection.apply(projection.apply({}, projection.fold(created).writes.values()),
                                projection.fold(moved).writes.values())
    assert list(in_order) == [("TX", "Austin#ada@example.com")]
    # WHEN the move runs before the creation (what keeping each key in one lane rules out),
    # THEN the stale Brooklyn row stays beside the Austin one: one user in two places. The order
    # per key is what the property above rests on.
    reversed_order = projection.apply(projection.apply({}, projection.fold(moved).writes.values()),
                                      projection.fold(created).writes.values())
    assert sorted(reversed_order) == [("NY", "Brooklyn#ada@example.com"), ("TX", "Austin#ada@example.com")]


class AnyQueue:
    def send_message_batch(self, QueueUrl, Entries):
        return {"Successful": [{"Id": e["Id"]} for e in Entries]}


@PROFILE
@given(streams(), st.data())
def test_replicate_batch_cut_short_by_an_outage_then_retried_ends_at_the_model(stream, data):
    # GIVEN a target that already holds what the stream asked for before this batch
    records, users = stream
    cut = data.draw(st.integers(0, len(records)))
    table = {key: projection.item_to_client_form(row) for key, row in model_target(users_after(records[:cut])).items()}
    batch = {"Records": records[cut:]}
    # AND an outage that lets only some of the batch's writes through, so replicate raises
    # after applying what it could (the stream then delivers the whole batch again)
    budget = data.draw(st.integers(0, len(records)))
    expected = {key: projection.item_to_client_form(row) for key, row in model_target(users).items()}
    # (the batch's writes, counted from the model: every old and new place its records touch)
    writes = len({model_key(r["dynamodb"].get(image)) for r in records[cut:] for image in ("OldImage", "NewImage")} - {None})
    outage = FakeTarget(replicate.TARGET_TABLE, table=table, budget=budget)
    with mock.patch.object(replicate, "_backoff", lambda attempt: None), \
            mock.patch.object(replicate, "sqs", AnyQueue()):
        with mock.patch.object(replicate, "dynamodb", outage):
            try:
                replicate.handler(batch, None)
                interrupted = False
            except replicate.ReplicationFailed:
                interrupted = True
        # THEN replicate applied every write the table took before raising, and raised exactly
        # when some were left
        assert outage.taken == min(budget, writes)
        assert interrupted == (writes > budget)
        # WHEN the batch is delivered again to a healthy target
        with mock.patch.object(replicate, "dynamodb", FakeTarget(replicate.TARGET_TABLE, table=table)):
            replicate.handler(batch, None)
    # AND, once delivered again, the table is the model's, as if the outage had never been
    assert table == expected


@PROFILE
@given(streams())
def test_fold_poison_is_exactly_the_unplaceable_new_images(stream):
    records, _ = stream
    folded = projection.fold(records)
    expected = [r for r in records if r["eventName"] in ("INSERT", "MODIFY") and model_key(r["dynamodb"]["NewImage"]) is None]
    assert [id(record) for record, _ in folded.poison] == [id(r) for r in expected]
    assert all(reason for _, reason in folded.poison)
    assert folded.records == len(records)
    # AND the keys written are exactly every placeable old place (deleted or replaced) and
    # every placeable new place of the batch: nothing else, nothing left out
    touched = {model_key(r["dynamodb"].get(image)) for r in records for image in ("OldImage", "NewImage")} - {None}
    assert set(folded.writes) == touched
