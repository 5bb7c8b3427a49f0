"""Properties of the pure fold, on random streams of several interleaved users.

A model users table produces each record's OldImage/NewImage in stream order, exactly as
DynamoDB Streams would; the fold must then agree with record-by-record application, be
idempotent, not care how the stream is cut into batches, and end at the projection of
the model.
"""
import base64

from hypothesis import HealthCheck, given, settings, strategies as st

import projection
from tests.factories import stream_record, user_image

EMAILS = ["ada@example.com", "bob@example.com", "cy@example.com", "di@example.com"]
STATES = ["NY", "TX"]
CITIES = ["Brooklyn", "Queens", "Austin"]
PROFILE = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

text = st.text(alphabet="abyz #é", min_size=1, max_size=4)
number = st.integers(-10**6, 10**6).map(str) | st.decimals(
    allow_nan=False, allow_infinity=False, places=3, min_value=-1000, max_value=1000).map(str)
binary = st.binary(min_size=1, max_size=6).map(lambda b: base64.b64encode(b).decode())
scalar = st.one_of(
    text.map(lambda v: {"S": v}),
    number.map(lambda v: {"N": v}),
    binary.map(lambda v: {"B": v}),
    st.lists(text, min_size=1, max_size=3, unique=True).map(lambda v: {"SS": v}),
    st.lists(st.integers(-99, 99), min_size=1, max_size=3, unique=True).map(lambda v: {"NS": [str(n) for n in v]}),
    st.lists(st.binary(min_size=1, max_size=4), min_size=1, max_size=3, unique=True).map(
        lambda v: {"BS": [base64.b64encode(b).decode() for b in v]}),
    st.just({"NULL": True}),
    st.booleans().map(lambda v: {"BOOL": v}),
)
value = st.recursive(scalar, lambda inner: st.one_of(
    st.dictionaries(text, inner, max_size=3).map(lambda v: {"M": v}),
    st.lists(inner, max_size=3).map(lambda v: {"L": v}),
), max_leaves=5)
extras = st.dictionaries(st.sampled_from(["nickname", "age", "avatar", "profile", "tags"]), value, max_size=2)

# Places a user can have: mostly valid, some that projection.target_key must refuse.
placeable = st.tuples(st.sampled_from(STATES), st.sampled_from(CITIES))
unplaceable = st.sampled_from([
    (None, "Brooklyn"),            # no state
    ("NY", None),                  # no city
    ({"N": "7"}, "Queens"),        # state of the wrong type
    ("TX", {"NULL": True}),        # city of the wrong type
    ("", "Austin"),                # empty state
    ("NY", "Brook#lyn"),           # city holding the key separator
])


@st.composite
def streams(draw):
    """(records in stream order, final users model {email: image})."""
    users, records = {}, []
    for _ in range(draw(st.integers(0, 24))):
        email = draw(st.sampled_from(EMAILS))
        old = users.get(email)
        if old is not None and draw(st.integers(0, 4)) == 0:
            del users[email]
            records.append(stream_record("REMOVE", old=old))
            continue
        state, city = draw(unplaceable) if draw(st.integers(0, 5)) == 0 else draw(placeable)
        more = draw(extras) if draw(st.integers(0, 2)) == 0 else {}  # rich items, not every time: keeps runs fast
        new = user_image(email, state, city, zipcode=draw(st.sampled_from(["11208", "73301"])), **more)
        users[email] = new
        records.append(stream_record("MODIFY" if old else "INSERT", new=new, old=old))
    return records, users


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
    for start, end in zip([0] + cuts, cuts + [len(records)]):
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
