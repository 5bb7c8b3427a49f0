"""Where a user belongs in users_by_location, and what a batch of stream records implies.

Pure functions on DynamoDB-JSON images (the wire form that stream records carry), so
every attribute type passes through untouched. Shared by the replicate function, the
reconcile tool and the tests. Stdlib only: this file is zipped with the handlers.
"""
from __future__ import annotations

import base64
import json
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal

# The sort key is "<city>#<email>": keying by city alone would let the next user in the
# same city overwrite the previous one; with the email appended no two users collide, and
# begins_with("<city>#") still answers "users in this city of this state".
SEPARATOR = "#"
PARTITION_KEY = "state"
SORT_KEY = "city_email"
DROPPED_ATTRIBUTES = frozenset({"zipcode"})
TARGET_TABLE_NAME = "users_by_location"  # in messages only: the deployed name may carry a prefix
CITY_INDEX = "by_city"  # users_by_location by city alone: city (hash), email (range)
# A consumer's own table (make consumer) is keyed by the user's email; the template's handler
# keeps in each row the stream position of the row's last change, which its conditional write
# compares and doctor's probe reads.
VIEW_KEY = "email"
VIEW_SEQUENCE = "sequence"
# Sequence numbers are decimal strings of varying length (about 21 digits on AWS, 56 where a
# Kinesis stream backs them: more than a DynamoDB number holds). Zero-padded to one width they
# compare as strings in stream order, which is what the template's conditional write compares.
VIEW_POSITION_WIDTH = 64
# DynamoDB bounds key attributes in UTF-8 bytes, not characters: a partition key (state; city
# in the by_city index) holds at most 2048, a sort key (city_email; email in the index) 1024.
PARTITION_KEY_MAX_BYTES = 2048
SORT_KEY_MAX_BYTES = 1024
# DynamoDB refuses an item over 400 KB, counted as item_size() counts. A user that fits in
# `users` can still be refused once the target key is added: that is decided here, before
# the write, so replicate (which quarantines it) and reconcile (which then expects it in
# the quarantine, not in the target) take the same decision.
ITEM_MAX_BYTES = 400 * 1024

# One definition of "blank", shared by the users API (which trims it and refuses values made
# only of it) and target_key (which refuses to place them): every character Python's
# str.isspace() accepts (Unicode White_Space, NBSP included, plus the ASCII separators
# \x1c-\x1f), and the invisible ones that render as nothing (zero-width space, word joiner,
# BOM, Mongolian vowel separator). Written out, not left to str.strip(), so that openapi.yaml
# can state the same set; tests/unit/test_projection.py keeps it a superset of isspace().
BLANK = ("\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
         "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\u180e\u200b\u2060\ufeff")



def error_code(error) -> str:
    """The error code of a botocore ClientError ("" when the answer has none)."""
    return error.response.get("Error", {}).get("Code", "")


def refused_for_good(error) -> bool:
    """A write refusal no retry can cure, and that concerns the item, not the table: an item
    or key over DynamoDB's size limits. Any other ValidationException (a target recreated
    with another key, say) concerns every write: replicate raises it, so the stream stops and
    says so, and the tools stop too, rather than quietly setting everything aside. The one
    rule for replicate, reconcile --fix (ddblab/data/batches.py) and redrive."""
    return error_code(error) == "ValidationException" and "size" in error.response["Error"].get("Message", "").lower()


def normal(text: str) -> str:
    """A place as it is keyed: NFC, so "São Paulo" typed precomposed or as "a" + U+0303 (some
    keyboards and copy-paste give that) is one city. The users API normalises the same way."""
    return unicodedata.normalize("NFC", text)


def strip_blank(text: str) -> str:
    return text.strip(BLANK)


def is_blank(text: str) -> bool:
    return not text.strip(BLANK)


def utf8_size(text: str) -> int:
    """The size DynamoDB counts; raises UnicodeEncodeError for text that is not valid Unicode
    (a lone surrogate), which boto3 would otherwise retry for half a minute."""
    return len(text.encode("utf-8"))


class Unplaceable(ValueError):
    """The image has no valid place in users_by_location (a poison record)."""


def key_of(item: dict) -> dict:
    """The key attributes of a users_by_location item."""
    return {PARTITION_KEY: item[PARTITION_KEY], SORT_KEY: item[SORT_KEY]}


@dataclass(frozen=True)
class Put:
    item: dict

    @property
    def key(self) -> dict:
        return key_of(self.item)


@dataclass(frozen=True)
class Delete:
    key: dict


@dataclass
class Fold:
    """The final write for each target key a batch touches, plus what it could not place."""

    writes: dict = field(default_factory=dict)  # (state, city_email) -> Put | Delete
    sources: dict = field(default_factory=dict)  # (state, city_email) -> the record that decided it
    poison: list = field(default_factory=list)  # (record, reason)
    records: int = 0


def _string(image: dict, name: str) -> str:
    value = image.get(name)
    if value is None:
        raise Unplaceable(f"missing attribute {name!r}")
    if set(value) != {"S"}:
        raise Unplaceable(f"attribute {name!r} is {'/'.join(value)}, expected S (string)")
    text = value["S"]
    if not isinstance(text, str) or is_blank(text):
        raise Unplaceable(f"attribute {name!r} is empty")
    return text


def _bounded(name: str, text: str, limit: int) -> None:
    try:
        size = utf8_size(text)
    except UnicodeEncodeError:
        raise Unplaceable(f"attribute {name!r} is not valid Unicode (a lone surrogate)") from None
    if size > limit:
        raise Unplaceable(f"{name} is {size} bytes in UTF-8, over DynamoDB's {limit}-byte key limit")


def target_key(image: dict) -> dict:
    """The users_by_location key for a users image; raises Unplaceable if it has none."""
    # State and city are the place: normalised, so users written straight into the table in
    # another normal form land in the same place. The email is kept as stored: it is the users
    # table's key, and two items there are two users, each with a row of its own.
    email = _string(image, "email")
    state = normal(_string(image, PARTITION_KEY))
    city = normal(_string(image, "city"))
    if SEPARATOR in city:
        raise Unplaceable(f"attribute 'city' contains the key separator {SEPARATOR!r}")
    sort_key = f"{city}{SEPARATOR}{email}"
    # The by_city index keys the item by city (at most 2048 bytes) and email (1024) too: both
    # lie inside city_email, so its 1024-byte bound holds them to theirs.
    _bounded(PARTITION_KEY, state, PARTITION_KEY_MAX_BYTES)
    _bounded(SORT_KEY, sort_key, SORT_KEY_MAX_BYTES)
    return {PARTITION_KEY: {"S": state}, SORT_KEY: {"S": sort_key}}


def _number_size(text: str) -> int:
    """A number's size: its significant digits in base-100 pairs aligned on the decimal
    point, plus 1, plus 1 if negative (AWS's documented rule, as MiniStack 1.5.33 implements
    it in services/dynamodb.py, _number_size_bytes)."""
    text = str(text).strip()
    negative = text.startswith("-")
    mantissa, _, exponent_text = text.lstrip("+-").lower().partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    if not digits.isdigit() or (exponent_text and not exponent_text.lstrip("+-").isdigit()):
        return 1
    exponent = (int(exponent_text) if exponent_text else 0) - len(fraction)
    significant = digits.lstrip("0").rstrip("0")
    if not significant:
        return 1
    exponent += len(digits.lstrip("0")) - len(significant)
    if exponent % 2:
        significant += "0"
    if len(significant) % 2:
        significant = "0" + significant
    return 1 + len(significant) // 2 + (1 if negative else 0)


def _value_size(value: dict) -> int:
    (kind, inner), = value.items()
    if kind == "S":
        return len(inner.encode("utf-8", "surrogatepass"))
    if kind == "N":
        return _number_size(inner)
    if kind == "B":
        return len(_binary(inner))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(v.encode("utf-8", "surrogatepass")) for v in inner)
    if kind == "NS":
        return sum(_number_size(v) for v in inner)
    if kind == "BS":
        return sum(len(_binary(v)) for v in inner)
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode("utf-8", "surrogatepass")) + _value_size(v) for k, v in inner.items())
    return 0


def item_size(item: dict) -> int:
    """An item's size as DynamoDB counts it against its 400 KB limit: attribute names and
    values in bytes (AWS's "Item sizes and formats" rules; MiniStack 1.5.33 counts the same,
    services/dynamodb.py _item_size_bytes)."""
    return sum(len(name.encode("utf-8", "surrogatepass")) + _value_size(value) for name, value in item.items())


def project(image: dict) -> dict:
    """The users_by_location item for a users image: every attribute but zipcode, plus the
    key. The one decision of "placeable and accepted", for replicate and reconcile alike:
    raises Unplaceable when there is no key, or when the target would refuse the item for
    good (a key over its byte bound, the item over 400 KB once keyed)."""
    item = {name: value for name, value in image.items() if name not in DROPPED_ATTRIBUTES}
    key = target_key(image)
    item.update(key)
    item["city"] = {"S": key[SORT_KEY]["S"].partition(SEPARATOR)[0]}  # the by_city index finds it by the normal form
    size = item_size(item)
    if size > ITEM_MAX_BYTES:
        raise Unplaceable(f"the item is {size} bytes once keyed, over DynamoDB's {ITEM_MAX_BYTES}-byte item size "
                          f"limit: {TARGET_TABLE_NAME} would refuse the write for good")
    return item


def key_id(key: dict) -> tuple:
    return (key[PARTITION_KEY]["S"], key[SORT_KEY]["S"])


def fold(records: list, into: Fold | None = None) -> Fold:
    """Fold stream records, in stream order, into the final write per target key.

    Applying the result gives the same table as applying the records one by one: per key,
    only the last operation survives either way. Applying it twice is the same as once.
    A MODIFY that moves a user deletes the old key; an image that cannot be placed is
    poison (its old key, if any, is still deleted, since the user no longer belongs there).
    """
    result = into or Fold()
    for record in records:
        result.records += 1
        change = record.get("dynamodb", {})
        old, new = change.get("OldImage"), change.get("NewImage")
        old_key = None
        if old:
            try:
                old_key = target_key(old)
            except Unplaceable:
                old_key = None  # it was quarantined when it arrived: nothing of it is in the target
        new_item = None
        if record.get("eventName") in ("INSERT", "MODIFY"):
            if not new:
                result.poison.append((record, "no NewImage: the stream must be NEW_AND_OLD_IMAGES"))
            else:
                try:
                    new_item = project(new)
                except Unplaceable as reason:
                    result.poison.append((record, str(reason)))
        elif record.get("eventName") != "REMOVE":
            result.poison.append((record, f"unknown eventName {record.get('eventName')!r}"))
        if old_key is not None:
            result.writes[key_id(old_key)] = Delete(old_key)
            result.sources[key_id(old_key)] = record
        if new_item is not None:
            result.writes[key_id(new_item)] = Put(new_item)
            result.sources[key_id(new_item)] = record
    return result


def apply(table: dict, writes) -> dict:
    """Apply writes to an in-memory table {key_id: item} (the model the fold is tested against)."""
    for write in writes:
        if isinstance(write, Put):
            table[key_id(write.item)] = write.item
        else:
            table.pop(key_id(write.key), None)
    return table


def to_client_form(value):
    """Stream records carry B/BS as base64 text; the low-level client wants bytes."""
    if isinstance(value, dict):
        out = {}
        for kind, inner in value.items():
            if kind == "B":
                out[kind] = base64.b64decode(inner) if isinstance(inner, str) else inner
            elif kind == "BS":
                out[kind] = [base64.b64decode(v) if isinstance(v, str) else v for v in inner]
            elif kind == "M":
                out[kind] = {k: to_client_form(v) for k, v in inner.items()}
            elif kind == "L":
                out[kind] = [to_client_form(v) for v in inner]
            else:
                out[kind] = inner
        return out
    return value


def item_to_client_form(item: dict) -> dict:
    return {name: to_client_form(value) for name, value in item.items()}


def canonical(value):
    """A DynamoDB-JSON value in a form that compares by type and value: sets ordered,
    numbers exact, and N 1 never equal to BOOL true (in Python, Decimal(1) == True)."""
    if not isinstance(value, dict):
        return value
    (kind, inner), = value.items()  # one type tag: what a decodable image holds
    if kind == "N":
        return (kind, Decimal(inner))
    if kind == "B":  # base64 text in stream records, bytes from the client: the same value
        return (kind, _binary(inner))
    if kind == "BS":
        return (kind, tuple(sorted(_binary(v) for v in inner)))
    if kind == "SS":
        return (kind, tuple(sorted(inner)))
    if kind == "NS":
        return (kind, tuple(sorted(Decimal(v) for v in inner)))
    if kind == "M":
        return (kind, tuple(sorted((k, canonical(v)) for k, v in inner.items())))
    if kind == "L":
        return (kind, tuple(canonical(v) for v in inner))
    return (kind, json.dumps(inner, sort_keys=True))


def _binary(value) -> bytes:
    if isinstance(value, str):
        return base64.b64decode(value)
    return bytes(value)  # bytes, bytearray or boto3's Binary (which converts itself)


def same_value(a, b) -> bool:
    """The one equality of DynamoDB values, used by audit and reconcile alike."""
    return canonical(a) == canonical(b)


def same_item(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(same_value(a[name], b[name]) for name in a)
