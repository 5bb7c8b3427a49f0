"""projection: the target key, the projected item, and the fold of a batch of stream records."""
import base64

import projection
import pytest
from projection import Delete, Put, Unplaceable

from ddblab.events import stream_record, user_image

B64 = base64.b64encode(b"\x00\xffbinary").decode()
# One attribute of every DynamoDB type, nested ones included, in stream (wire) form.
EVERY_TYPE = {
    "name": {"S": "Ada"},
    "age": {"N": "36.50"},
    "avatar": {"B": B64},
    "tags": {"SS": ["a", "b"]},
    "scores": {"NS": ["1", "2.5", "-3"]},
    "keys": {"BS": [B64, base64.b64encode(b"k2").decode()]},
    "profile": {"M": {
        "nested": {"M": {"deep": {"L": [{"S": "x"}, {"B": B64}, {"NULL": True}]}}},
        "flag": {"BOOL": False},
    }},
    "history": {"L": [{"N": "1"}, {"M": {"at": {"S": "NY"}}}, {"L": []}, {"SS": ["z"]}]},
    "nothing": {"NULL": True},
    "active": {"BOOL": True},
}


# --- target_key / project ---------------------------------------------------------------

def test_target_key_placeable_image_uses_state_and_city_hash_email():
    image = user_image("ada@example.com", "NY", "Brooklyn")
    assert projection.target_key(image) == {
        "state": {"S": "NY"}, "city_email": {"S": "Brooklyn#ada@example.com"}}


def test_target_key_two_users_same_city_do_not_collide():
    first = projection.target_key(user_image("a@example.com", "NY", "Brooklyn"))
    second = projection.target_key(user_image("b@example.com", "NY", "Brooklyn"))
    assert projection.key_id(first) != projection.key_id(second)


def test_project_zipcode_dropped_everything_else_kept():
    image = user_image("ada@example.com", "NY", "Brooklyn", zipcode="11208", **EVERY_TYPE)
    item = projection.project(image)
    assert "zipcode" not in item
    assert item == {**{k: v for k, v in image.items() if k != "zipcode"},
                    "city_email": {"S": "Brooklyn#ada@example.com"}}


@pytest.mark.parametrize("name", sorted(EVERY_TYPE))
def test_project_every_dynamodb_type_survives_unchanged(name):
    image = user_image("ada@example.com", "NY", "Brooklyn", **{name: EVERY_TYPE[name]})
    assert projection.project(image)[name] == EVERY_TYPE[name]


def test_project_does_not_mutate_the_image():
    image = user_image("ada@example.com", "NY", "Brooklyn", **EVERY_TYPE)
    before = repr(image)
    projection.project(image)
    assert repr(image) == before


@pytest.mark.parametrize("image, reason", [
    (user_image("a@example.com", None, "Brooklyn"), "missing attribute 'state'"),
    (user_image("a@example.com", "NY", None), "missing attribute 'city'"),
    ({"state": {"S": "NY"}, "city": {"S": "Brooklyn"}}, "missing attribute 'email'"),
    (user_image("a@example.com", {"N": "5"}, "Brooklyn"), "attribute 'state' is N, expected S"),
    (user_image("a@example.com", "NY", {"NULL": True}), "attribute 'city' is NULL, expected S"),
    (user_image("a@example.com", "NY", {"SS": ["Brooklyn"]}), "attribute 'city' is SS, expected S"),
    (user_image("a@example.com", "", "Brooklyn"), "attribute 'state' is empty"),
    (user_image("a@example.com", "NY", "   "), "attribute 'city' is empty"),
    (user_image("a@example.com", "NY", "Brook#lyn"), "attribute 'city' contains the key separator '#'"),
    (user_image("a@example.com", {"S": "NY", "N": "1"}, "Brooklyn"), "attribute 'state' is S/N, expected S (string)"),
    (user_image("a@example.com", "N\ud800Y", "Brooklyn"), "attribute 'state' is not valid Unicode (a lone surrogate)"),
    (user_image("a@example.com", "NY", "Brook\udc00lyn"), "attribute 'city_email' is not valid Unicode (a lone surrogate)"),
    (user_image("a@example.com", "é" * 1024 + "x", "Akron"), "state is 2049 bytes in UTF-8, over DynamoDB's 2048-byte key limit"),
    (user_image("a@example.com", "NY", "c" * 1012), "city_email is 1026 bytes in UTF-8, over DynamoDB's 1024-byte key limit"),
    (user_image("e" * 1020 + "@x.io", "NY", "Queens"), "city_email is 1032 bytes in UTF-8, over DynamoDB's 1024-byte key limit"),
], ids=["no-state", "no-city", "no-email", "state-N", "city-NULL", "city-SS", "state-empty", "city-blank", "city-separator",
        "state-two-types", "state-surrogate", "city-surrogate", "state-over-2048-bytes", "city-over-sort-key-bound",
        "email-over-sort-key-bound"])
def test_target_key_unplaceable_image_raises_with_reason(image, reason):
    with pytest.raises(Unplaceable) as raised:
        projection.target_key(image)
    assert reason in str(raised.value)


def test_target_key_keys_exactly_at_their_byte_bounds_are_placeable():
    # GIVEN a state of exactly 2048 bytes in UTF-8 and a city that makes city_email exactly 1024
    state = "é" * 1024
    city = "c" * (1024 - len("#a@example.com"))
    # WHEN it is placed
    key = projection.target_key(user_image("a@example.com", state, city))
    # THEN DynamoDB's bounds are inclusive: it has its place
    assert len(key["state"]["S"].encode()) == 2048 and len(key["city_email"]["S"].encode()) == 1024


# --- fold --------------------------------------------------------------------------------

def key(state, city, email):
    return (state, f"{city}#{email}")


def test_fold_insert_puts_projected_item():
    image = user_image("ada@example.com", "NY", "Brooklyn", **EVERY_TYPE)
    folded = projection.fold([stream_record("INSERT", new=image)])
    assert folded.writes == {key("NY", "Brooklyn", "ada@example.com"): Put(projection.project(image))}
    assert folded.poison == [] and folded.records == 1


def test_fold_modify_same_place_puts_new_item_only():
    old = user_image("ada@example.com", "NY", "Brooklyn")
    new = user_image("ada@example.com", "NY", "Brooklyn", nickname={"S": "ada"})
    folded = projection.fold([stream_record("MODIFY", new=new, old=old)])
    assert folded.writes == {key("NY", "Brooklyn", "ada@example.com"): Put(projection.project(new))}


def test_fold_modify_move_deletes_old_key_and_puts_new():
    # GIVEN a user who moves from Brooklyn, NY to Austin, TX
    old = user_image("ada@example.com", "NY", "Brooklyn")
    new = user_image("ada@example.com", "TX", "Austin")
    # WHEN the MODIFY is folded
    folded = projection.fold([stream_record("MODIFY", new=new, old=old)])
    # THEN the old key is deleted and the new one written
    old_key = projection.target_key(old)
    assert folded.writes == {
        key("NY", "Brooklyn", "ada@example.com"): Delete(old_key),
        key("TX", "Austin", "ada@example.com"): Put(projection.project(new)),
    }


def test_fold_remove_deletes_old_key():
    old = user_image("ada@example.com", "NY", "Brooklyn")
    folded = projection.fold([stream_record("REMOVE", old=old)])
    assert folded.writes == {key("NY", "Brooklyn", "ada@example.com"): Delete(projection.target_key(old))}
    assert folded.poison == []


def test_fold_insert_then_remove_in_one_batch_ends_in_delete():
    image = user_image("ada@example.com", "NY", "Brooklyn")
    folded = projection.fold([stream_record("INSERT", new=image), stream_record("REMOVE", old=image)])
    assert list(folded.writes.values()) == [Delete(projection.target_key(image))]
    assert folded.records == 2


def test_fold_move_and_back_ends_at_original_place():
    brooklyn = user_image("ada@example.com", "NY", "Brooklyn")
    austin = user_image("ada@example.com", "TX", "Austin")
    folded = projection.fold([
        stream_record("INSERT", new=brooklyn),
        stream_record("MODIFY", new=austin, old=brooklyn),
        stream_record("MODIFY", new=brooklyn, old=austin),
    ])
    table = projection.apply({}, folded.writes.values())
    assert table == {key("NY", "Brooklyn", "ada@example.com"): projection.project(brooklyn)}


def test_fold_into_existing_fold_accumulates():
    first = projection.fold([stream_record("INSERT", new=user_image("a@example.com", "NY", "Queens"))])
    both = projection.fold([stream_record("INSERT", new=user_image("b@example.com", "NY", "Queens"))], into=first)
    assert both is first
    assert both.records == 2 and len(both.writes) == 2


@pytest.mark.parametrize("event_name", ["INSERT", "MODIFY"])
def test_fold_unplaceable_new_image_goes_to_poison_with_reason(event_name):
    # GIVEN a record whose new image has no state
    bad = user_image("ada@example.com", None, "Brooklyn")
    old = user_image("ada@example.com", "NY", "Brooklyn") if event_name == "MODIFY" else None
    record = stream_record(event_name, new=bad, old=old)
    # WHEN it is folded
    folded = projection.fold([record])
    # THEN the whole record is poison with the reason, and nothing of it is put
    assert folded.poison == [(record, "missing attribute 'state'")]
    assert not any(isinstance(w, Put) for w in folded.writes.values())


def test_fold_modify_to_unplaceable_still_deletes_old_key():
    old = user_image("ada@example.com", "NY", "Brooklyn")
    record = stream_record("MODIFY", new=user_image("ada@example.com", "NY", "Brook#lyn"), old=old)
    folded = projection.fold([record])
    assert folded.writes == {key("NY", "Brooklyn", "ada@example.com"): Delete(projection.target_key(old))}
    assert folded.poison[0][1] == "attribute 'city' contains the key separator '#'"


def test_fold_modify_from_unplaceable_puts_without_delete():
    old = user_image("ada@example.com", None, None)
    new = user_image("ada@example.com", "NY", "Brooklyn")
    folded = projection.fold([stream_record("MODIFY", new=new, old=old)])
    assert list(folded.writes.values()) == [Put(projection.project(new))]
    assert folded.poison == []


def test_fold_remove_of_unplaceable_writes_nothing_and_is_not_poison():
    folded = projection.fold([stream_record("REMOVE", old=user_image("ada@example.com", None, None))])
    assert folded.writes == {} and folded.poison == [] and folded.records == 1


def test_fold_sources_name_the_record_that_decided_each_key():
    # GIVEN a user who is inserted in Brooklyn, then moves to Austin in the same batch
    brooklyn = user_image("ada@example.com", "NY", "Brooklyn")
    insert = stream_record("INSERT", new=brooklyn)
    move = stream_record("MODIFY", new=user_image("ada@example.com", "TX", "Austin"), old=brooklyn)
    # WHEN the batch is folded
    folded = projection.fold([insert, move])
    # THEN both keys were last decided by the move: that is the record replicate quarantines
    # if the target refuses either write
    assert folded.sources == {key("NY", "Brooklyn", "ada@example.com"): move, key("TX", "Austin", "ada@example.com"): move}


def test_fold_record_without_dynamodb_section_is_poison_and_the_batch_goes_on():
    # GIVEN an INSERT that lost its dynamodb section, followed by a good one
    broken = {"eventID": "1", "eventName": "INSERT", "eventSource": "aws:dynamodb"}
    good = user_image("b@example.com", "NY", "Queens")
    # WHEN they are folded
    folded = projection.fold([broken, stream_record("INSERT", new=good)])
    # THEN the broken one is poison with the reason, the good one is put
    assert folded.poison == [(broken, "no NewImage: the stream must be NEW_AND_OLD_IMAGES")]
    assert folded.writes == {key("NY", "Queens", "b@example.com"): Put(projection.project(good))}


def test_fold_insert_without_new_image_is_poison():
    record = stream_record("INSERT", new=None, old=None)
    folded = projection.fold([record])
    assert folded.poison == [(record, "no NewImage: the stream must be NEW_AND_OLD_IMAGES")]


def test_fold_unknown_event_name_is_poison():
    record = stream_record("UPSERT", new=user_image("ada@example.com", "NY", "Brooklyn"))
    folded = projection.fold([record])
    assert folded.poison == [(record, "unknown eventName 'UPSERT'")]
    assert folded.writes == {}


def test_fold_poison_does_not_block_the_rest_of_the_batch():
    good = user_image("b@example.com", "NY", "Queens")
    folded = projection.fold([
        stream_record("INSERT", new=user_image("a@example.com", "NY", {"N": "1"})),
        stream_record("INSERT", new=good),
    ])
    assert len(folded.poison) == 1
    assert folded.writes == {key("NY", "Queens", "b@example.com"): Put(projection.project(good))}


# --- apply / to_client_form ---------------------------------------------------------------

def test_apply_put_then_delete_leaves_table_empty():
    image = user_image("ada@example.com", "NY", "Brooklyn")
    target = projection.target_key(image)
    table = projection.apply({}, [Put(projection.project(image)), Delete(target)])
    assert table == {}


def test_to_client_form_decodes_binary_recursively():
    form = projection.item_to_client_form(EVERY_TYPE)
    assert form["avatar"] == {"B": b"\x00\xffbinary"}
    assert form["keys"] == {"BS": [b"\x00\xffbinary", b"k2"]}
    assert form["profile"]["M"]["nested"]["M"]["deep"]["L"][1] == {"B": b"\x00\xffbinary"}
    # everything that is not binary is left exactly as it was
    assert form["scores"] == EVERY_TYPE["scores"] and form["history"] == EVERY_TYPE["history"]
    assert form["profile"]["M"]["flag"] == {"BOOL": False}
    assert form["nothing"] == {"NULL": True} and form["name"] == {"S": "Ada"}


def test_to_client_form_bytes_already_decoded_left_alone():
    assert projection.to_client_form({"B": b"raw"}) == {"B": b"raw"}
    assert projection.to_client_form({"BS": [b"raw", B64]}) == {"BS": [b"raw", b"\x00\xffbinary"]}
