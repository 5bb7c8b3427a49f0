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
]


@pytest.mark.parametrize("item", ITEMS)
def test_item_size_counts_as_the_emulator_counts(item):
    assert projection.item_size(item) == _item_size_bytes(item)


DYNAMODB_ITEM_LIMIT = 400 * 1024  # DynamoDB's item size limit, as documented: not the code's own constant


def user_whose_target_item_is(size: int) -> dict:
    """A users image whose users_by_location item (the image plus its sort key, written out
    here by hand) is `size` bytes as the emulator counts them - never by the code under test."""
    image = user_image("big@example.com", "Ohio", "Canton", zipcode=None, bio={"S": ""})
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
    with pytest.raises(projection.Unplaceable, match="size"):
        projection.project(over)


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
