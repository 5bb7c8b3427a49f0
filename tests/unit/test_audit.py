"""audit.describe: one JSON-ready entry per stream record."""
import base64
import json

import audit
import pytest

from ddblab.events import stream_event, stream_record, user_image

B64 = base64.b64encode(b"\x00\xff").decode()


def test_describe_modify_lists_only_changed_fields_old_to_new():
    # GIVEN a user who moves from Brooklyn to Queens and gains a nickname
    old = user_image("ada@example.com", "NY", "Brooklyn")
    new = user_image("ada@example.com", "NY", "Queens", nickname={"S": "ada"})
    record = stream_record("MODIFY", new=new, old=old)
    # WHEN it is described
    entry = audit.describe(record)
    # THEN the entry names the event, the key, and each change as old -> new
    assert entry == {
        "audit": "MODIFY",
        "keys": {"email": "ada@example.com"},
        "sequence": record["dynamodb"]["SequenceNumber"],
        "changes": {"city": {"old": "Brooklyn", "new": "Queens"},
                    "nickname": {"old": None, "new": "ada"}},
    }


def test_describe_modify_removed_attribute_new_is_none():
    old = user_image("ada@example.com", "NY", "Brooklyn", nickname={"S": "ada"})
    entry = audit.describe(stream_record("MODIFY", new=user_image("ada@example.com", "NY", "Brooklyn"), old=old))
    assert entry["changes"] == {"nickname": {"old": "ada", "new": None}}


def test_describe_modify_attribute_set_to_null_is_a_change():
    old = user_image("ada@example.com", "NY", "Brooklyn")
    new = user_image("ada@example.com", "NY", "Brooklyn", nickname={"NULL": True})
    entry = audit.describe(stream_record("MODIFY", new=new, old=old))
    assert entry["changes"] == {"nickname": {"old": None, "new": None}}


def test_describe_insert_every_field_new():
    record = stream_record("INSERT", new=user_image("ada@example.com", "NY", "Brooklyn"))
    entry = audit.describe(record)
    assert entry["audit"] == "INSERT"
    assert entry["changes"] == {
        "email": {"old": None, "new": "ada@example.com"}, "state": {"old": None, "new": "NY"},
        "city": {"old": None, "new": "Brooklyn"}, "zipcode": {"old": None, "new": "11208"}}


def test_describe_remove_every_field_old():
    record = stream_record("REMOVE", old=user_image("ada@example.com", "NY", "Brooklyn"))
    entry = audit.describe(record)
    assert entry["audit"] == "REMOVE" and entry["keys"] == {"email": "ada@example.com"}
    assert {name: change["new"] for name, change in entry["changes"].items()} == dict.fromkeys(
        ["email", "state", "city", "zipcode"])
    assert entry["changes"]["city"]["old"] == "Brooklyn"


def test_describe_binary_and_nested_values_serialise_to_json():
    # GIVEN an insert holding binaries, sets, numbers and nested maps/lists
    image = user_image(
        "ada@example.com", "NY", "Brooklyn",
        avatar={"B": B64}, keys={"BS": [B64]}, age={"N": "36"}, ratio={"N": "0.5"},
        scores={"NS": ["3", "1"]}, tags={"SS": ["b", "a"]}, active={"BOOL": True}, gone={"NULL": True},
        profile={"M": {"photo": {"B": B64}, "list": {"L": [{"N": "2"}, {"M": {"x": {"S": "y"}}}]}}})
    # WHEN it is described
    entry = audit.describe(stream_record("INSERT", new=image))
    # THEN it is plain JSON: binaries as base64 text, sets as sorted lists, numbers as numbers
    new = {name: change["new"] for name, change in entry["changes"].items()}
    assert json.loads(json.dumps(entry)) == entry
    assert new["avatar"] == B64 and new["keys"] == [B64]
    assert new["age"] == 36 and new["ratio"] == 0.5
    assert new["scores"] == [1, 3] and new["tags"] == ["a", "b"]
    assert new["active"] is True and new["gone"] is None
    assert new["profile"] == {"photo": B64, "list": [2, {"x": "y"}]}


def test_describe_undecodable_image_reported_not_raised():
    record = stream_record("INSERT", new={"email": {"S": "ada@example.com"}, "bad": {"XX": "?"}})
    entry = audit.describe(record)
    assert entry["audit"] == "INSERT" and entry["error"].startswith("cannot decode images")
    assert "changes" not in entry


def test_handler_one_json_line_per_record(capsys):
    event = stream_event(stream_record("INSERT", new=user_image("a@example.com", "NY", "Queens")),
                         stream_record("REMOVE", old=user_image("b@example.com", "TX", "Austin", avatar={"B": B64})))
    assert audit.handler(event, None) == {"audited": 2}
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["audit"] for line in lines] == ["INSERT", "REMOVE"]


@pytest.mark.parametrize("old, new", [
    ({"N": "1"}, {"BOOL": True}),
    ({"N": "0"}, {"BOOL": False}),
    ({"SS": ["a"]}, {"L": [{"S": "a"}]}),
    ({"S": B64}, {"B": B64}),
], ids=["N1-BOOLtrue", "N0-BOOLfalse", "SS-L", "S-B"])
def test_describe_modify_type_change_reported(old, new):
    record = stream_record("MODIFY", old=user_image("a@example.com", "NY", "Queens", flag=old),
                           new=user_image("a@example.com", "NY", "Queens", flag=new))
    assert "flag" in audit.describe(record)["changes"]


def test_describe_modify_high_precision_number_change_reported_with_its_exact_digits():
    record = stream_record("MODIFY",
                           old=user_image("a@example.com", "NY", "Queens", balance={"N": "1.00000000000000000001"}),
                           new=user_image("a@example.com", "NY", "Queens", balance={"N": "1.00000000000000000002"}))
    # a float would show both as 1.0: the digits that changed are kept, as text
    assert audit.describe(record)["changes"]["balance"] == {"old": "1.00000000000000000001", "new": "1.00000000000000000002"}


def test_describe_sets_listed_in_the_order_of_their_type():
    # GIVEN sets whose text order is not their natural order (10 < 9 and "/w==" < "AQ==" as text)
    image = user_image("a@example.com", "NY", "Queens", scores={"NS": ["10", "9", "-1.5", "0.25"]},
                       tags={"SS": ["b", "it's", "a"]}, keys={"BS": ["/w==", "AQ=="]})
    # WHEN described
    new = {name: change["new"] for name, change in audit.describe(stream_record("INSERT", new=image))["changes"].items()}
    # THEN numbers are in numeric order, strings in text order, binaries (shown as base64) in byte order
    assert new["scores"] == [-1.5, 0.25, 9, 10]
    assert new["tags"] == ["a", "b", "it's"]
    assert new["keys"] == ["AQ==", "/w=="]  # b"\x01" before b"\xff"


def test_describe_record_without_dynamodb_section_still_reported():
    assert audit.describe({"eventName": "INSERT"}) == {"audit": "INSERT", "keys": {}, "sequence": None, "changes": {}}


def test_handler_event_without_records_audits_none(capsys):
    assert audit.handler({}, None) == {"audited": 0}
    assert capsys.readouterr().out == ""


def test_handler_log_line_keys_sorted(capsys):
    # sorted keys: the same record always prints the same line, for grep and diff
    audit.handler(stream_event(stream_record("INSERT", new=user_image("a@example.com", "NY", "Queens"))), None)
    assert list(json.loads(capsys.readouterr().out)) == ["audit", "changes", "keys", "sequence"]
