"""Properties of the pure fold, on random streams of several interleaved users.

A model users table produces each record's OldImage/NewImage in stream order, exactly as
DynamoDB Streams would; the fold must then agree with record-by-record application, be
idempotent, not care how the stream is cut into batches, and end at the projection of
the model.
"""
import projection
from hypothesis import given
from hypothesis import strategies as st

from tests.strategies import PROFILE, streams


def one_by_one(records, table=None):
    table = {} if table is None else table
    for record in records:
        projection.apply(table, projection.fold([record]).writes.values())
    return table


def placeable_image(image):
    try:
        projection.target_key(image)
    except projection.Unplaceable:
        return False
    return True


@PROFILE
@given(streams())
def test_fold_whole_batch_equals_record_by_record(stream):
    records, _ = stream
    batched = projection.apply({}, projection.fold(records).writes.values())
    assert batched == one_by_one(records)


@PROFILE
@given(streams(), st.data())
def test_fold_applying_batch_twice_equals_once(stream, data):
    # GIVEN a table that already holds the result of some earlier part of the stream
    records, _ = stream
    cut = data.draw(st.integers(0, len(records)))
    before = one_by_one(records[:cut])
    writes = list(projection.fold(records[cut:]).writes.values())
    # WHEN the rest of the stream is delivered once, or twice (a retried batch)
    once = projection.apply(dict(before), writes)
    twice = projection.apply(projection.apply(dict(before), writes), writes)
    # THEN the table is the same
    assert twice == once


@PROFILE
@given(streams(), st.data())
def test_fold_any_split_into_batches_gives_same_table(stream, data):
    records, _ = stream
    cuts = sorted(data.draw(st.lists(st.integers(0, len(records)), max_size=6)))
    table = {}
    for start, end in zip([0] + cuts, cuts + [len(records)], strict=True):
        projection.apply(table, projection.fold(records[start:end]).writes.values())
    assert table == projection.apply({}, projection.fold(records).writes.values())


@PROFILE
@given(streams())
def test_fold_final_table_is_projection_of_final_users(stream):
    records, users = stream
    table = projection.apply({}, projection.fold(records).writes.values())
    expected = {
        projection.key_id(projection.target_key(image)): projection.project(image)
        for image in users.values() if placeable_image(image)
    }
    assert table == expected


@PROFILE
@given(streams())
def test_fold_poison_is_exactly_the_unplaceable_new_images(stream):
    records, _ = stream
    folded = projection.fold(records)
    expected = [r for r in records
                if r["eventName"] in ("INSERT", "MODIFY") and not placeable_image(r["dynamodb"]["NewImage"])]
    assert [id(record) for record, _ in folded.poison] == [id(r) for r in expected]
    assert all(reason for _, reason in folded.poison)
    assert folded.records == len(records)
    # every other record is reflected in the writes: its new place is put, or its old place deleted
    poisoned = {id(r) for r in expected}
    for record in records:
        if id(record) in poisoned:
            continue
        change = record["dynamodb"]
        image = change.get("NewImage") or change["OldImage"]
        if placeable_image(image):
            assert projection.key_id(projection.target_key(image)) in folded.writes
