"""Hypothesis strategies for users streams: random sequences of stream records for a few
interleaved users, with items of every DynamoDB type, some of them unplaceable. Used by the
fold's property tests and by the property test on the live pipeline."""
import base64

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from ddblab.events import stream_record, user_image

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
def streams(draw, emails=tuple(EMAILS)):
    """(records in stream order, final users model {email: image})."""
    users, records = {}, []
    for _ in range(draw(st.integers(0, 24))):
        email = draw(st.sampled_from(emails))
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
