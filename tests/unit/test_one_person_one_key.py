"""One person, one key: the same address or place typed in another Unicode normal form (NFC
or NFD, as keyboards and copy-paste give) is the same user and the same place - in the users
API and in the projection of rows written straight into users. Invisible format characters
(bidi overrides, zero-width joiners) are refused inside a state or city."""
from __future__ import annotations

import unicodedata

import projection
import pytest
import users_api
from hypothesis import given
from hypothesis import strategies as st

from ddblab.data import reconciliation
from tests.unit.test_reconcile_types import FakeScan

# Letters with accents, and letters that compose with a following combining mark: text whose NFC
# and NFD differ. No "#", no blank at the edges: what the API accepts as a city.
LETTERS = "aeiouncSPãõéçñÅǅ\u0301\u0303\u0327\u030a\u0958ﬁΩ"
names = st.text(alphabet=LETTERS, min_size=1, max_size=12).filter(lambda s: not unicodedata.combining(s[0]))
forms = st.sampled_from(["NFC", "NFD"])


@given(names, names, names, forms, forms)
def test_validate_user_inputs_differing_only_in_normal_form_same_user_same_place(local, state, city, one, other):
    # GIVEN one person's details typed twice, each in some normal form
    typed = [{"email": unicodedata.normalize(form, f"{local}@example.com"), "state": unicodedata.normalize(form, state),
              "city": unicodedata.normalize(form, city), "zipcode": "11208"} for form in (one, other)]
    # WHEN the API validates both
    (first, errors_first), (second, errors_second) = (users_api.validate_user(t) for t in typed)
    # THEN they are one user in one place, stored in NFC
    assert errors_first == errors_second == {}
    assert first == second
    assert first["city"] == unicodedata.normalize("NFC", city) and first["state"] == unicodedata.normalize("NFC", state)
    assert projection.target_key(users_api.to_item(first)) == projection.target_key(users_api.to_item(second))


@given(names, names, forms)
def test_project_rows_written_straight_into_users_in_another_form_same_place(state, city, form):
    # GIVEN a user written straight into the users table (no API) in some normal form
    image = {"email": {"S": "a@example.com"}, "state": {"S": unicodedata.normalize(form, state)},
             "city": {"S": unicodedata.normalize(form, city)}}
    # WHEN projected THEN it is placed as its NFC twin is, and the by_city index sees the NFC city
    twin = {**image, "state": {"S": unicodedata.normalize("NFC", state)}, "city": {"S": unicodedata.normalize("NFC", city)}}
    assert projection.project(image) == projection.project(twin)
    assert projection.project(image)["city"] == {"S": unicodedata.normalize("NFC", city)}


def test_check_text_sao_paulo_nfc_and_nfd_one_city():
    assert users_api.check_text("city", "Sa\u0303o Paulo") == ("São Paulo", None)
    assert users_api.check_text("city", "São Paulo") == ("São Paulo", None)
    assert users_api.check_text("city", "São Paulo")[0].encode() == b"S\xc3\xa3o Paulo"


def test_check_email_nfd_and_upper_case_one_address():
    assert users_api.check_email("JOSE\u0301@Example.com") == ("josé@example.com", None)
    assert users_api.check_email("josé@example.com") == ("josé@example.com", None)


@pytest.mark.parametrize("field, value, char", [
    ("city", "Spring\u202efield", "U+202E"),  # right-to-left override: displays "Springdleif"
    ("city", "Spring\u200dfield", "U+200D"),  # zero-width joiner
    ("state", "Ohi\u2066o", "U+2066"),  # left-to-right isolate
    ("state", "O\u00adhio", "U+00AD"),  # soft hyphen
])
def test_validate_user_format_character_inside_value_400_naming_it(field, value, char):
    user, errors = users_api.validate_user({"email": "a@example.com", "state": "Ohio", "city": "Dayton", "zipcode": "11208",
                                            field: value})
    assert user is None
    assert errors == {field: f"must not contain {char} (an invisible format character (zero-width, bidi control or override))"}


def test_repair_moves_rows_keyed_in_another_normal_form():
    # GIVEN a user stored with an NFD city, and its target row keyed the old way (NFD, before normalising)
    user = {"email": {"S": "a@example.com"}, "state": {"S": "SP"}, "city": {"S": "Sa\u0303o Paulo"}}
    old_row = {**user, "city_email": {"S": "Sa\u0303o Paulo#a@example.com"}}
    client = FakeScan({"users": [user], "target": [old_row]})
    # WHEN reconcile compares THEN the old row is extra and the NFC row missing: --fix moves it
    drift = reconciliation.compare(client, "users", "target")
    assert [row["city_email"]["S"] for row in drift.extra] == ["Sa\u0303o Paulo#a@example.com"]
    assert [row["city_email"]["S"] for row in drift.missing] == ["São Paulo#a@example.com"]
    assert drift.missing[0]["city"] == {"S": "São Paulo"}
