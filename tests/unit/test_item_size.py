"""The one decision of "placeable and accepted": item sizes as DynamoDB counts them, and
reconcile's --fix writing everything the table accepts."""
from __future__ import annotations

import projection
import pytest
from botocore.exceptions import ClientError
from ministack.services.dynamodb import _item_size_bytes

from ddblab.data import batches
from ddblab.events import user_image

ITEMS = [
    user_image("a@example.com", "Ohio", "Akron"),
    user_image("b@example.com", "Ohio", "Akron", n={"N": "-123.4500"}, big={"N": "1e30"}, zero={"N": "0"},
               tags={"SS": ["x", "ÿÿ"]}, nums={"NS": ["1", "22", "333"]}, blob={"B": "aGVsbG8="},
               nested={"M": {"l": {"L": [{"S": "é"}, {"BOOL": True}, {"NULL": True}]}}}),
    user_image("c@example.com", "Ohio", "Akron", blobs={"BS": ["aGVsbG8=", "AA=="]}, empty={"L": []}),
]
# Numbers count their significant digits in base-100 pairs aligned on the decimal point:
# shifting by an odd power of ten, leading or trailing zeros and the sign all change the count.
NUMBERS = ["0", "1", "-1", "+5", "12", "120", "12e1", "1200", "100", "0.05", "-0.5", "1.5", "123.4500",
           "1e-5", "1E+3", "-12.5e-7", "99999999999999999999999999999999999999", "0.000000000000000000000000000000000001"]


@pytest.mark.parametrize("item", ITEMS)
def test_item_size_counts_as_the_emulator_counts(item):
    assert projection.item_size(item) == _item_size_bytes(item)


@pytest.mark.parametrize("number", NUMBERS)
def test_item_size_number_counts_as_the_emulator_counts(number):
    assert projection.item_size({"n": {"N": number}}) == _item_size_bytes({"n": {"N": number}})


@pytest.mark.parametrize("number", ["", "abc", "1.2.3", "1e+x"])
def test_item_size_malformed_number_counts_one_byte_as_the_emulator_does(number):
    assert projection.item_size({"n": {"N": number}}) == 1 + 1 == _item_size_bytes({"n": {"N": number}})


DYNAMODB_ITEM_LIMIT = 400 * 1024  # DynamoDB's item size limit, as documented: not the code's own constant


def user_whose_target_item_is(size: int) -> dict:
    """A users image whose users_by_location item (the image plus its sort key, written out
    here by hand) is `size` bytes as the emulator counts them - never by the code under test.
    It holds a number: numbers are counted in digit pairs, and the count must stay a whole one."""
    image = user_image("big@example.com", "Ohio", "Canton", zipcode=None, age={"N": "36"}, bio={"S": ""})
    keyed = {**image, "city_email": {"S": "Canton#big@example.com"}}
    image["bio"] = {"S": "x" * (size - _item_size_bytes(keyed))}
    return image


def test_project_item_at_400kb_once_keyed_placed_one_byte_over_unplaceable():
    # GIVEN a user whose target item is exactly 400 KB once keyed, and one whose is a byte over
    at_limit, over = user_whose_target_item_is(DYNAMODB_ITEM_LIMIT), user_whose_target_item_is(DYNAMODB_ITEM_LIMIT + 1)
    # (both fit in users: the key is what takes them over)
    assert _item_size_bytes(over) < DYNAMODB_ITEM_LIMIT
    # THEN the first is projected, whole; the projection refuses the second, as replicate
    # quarantines it and reconcile expects it there
    assert _item_size_bytes(projection.project(at_limit)) == DYNAMODB_ITEM_LIMIT
    with pytest.raises(projection.Unplaceable) as raised:
        projection.project(over)
    assert str(raised.value).startswith(f"the item is {DYNAMODB_ITEM_LIMIT + 1} bytes once keyed, over DynamoDB's "
                                        f"{DYNAMODB_ITEM_LIMIT}-byte item size limit")


class RefusingTable:
    """Refuses any batch holding the key 'bad'; writes the rest."""

    def __init__(self):
        self.written = []

    def batch_write_item(self, RequestItems):
        [(table, requests)] = RequestItems.items()
        if any(r["PutRequest"]["Item"]["k"] == "bad" for r in requests):
            raise ClientError({"Error": {"Code": "ValidationException", "Message": "Item size has exceeded"}}, "BatchWriteItem")
        self.written += requests
        return {}


def test_write_all_with_refused_list_writes_everything_else():
    client = RefusingTable()
    requests = batches.puts([{"k": str(i)} for i in range(30)] + [{"k": "bad"}] + [{"k": "z"}])
    refused = []
    assert batches.write_all(client, "t", requests, refused=refused) == 31
    assert [r["PutRequest"]["Item"]["k"] for r, _ in refused] == ["bad"]
    assert len(client.written) == 31


def test_write_all_without_refused_list_still_raises():
    with pytest.raises(ClientError):
        batches.write_all(RefusingTable(), "t", batches.puts([{"k": "bad"}]))


class WrongKeyTable:
    """A target recreated with another key: it refuses every write, whatever the item."""

    def batch_write_item(self, RequestItems):
        raise ClientError({"Error": {"Code": "ValidationException", "Message": "One or more parameter values were "
                                     "invalid: Missing the key city_email in the item"}}, "BatchWriteItem")


def test_write_all_with_refused_list_key_schema_mismatch_raises_as_replicate_does():
    # GIVEN a table that refuses every write for a reason that concerns the table, not the item
    refused = []
    # WHEN reconcile --fix writes to it THEN it stops, as replicate stops the stream, instead of listing every row as refused
    with pytest.raises(ClientError, match="Missing the key city_email"):
        batches.write_all(WrongKeyTable(), "t", batches.puts([{"k": "a"}, {"k": "b"}]), refused=refused)
    assert refused == []
