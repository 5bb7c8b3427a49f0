"""What a user's fields may hold: the character rules (regular expressions openapi.yaml states
word for word), each field's check and normal form (NFC; the email lower-cased), a whole user or
a change validated at once, and the DynamoDB item of a user. Pure: no AWS here."""
from __future__ import annotations

import re
import unicodedata
from typing import Any

import projection  # zipped with every function: the key separator, "blank" and key bounds

FIELDS = ("email", "state", "city", "zipcode")
MAX_EMAIL = 254  # characters, as RFC 5321 bounds an address
MAX_TEXT = 100

# --- what a field may hold -----------------------------------------------------------------
# The rules are regular expressions built from explicit character sets, so that openapi.yaml
# states exactly the same ones (its patterns are these strings; a unit test compares them) and
# schemathesis can hold the live API to them. Only BMP code points are named: OpenAPI patterns
# are ECMA-262, which has no escape for the others outside unicode mode.
_CONTROL = [(0x00, 0x1F), (0x7F, 0x9F)]  # Cc
_SURROGATE = [(0xD800, 0xDFFF)]  # Cs: a lone one is not valid Unicode and cannot be encoded
_REPLACEMENT = [(0xFFFD, 0xFFFD)]  # what a decoder leaves where the bytes were not UTF-8
_FORMAT = [  # Cf in the BMP: soft hyphen, Arabic marks, zero-width, bidi controls and overrides, BOM
    (0xAD, 0xAD), (0x600, 0x605), (0x61C, 0x61C), (0x6DD, 0x6DD), (0x70F, 0x70F), (0x890, 0x891),
    (0x8E2, 0x8E2), (0x180E, 0x180E), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x2064),
    (0x2066, 0x206F), (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB)]
_BLANK = [(ord(c), ord(c)) for c in projection.BLANK]  # includes every Zs, Zl, Zp character


# Both run once, at import, to build PATTERNS: no mutant of theirs can be switched on after
# that (make mutants), and test_users_api_routes holds what they built to openapi.yaml.
def _class(ranges, extra: str = "") -> str:  # pragma: no mutate block
    """The inside of a regex character class for code point ranges, in ASCII-only escapes."""
    def esc(cp: int) -> str:
        return f"\\x{cp:02x}" if cp < 0x100 else f"\\u{cp:04x}"
    merged: list[list[int]] = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], high)
        else:
            merged.append([low, high])
    return extra + "".join(esc(low) if low == high else f"{esc(low)}-{esc(high)}" for low, high in merged)


_B = _class(_BLANK)
# Never in a state or city (inside its trimmed value). Format characters are invisible: a bidi
# override (U+202E) would make "Springfield" display as another name, and a zero-width one make
# two cities that look the same.
_TEXT_BAD = _CONTROL + _SURROGATE + _REPLACEMENT + _FORMAT
_EMAIL_BAD = _TEXT_BAD + _BLANK  # never in an email, anywhere in it after trimming
# Nor these: an email is a path segment, /users/{email}, and gateways differ in whether they
# decode %2F before routing and whether pathParameters arrive decoded. Without "/" and "%",
# one decoding or two give the same address.
_URL_UNSAFE = "/%"


def _trimmed(bad, extra: str = "") -> str:  # pragma: no mutate block
    """Blank around a core that starts and ends with a non-blank character and holds nothing bad."""
    core_char, edge_char = f"[^{_class(bad, extra)}]", f"[^{_class(bad + _BLANK, extra)}]"
    return f"^[{_B}]*{edge_char}(?:{core_char}*{edge_char})?[{_B}]*$"


# The patterns leave surrogates out: no UTF-8 text holds one, and regex engines that work on
# Unicode scalar values (Rust's, which schemathesis validates with) refuse the range. A lone
# surrogate can still arrive through a JSON escape ("\ud800"): the checks refuse it first.
_E = _class([r for r in _EMAIL_BAD if r not in _SURROGATE], _URL_UNSAFE)
_T = [r for r in _TEXT_BAD if r not in _SURROGATE]
PATTERNS = {
    "email": f"^[{_B}]*[^@{_E}]+@[^@{_E}]+\\.[^@.{_E}]+[{_B}]*$",
    "state": _trimmed(_T),
    "city": _trimmed(_T, projection.SEPARATOR),
    "zipcode": "^[0-9]{5}$",
}
_MATCHERS = {name: re.compile(pattern.removeprefix("^").removesuffix("$")) for name, pattern in PATTERNS.items()}
_KINDS = ((_REPLACEMENT, "the replacement character U+FFFD: the text was not valid UTF-8"),
          (_SURROGATE, "a lone surrogate: not valid Unicode"),
          (_FORMAT, "an invisible format character (zero-width, bidi control or override)"),
          (_BLANK, "whitespace"), (_CONTROL, "a control character"))


def _describe(char: str) -> str:
    cp = ord(char)
    kind = next((text for ranges, text in _KINDS if any(lo <= cp <= hi for lo, hi in ranges)), "not allowed here")
    if char == "\xa0":
        kind = "a non-breaking space"
    return f"U+{cp:04X} ({kind})"


def _first_bad(text: str, ranges) -> str | None:
    return next((c for c in text if any(lo <= ord(c) <= hi for lo, hi in ranges)), None)


def check_email(raw) -> tuple[str | None, str | None]:
    """(normalised email, None) or (None, why not)."""
    if not isinstance(raw, str):
        return None, "must be a string"
    if len(raw) > MAX_EMAIL:
        return None, f"must be a well-formed address of at most {MAX_EMAIL} characters"
    core = projection.strip_blank(raw)
    bad = _first_bad(core, _EMAIL_BAD)
    if bad is not None:
        return None, f"must not contain {_describe(bad)}"
    unsafe = next((c for c in core if c in _URL_UNSAFE), None)
    if unsafe:
        return None, f"must not contain {unsafe!r} (it cannot travel unambiguously in the URL /users/{{email}})"
    if not _MATCHERS["email"].fullmatch(raw):
        return None, "must be a well-formed address like name@example.com"
    # One user per address, whatever its case or Unicode normal form (NFC before lower-casing so
    # that the same text in NFD lowers the same; after, since lower() can decompose).
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", core).lower()), None


def check_text(name: str, raw, required: bool = True) -> tuple[str | None, str | None]:
    """(trimmed value, None) or (None, why not), for state and city."""
    if raw is None:
        return None, "is required" if required else "must be a string, not null"
    if not isinstance(raw, str):
        return None, "must be a non-empty string"
    if len(raw) > MAX_TEXT:
        return None, f"must be at most {MAX_TEXT} characters"
    core = projection.strip_blank(raw)
    if not core:
        return None, "must be a non-empty string (it is blank: whitespace only)"
    bad = _first_bad(core, _TEXT_BAD)
    if bad is not None:
        return None, f"must not contain {_describe(bad)}"
    if name == "city" and projection.SEPARATOR in core:
        return None, f"must not contain {projection.SEPARATOR!r}"
    return projection.normal(core), None  # one place, whatever the normal form it was typed in


def check_zipcode(raw) -> str | None:
    if raw is None:
        return "is required"
    if not isinstance(raw, str) or not _MATCHERS["zipcode"].fullmatch(raw) or len(raw) != 5:
        return "must be a string of exactly five digits, like \"11208\""
    return None


def _unknown(payload: dict, allowed) -> dict:
    return {name: ("is set by the API (a stored user is active)" if name == "active" else
                   "unknown field (allowed: " + ", ".join(allowed) + ")")
            for name in sorted(set(payload) - set(allowed))}


def key_errors(user: dict) -> dict:
    """The one rule across fields: the target's sort key <city>#<email> fits DynamoDB's bound."""
    try:
        projection.target_key(to_item(user))
    except projection.Unplaceable as reason:
        size = len(f"{user['city']}{projection.SEPARATOR}{user['email']}".encode("utf-8", "surrogatepass"))
        return {"city": f"with the email, the location key would be {size} bytes in UTF-8, over DynamoDB's "
                        f"{projection.SORT_KEY_MAX_BYTES}; use a shorter city or email ({reason})"}
    return {}


def validate_user(payload) -> tuple[dict | None, dict]:
    """Returns (user, {}) for a valid payload, or (None, {field: reason}) naming every bad field."""
    if not isinstance(payload, dict):
        return None, {"body": "must be a JSON object with fields " + ", ".join(FIELDS)}
    errors = _unknown(payload, FIELDS)
    user: dict[str, Any] = {}
    if payload.get("email") is None:
        errors["email"] = "is required"
    else:
        user["email"], why = check_email(payload["email"])
        if why:
            errors["email"] = why
    for name in ("state", "city"):
        user[name], why = check_text(name, payload.get(name))
        if why:
            errors[name] = why
    why = check_zipcode(payload.get("zipcode"))
    if why:
        errors["zipcode"] = why
    if errors:
        return None, errors
    user = {**user, "zipcode": payload["zipcode"], "active": True}
    errors = key_errors(user)
    return (None, errors) if errors else (user, {})


def validate_patch(payload, email: str) -> tuple[dict | None, dict]:
    """The fields a PATCH sets ({} when it sets none), or (None, errors). The email, if given,
    must be the one in the path: an address is the user's identity, not a field to change."""
    if not isinstance(payload, dict):
        return None, {"body": "must be a JSON object with one or more of state, city, zipcode"}
    errors = _unknown(payload, FIELDS)
    changes = {}
    if "email" in payload:
        given, why = check_email(payload["email"])
        if why or given != email:
            errors["email"] = why or f"must match the path ({email}); a user's email cannot change"
    for name in ("state", "city"):
        if name in payload:
            changes[name], why = check_text(name, payload[name], required=False)
            if why:
                errors[name] = why
    if "zipcode" in payload:
        why = check_zipcode(payload["zipcode"]) if payload["zipcode"] is not None else "must be a string, not null"
        if why:
            errors["zipcode"] = why
        changes["zipcode"] = payload["zipcode"]
    return (None, errors) if errors else (changes, {})


def to_item(user: dict) -> dict:
    item = {name: {"S": user[name]} for name in FIELDS}
    item["active"] = {"BOOL": user["active"]}
    return item


def from_item(item: dict, fields=FIELDS) -> dict:
    user = {name: item[name]["S"] for name in fields if "S" in item.get(name, {})}
    if "BOOL" in item.get("active", {}):
        user["active"] = item["active"]["BOOL"]
    return user
