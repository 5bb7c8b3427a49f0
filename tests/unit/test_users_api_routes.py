"""users_api: the routes beyond POST/GET/DELETE, strict input, the pagination token, the issue's
reproductions, openapi.yaml's patterns, and a property: an accepted user is always placeable."""
import base64
import json
import unicodedata

import projection
import pytest
import users_api
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ddblab.core.settings import ROOT
from ddblab.events import api_event_v1, api_event_v2
from tests.unit.test_users_api import GOOD, FakeDynamoDB

EVENTS = pytest.mark.parametrize("event", [api_event_v1, api_event_v2], ids=["payload1.0", "payload2.0"])


@pytest.fixture
def table(monkeypatch):
    fake = FakeDynamoDB()
    monkeypatch.setattr(users_api.routes, "dynamodb", fake)
    return fake


def call(event):
    answer = users_api.handler(event, None)
    body = json.loads(answer["body"]) if answer["body"] else None
    if answer["statusCode"] >= 400:
        assert isinstance(body["message"], str)  # every error says what is wrong
    return answer["statusCode"], body, answer["headers"]


def with_headers(event, **headers):
    event["headers"] = {**event["headers"], **headers}
    return event


def with_query(event, **query):
    if event.get("version") == "2.0":
        event["queryStringParameters"] = {k: ",".join(v) if isinstance(v, list) else v for k, v in query.items()}
    else:
        event["queryStringParameters"] = {k: v[-1] if isinstance(v, list) else v for k, v in query.items()}
        event["multiValueQueryStringParameters"] = {k: v if isinstance(v, list) else [v] for k, v in query.items()}
    return event


# --- the issue's reproductions: each was accepted, then quarantined or a 503 ------------------

@pytest.mark.parametrize("payload, field, reason", [
    ({**GOOD, "email": "nbspcity@example.com", "state": "Ohio", "city": "\u00a0", "zipcode": "45401"},
     "city", "blank"),
    ({**GOOD, "email": "\u4e00" * 240 + "@example.com", "city": "\u5317" * 100}, "city", "bytes in UTF-8"),
    ({**GOOD, "city": "\ud800"}, "city", "lone surrogate"),
    ({**GOOD, "email": "\ufffd\ufffd@example.com"}, "email", "U+FFFD"),
    ({**GOOD, "email": "a\u200bb@example.com"}, "email", "U+200B (an invisible format character"),
    ({**GOOD, "email": "a\u202eb@example.com"}, "email", "U+202E"),
    ({**GOOD, "email": "a\u00a0b@example.com"}, "email", "U+00A0 (a non-breaking space)"),
    ({**GOOD, "email": "a\x07b@example.com"}, "email", "U+0007 (a control character)"),
])
def test_validate_user_issue_reproduction_refused_with_field_and_reason(payload, field, reason):
    user, errors = users_api.validate_user(payload)
    assert user is None and list(errors) == [field]
    assert reason in errors[field]


@EVENTS
def test_handler_post_invalid_utf8_body_400(table, event):
    raw = b'{"email":"\xff\xfe@example.com","state":"Ohio","city":"Dayton","zipcode":"45401"}'
    e = event("POST", "/users", None)
    e.update(body=base64.b64encode(raw).decode(), isBase64Encoded=True)
    status, body, _ = call(e)
    assert status == 400 and "not valid UTF-8" in body["errors"]["body"]
    assert table.calls == []


@EVENTS
def test_handler_get_path_with_invalid_utf8_400_names_replacement(table, event):
    status, body, _ = call(event("GET", "/users/%ff%fe@example.com"))
    assert status == 400 and "U+FFFD" in body["errors"]["email"]
    assert table.calls == []


def test_blank_is_a_superset_of_isspace_and_projection_agrees():
    assert all(chr(c) in projection.BLANK for c in range(0x110000) if chr(c).isspace())
    for char in projection.BLANK:
        with pytest.raises(projection.Unplaceable, match="empty"):
            projection.target_key({"email": {"S": "a@b.co"}, "state": {"S": "Ohio"}, "city": {"S": char * 3}})
        assert users_api.check_text("city", char * 3)[0] is None


def test_email_forbidden_ranges_cover_every_bmp_control_format_separator_and_surrogate():
    ranges = users_api.fields._EMAIL_BAD
    for cp in range(0x10000):
        if unicodedata.category(chr(cp)) in ("Cc", "Cf", "Cs", "Zs", "Zl", "Zp"):
            assert any(lo <= cp <= hi for lo, hi in ranges), hex(cp)


# --- openapi.yaml states the same rules --------------------------------------------------------

def test_openapi_patterns_are_the_validators():
    document = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    schemas = document["components"]["schemas"]
    assert schemas["Email"]["pattern"] == users_api.PATTERNS["email"]
    assert schemas["Email"]["maxLength"] == users_api.MAX_EMAIL
    for name in ("state", "city", "zipcode"):
        assert schemas[name.title()]["pattern"] == users_api.PATTERNS[name], name
        assert schemas["UserInput"]["properties"][name] == {"$ref": f"#/components/schemas/{name.title()}"}
    for name in ("state", "city"):
        assert schemas[name.title()]["maxLength"] == users_api.MAX_TEXT


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=12), st.sampled_from(["state", "city", "email"]))
def test_check_field_accepts_exactly_what_the_pattern_matches(text, name):
    value = text if name != "email" else text + "@example.com"
    accepted = (users_api.check_email(value) if name == "email" else users_api.check_text(name, value))[1] is None
    assert accepted == bool(users_api.fields._MATCHERS[name].fullmatch(value)), repr(value)


# --- the property: what the API accepts, replicate places ----------------------------------------

unicode_text = st.text(st.characters(codec="utf-8") | st.sampled_from(list(projection.BLANK) + ["\ufffd", "#"]),
                       max_size=120)


@settings(max_examples=500, deadline=None)
@given(st.fixed_dictionaries({"email": st.one_of(unicode_text.map(lambda t: t + "@ex.com"),
                                                 st.tuples(unicode_text, unicode_text).map("@".join)),
                              "state": unicode_text, "city": unicode_text,
                              "zipcode": st.from_regex(r"[0-9]{5}", fullmatch=True)}))
def test_accepted_user_is_always_placeable_by_replicate(payload):
    user, errors = users_api.validate_user(payload)
    if user is not None:
        item = projection.project(users_api.to_item(user))  # raises Unplaceable if the pipeline would quarantine
        assert len(item[projection.SORT_KEY]["S"].encode()) <= 1024  # DynamoDB's sort key bound, in UTF-8 bytes


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(codec="utf-8"), min_size=1, max_size=60).filter(lambda t: "@" not in t),
       st.text(st.characters(codec="utf-8"), min_size=1, max_size=100))
def test_accepted_user_with_long_unicode_key_is_placeable(local, city):
    user, _ = users_api.validate_user({**GOOD, "email": local * 4 + "@example.com", "city": city})
    if user is not None:
        projection.project(users_api.to_item(user))


# --- strict input --------------------------------------------------------------------------------

@EVENTS
@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "application/json; charset=latin-1"])
def test_handler_post_not_json_415(table, event, content_type):
    e = event("POST", "/users", GOOD)
    e["headers"] = {k: v for k, v in e["headers"].items() if k != "content-type"}
    if content_type:
        e["headers"]["Content-Type"] = content_type
    status, body, _ = call(e)
    assert status == 415 and "Content-Type" in body["errors"]
    assert table.calls == []


@EVENTS
def test_handler_post_json_with_charset_accepted(table, event):
    status, _, _ = call(with_headers(event("POST", "/users", GOOD), **{"content-type": "application/json; charset=UTF-8"}))
    assert status == 201


@EVENTS
@pytest.mark.parametrize("raw, reason", [
    ('{"email":"a@b.co","state":"Ohio","city":"Dayton","zipcode":"45401","city":"Akron"}', "duplicate key 'city'"),
    ('{"email":"a@b.co","state":"Ohio","city":"Dayton","zipcode":NaN}', "NaN is not JSON"),
])
def test_handler_post_duplicate_key_or_nan_400(table, event, raw, reason):
    status, body, _ = call(event("POST", "/users", raw))
    assert status == 400 and reason in body["errors"]["body"]
    assert table.calls == []


# --- PUT -------------------------------------------------------------------------------------------

@EVENTS
def test_handler_put_new_201_then_same_200_unchanged_then_other_200_replaced(table, event):
    status, body, headers = call(event("PUT", "/users/Ada@Example.com", {k: v for k, v in GOOD.items() if k != "email"}))
    assert status == 201 and body == {**GOOD, "active": True} and headers["X-User-Changed"] == "true"
    assert headers["Location"] == "ada@example.com"  # relative to /users/Ada@Example.com: the user's own URL
    writes = len([c for c in table.calls if c[0] == "put_item"])
    status, body, headers = call(event("PUT", "/users/ada@example.com", GOOD))
    assert status == 200 and body == {**GOOD, "active": True} and headers["X-User-Changed"] == "false"
    assert len([c for c in table.calls if c[0] == "put_item"]) == writes  # no write, no stream record
    status, body, headers = call(event("PUT", "/users/ada@example.com", {**GOOD, "city": "Queens"}))
    assert status == 200 and body["city"] == "Queens" and headers["X-User-Changed"] == "true"


@EVENTS
def test_handler_put_email_not_matching_path_400(table, event):
    status, body, _ = call(event("PUT", "/users/bob@example.com", GOOD))
    assert (status, body) == (400, {"message": "invalid user",
                                    "errors": {"email": "must match the path (bob@example.com), or be left out"}})
    assert table.items == {}


@EVENTS
@pytest.mark.parametrize("payload, errors", [
    ({"city": "Brooklyn", "zipcode": "11208"}, {"state": "is required"}),
    ([GOOD], {"body": "must be a JSON object with fields email, state, city, zipcode"}),
], ids=["no-state", "a-list"])
def test_handler_put_invalid_user_400_nothing_written(table, event, payload, errors):
    status, body, _ = call(event("PUT", "/users/ada@example.com", payload))
    assert (status, body) == (400, {"message": "invalid user", "errors": errors})
    assert table.items == {}


@EVENTS
def test_handler_put_bad_path_email_400(table, event):
    status, body, _ = call(event("PUT", "/users/not-an-email", GOOD))
    assert status == 400 and "email" in body["errors"]


# --- PATCH -----------------------------------------------------------------------------------------

@EVENTS
def test_handler_patch_moves_user_200(table, event):
    call(event("POST", "/users", GOOD))
    status, body, _ = call(event("PATCH", "/users/ada@example.com", {"city": " Queens ", "zipcode": "11101"}))
    assert status == 200 and body == {**GOOD, "city": "Queens", "zipcode": "11101", "active": True}
    assert table.items["ada@example.com"]["city"] == {"S": "Queens"}
    update = next(kwargs for name, kwargs in table.calls if name == "update_item")
    assert update["ConditionExpression"] == "attribute_exists(email)"


@EVENTS
def test_handler_patch_absent_404(table, event):
    status, body, _ = call(event("PATCH", "/users/nobody@example.com", {"city": "Queens"}))
    assert status == 404 and "PUT" in body["message"]
    assert table.items == {}


@EVENTS
def test_handler_patch_deleted_between_read_and_write_404_not_resurrected(table, event, monkeypatch):
    call(event("POST", "/users", GOOD))
    real_get = table.get_item

    def get_then_delete(**kwargs):
        found = real_get(**kwargs)
        table.items.clear()  # a concurrent DELETE
        return found

    monkeypatch.setattr(table, "get_item", get_then_delete)
    status, _, _ = call(event("PATCH", "/users/ada@example.com", {"city": "Queens"}))
    assert status == 404 and table.items == {}


@EVENTS
@pytest.mark.parametrize("patch, field", [
    ({"city": None}, "city"), ({"zipcode": None}, "zipcode"), ({"city": "a#b"}, "city"),
    ({"email": "bob@example.com"}, "email"), ({"active": False}, "active"), ({"city": "\u00a0"}, "city"),
    ({"city": "\u5317" * 100}, "city")])
def test_handler_patch_bad_field_400_unchanged(table, event, patch, field):
    call(event("POST", "/users", {**GOOD, "email": "\u4e00" * 240 + "@example.com"}))
    email = "\u4e00" * 240 + "@example.com"
    before = dict(table.items)
    status, body, _ = call(event("PATCH", "/users/" + email, patch))
    assert status == 400 and list(body["errors"]) == [field]
    assert table.items == before


@EVENTS
def test_handler_patch_merge_patch_media_type_accepted(table, event):
    call(event("POST", "/users", GOOD))
    e = with_headers(event("PATCH", "/users/ada@example.com", {"state": "New York"}),
                     **{"content-type": "application/merge-patch+json"})
    status, body, _ = call(e)
    assert status == 200 and body["state"] == "New York"


# --- GET /users?state=..&city=.. -------------------------------------------------------------------

def row(state, city, email):
    return {"state": {"S": state}, "city_email": {"S": f"{city}#{email}"}, "city": {"S": city},
            "email": {"S": email}, "active": {"BOOL": True}}


@EVENTS
@pytest.mark.parametrize("query, index, condition", [
    ({"state": "Ohio"}, None, "#s = :s"),
    ({"state": "Ohio", "city": "Dayton"}, None, "#s = :s AND begins_with(#k, :k)"),
    ({"city": "Dayton"}, "by_city", "#c = :c"),
])
def test_handler_list_by_location_pages_with_token(table, event, query, index, condition):
    first = row("Ohio", "Dayton", "a@b.co")
    table.pages = [{"Items": [first], "LastEvaluatedKey": projection.key_of(first) | (
        {"city": first["city"], "email": first["email"]} if index else {})}, {"Items": []}]
    status, body, _ = call(with_query(event("GET", "/users"), **query, limit="1"))
    assert status == 200 and body["users"] == [{"email": "a@b.co", "state": "Ohio", "city": "Dayton", "active": True}]
    sent = table.calls[-1][1]
    assert sent.get("IndexName") == index and sent["KeyConditionExpression"] == condition and sent["Limit"] == 1
    status, body, _ = call(with_query(event("GET", "/users"), **query, next=body["next"]))
    assert status == 200 and body == {"users": []}
    assert table.calls[-1][1]["ExclusiveStartKey"]["city_email"] == {"S": "Dayton#a@b.co"}


OHIO = bytes.fromhex("a767ddf3")  # sha256("state\0Ohio\0")[:4]: what binds a token to GET /users?state=Ohio


def raw_token(*parts: bytes, head: bytes = b"\x02s" + OHIO) -> str:
    """A token as the API lays it out: version, kind, binding, then each part with its 2-byte length."""
    body = head + b"".join(len(p).to_bytes(2, "big") + p for p in parts)
    return base64.urlsafe_b64encode(body).decode().rstrip("=")


def tampered_tokens():
    good = users_api.encode_token(users_api.Query("Ohio", None, 25), row("Ohio", "Dayton", "a@b.co"))
    other_state = users_api.encode_token(users_api.Query("Texas", None, 25), row("Texas", "Austin", "a@b.co"))
    other_kind = users_api.encode_token(users_api.Query("Ohio", "Dayton", 25), row("Ohio", "Dayton", "a@b.co"))
    return [good[:-2], good + "!", "", "x" * 5000, other_state, other_kind,
            base64.urlsafe_b64encode(b'{"v":1,"by":"state","key":["Ohio","Dayton#a@b.co"]}').decode().rstrip("="),
            raw_token(b"Dayton#a@b.co", head=b"\x01s" + OHIO),  # another version
            raw_token(b"Dayton#a@b.co", head=b"\x02c" + OHIO),  # another kind
            raw_token(b"Dayton#a@b.co", head=b"\x02s" + bytes(4)),  # bound to another query
            raw_token(b"Dayton"), raw_token(b"\xc2\xa0#a@b.co"), raw_token(b"D" * 1100 + b"#a@b.co"),
            raw_token(b"Dayton#a@b.co", b"x"), raw_token(), raw_token(b""), raw_token(b"\xff#a@b.co"),
            raw_token(b"Dayton#a@b.co")[:-4]]


@EVENTS
@pytest.mark.parametrize("token", tampered_tokens())
def test_handler_list_tampered_token_400_never_queried(table, event, token):
    status, body, _ = call(with_query(event("GET", "/users"), state="Ohio", next=token))
    assert (status, body) == (400, {"message": "invalid request",
                                    "errors": {"next": "is not a token this query returned; start again without it"}})
    assert table.calls == []


def test_decode_token_by_city_index_key_and_row_key_agree_by_construction():
    # GIVEN a by_city token: it carries the state and the email, the city is the query's
    query = users_api.Query(None, "Dayton", 25)
    token = users_api.encode_token(query, {"state": {"S": "Ohio"}, "city_email": {"S": "Dayton#a@b.co"},
                                           "city": {"S": "Dayton"}, "email": {"S": "a@b.co"}})
    # THEN the start key's index part (city, email) is the row key's (city_email) - no token can tell them apart
    assert users_api.decode_token(query, token) == {"state": {"S": "Ohio"}, "city_email": {"S": "Dayton#a@b.co"},
                                                     "city": {"S": "Dayton"}, "email": {"S": "a@b.co"}}


@EVENTS
def test_handler_list_pages_past_a_user_whose_email_holds_the_separator(table, event):
    # GIVEN a page that ends on a user whose email has a '#' (allowed in an address; the city cannot)
    last = row("Ohio", "Dayton", "a#b@b.co")
    table.pages = [{"Items": [last], "LastEvaluatedKey": projection.key_of(last)}, {"Items": []}]
    status, body, _ = call(with_query(event("GET", "/users"), state="Ohio", limit="1"))
    # WHEN the next page is asked for THEN the token is accepted and the query resumes after that user
    status, body, _ = call(with_query(event("GET", "/users"), state="Ohio", next=body["next"]))
    assert status == 200 and table.calls[-1][1]["ExclusiveStartKey"]["city_email"] == {"S": "Dayton#a#b@b.co"}


@EVENTS
@pytest.mark.parametrize("query, field", [
    ({}, "state"), ({"limit": "0"}, "limit"), ({"state": "Ohio", "limit": "101"}, "limit"),
    ({"state": "Ohio", "limit": "ten"}, "limit"), ({"state": "\u00a0"}, "state"), ({"city": "a#b"}, "city"),
    ({"state": ["Ohio", "Texas"]}, "state"), ({"state": "Ohio", "sort": "asc"}, "sort")])
def test_handler_list_bad_query_400(table, event, query, field):
    status, body, _ = call(with_query(event("GET", "/users"), **query))
    assert status == 400 and field in body["errors"]
    assert table.calls == []


# --- exactly what a refused body says (make mutants: the messages are the API's output) ----------

def raw_post(body: bytes | None, content_type: str | None = "application/json") -> dict:
    event = api_event_v1("POST", "/users")
    event["headers"] = {"Content-Type": content_type} if content_type else {}
    event["body"], event["isBase64Encoded"] = (base64.b64encode(body).decode(), True) if body is not None else (None, False)
    return event


@pytest.mark.parametrize("event, status, expected", [
    (raw_post(b"{}", None), 415, {"message": "send the body as JSON: Content-Type: application/json (got 'none')",
                                  "errors": {"Content-Type": "must be application/json"}}),
    (raw_post(b"{}", "text/plain"), 415, {"message": "send the body as JSON: Content-Type: application/json (got 'text/plain')",
                                          "errors": {"Content-Type": "must be application/json"}}),
    (raw_post(b"{}", "application/json; charset=latin-1"), 415, {
        "message": "send the body as JSON: Content-Type: application/json (got 'application/json; charset=latin-1')",
        "errors": {"Content-Type": "must be application/json"}}),
    (raw_post(b" "), 400, {"message": "invalid request body",
                           "errors": {"body": "is empty; send a JSON object with email, state, city, zipcode"}}),
    (raw_post(b"{" + b" " * users_api.MAX_BODY_BYTES + b"}"), 413, {
        "message": f"the body is {users_api.MAX_BODY_BYTES + 2} bytes; at most {users_api.MAX_BODY_BYTES} are accepted",
        "errors": {"body": f"must be at most {users_api.MAX_BODY_BYTES} bytes"}}),
    (raw_post(b'{"a": "\xff"}'), 400, {"message": "invalid request body",
                                      "errors": {"body": "is not valid UTF-8 (invalid start byte at byte 7)"}}),
    (raw_post(b"{,}"), 400, {"message": "invalid request body",
                             "errors": {"body": "is not valid JSON (Expecting property name enclosed in double quotes: "
                                                "line 1 column 2 (char 1))"}}),
], ids=["no-content-type", "text-plain", "latin-1", "blank", "over-16k", "not-utf8", "not-json"])
def test_handler_refused_body_says_exactly_what_is_wrong(table, event, status, expected):
    assert call(event)[:2] == (status, expected)


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", 'Application/JSON; Charset="UTF8"',
                                          "application/json;foo=bar;charset=utf-8"])
def test_handler_json_with_a_utf8_charset_accepted(table, content_type):
    assert call(raw_post(json.dumps(GOOD).encode(), content_type))[0] == 201


def test_handler_body_of_exactly_16k_is_read():
    # GIVEN a body of exactly MAX_BODY_BYTES (a user padded with spaces) THEN it is read, not refused as too large
    body = json.dumps(GOOD).encode()
    body = body[:-1] + b" " * (users_api.MAX_BODY_BYTES - len(body)) + b"}"
    request = users_api.parse_request(raw_post(body))
    assert len(request.body) == users_api.MAX_BODY_BYTES and users_api.read_json(request) == GOOD


# --- every payload shape a gateway (or a test) sends ---------------------------------------------

@pytest.mark.parametrize("event, method, rest, query", [
    # payload 2.0 without rawPath: the path from requestContext.http
    ({"requestContext": {"http": {"method": "get", "path": "/users/a@example.com"}}}, "GET", ["a@example.com"], {}),
    # payload 2.0 with no path at all: not ours
    ({"requestContext": {"http": {"method": "GET"}}}, "GET", None, {}),
    # payload 2.0 with a route: the path parameter wins over the path (gateways differ in decoding it)
    ({"requestContext": {"http": {"method": "GET", "path": "/x"}}, "rawPath": "/x", "routeKey": "GET /users/{email}",
      "pathParameters": {"email": "a%40example.com"}}, "GET", ["a@example.com"], {}),
    ({"requestContext": {"http": {"method": "GET", "path": "/x"}}, "rawPath": "/x", "routeKey": "GET /users"},
     "GET", [], {}),
    # payload 1.0 from a test: no resource, no query, no method
    ({"path": "/dev/users"}, "", [], {}),
    ({"httpMethod": "GET", "path": None}, "GET", None, {}),
    # payload 1.0 with single-value query parameters only
    ({"httpMethod": "GET", "path": "/users", "queryStringParameters": {"state": "Ohio"}}, "GET", [], {"state": ["Ohio"]}),
    ({"httpMethod": "GET", "resource": "/users", "path": "/x", "multiValueQueryStringParameters": {"city": ["A", "B"]},
      "queryStringParameters": {"city": "B", "state": "Ohio"}}, "GET", [], {"city": ["A", "B"], "state": ["Ohio"]}),
], ids=["v2-no-rawPath", "v2-no-path", "v2-route-email", "v2-route-users", "v1-bare", "v1-null-path", "v1-single-query",
        "v1-multi-query"])
def test_parse_request_every_payload_shape(event, method, rest, query):
    request = users_api.parse_request(event)
    assert (request.method, request.rest, request.query) == (method, rest, query)


@EVENTS
@pytest.mark.parametrize("patch, errors", [
    ([{"city": "Queens"}], {"body": "must be a JSON object with one or more of state, city, zipcode"}),
    ({"city": None}, {"city": "must be a string, not null"}),
    ({"state": 7}, {"state": "must be a non-empty string"}),
    ({"state": " \t"}, {"state": "must be a non-empty string (it is blank: whitespace only)"}),
    ({"zipcode": None}, {"zipcode": "must be a string, not null"}),
    ({"email": "bob@example.com"}, {"email": "must match the path (ada@example.com); a user's email cannot change"}),
    ({"email": "nope"}, {"email": "must be a well-formed address like name@example.com"}),
    ({"active": False, "role": "x"}, {"active": "is set by the API (a stored user is active)",
                                      "role": "unknown field (allowed: email, state, city, zipcode)"}),
], ids=["a-list", "city-null", "state-number", "state-blank", "zipcode-null", "other-email", "bad-email", "unknown"])
def test_handler_patch_refused_says_exactly_which_field_and_why(table, event, patch, errors):
    call(event("POST", "/users", GOOD))
    status, body, _ = call(event("PATCH", "/users/ada@example.com", patch))
    assert (status, body) == (400, {"message": "invalid change", "errors": errors})


@EVENTS
@pytest.mark.parametrize("query, errors", [
    ({}, {"state": "give state, city, or both: GET /users?state=New%20York&city=Brooklyn"}),
    ({"state": ["Ohio", "Iowa"]}, {"state": "is given more than once"}),
    ({"state": "Ohio", "sort": "x"}, {"sort": "unknown parameter (allowed: state, city, limit, next)"}),
    ({"state": "Ohio", "limit": "101"}, {"limit": "must be a whole number from 1 to 100"}),
    ({"state": "Ohio", "limit": "0"}, {"limit": "must be a whole number from 1 to 100"}),
    ({"city": "a#b"}, {"city": "must not contain '#'"}),
], ids=["nothing", "twice", "unknown", "limit-101", "limit-0", "city-separator"])
def test_handler_get_collection_bad_query_says_exactly_what(table, event, query, errors):
    status, body, _ = call(with_query(event("GET", "/users"), **query))
    assert (status, body) == (400, {"message": "invalid query", "errors": errors})


@EVENTS
def test_handler_get_collection_limit_100_accepted(table, event):
    table.pages = [{"Items": []}]
    status, _, _ = call(with_query(event("GET", "/users"), state="Ohio", limit="100"))
    assert status == 200 and table.calls[-1][1]["Limit"] == 100


@EVENTS
def test_handler_patch_with_no_field_200_the_stored_user_nothing_written(table, event):
    call(event("POST", "/users", GOOD))
    status, body, _ = call(event("PATCH", "/users/ada@example.com", {}))
    assert (status, body) == (200, {**GOOD, "active": True})
    assert not any(name == "update_item" for name, _ in table.calls)


@EVENTS
@pytest.mark.parametrize("method, path, status, message", [
    ("GET", "/users/ada@example.com/orders", 404, "not found: the resources are /users and /users/{email}"),
    ("GET", "/orders", 404, "not found: the resources are /users and /users/{email}"),
    ("DELETE", "/users", 405, "DELETE /users is not supported; allowed: GET, POST. To create or replace one user use "
                              "PUT /users/{email}; to change or delete one, PATCH or DELETE /users/{email}."),
    ("POST", "/users/ada@example.com", 405, "POST /users/{email} is not supported; allowed: DELETE, GET, PATCH, PUT. "
                                            "To create a user use POST /users."),
], ids=["below-a-user", "elsewhere", "delete-collection", "post-user"])
def test_handler_unknown_route_or_method_says_what_exists(table, event, method, path, status, message):
    assert call(event(method, path))[:2] == (status, {"message": message})


# --- how a request arrives: the path, the route, the body (make mutants, parse_request) -------------

@EVENTS
def test_handler_path_email_not_utf8_refused_as_such_before_any_other_character(table, event):
    # GIVEN a path email holding a control character, then a byte that is not UTF-8
    # THEN the bytes that are not UTF-8 are what is reported (not the control character a lenient
    # decoding would reach first), whether the email comes from the route's path parameter (1.0)
    # or from the path itself (2.0, $default route)
    assert call(event("GET", "/users/a%07%ff@example.com"))[:2] == (400, {"message": "invalid request", "errors": {
        "email": "in the path must not contain U+FFFD (the replacement character U+FFFD: the text was not valid UTF-8): "
                 "/users/name@example.com"}})
    assert table.calls == []


@EVENTS
def test_handler_user_path_behind_a_stage_prefix_routed(table, event):
    call(event("POST", "/users", GOOD))
    status, body, _ = call(event("GET", "/dev/users/ada@example.com"))
    assert (status, body) == (200, {**GOOD, "active": True})


@pytest.mark.parametrize("event, rest", [
    # payload 2.0: rawPath is the path; requestContext.http.path only when it is missing
    ({"requestContext": {"http": {"method": "GET", "path": "/prod/other"}}, "rawPath": "/users/a@example.com"},
     ["a@example.com"]),
    # a path parameter on the collection's route is not a user
    ({"httpMethod": "GET", "resource": "/users", "path": "/users", "pathParameters": {"email": "a@example.com"}}, []),
    ({"requestContext": {"http": {"method": "GET", "path": "/users"}}, "rawPath": "/users", "routeKey": "GET /users",
      "pathParameters": {"email": "a@example.com"}}, []),
], ids=["v2-rawPath-wins", "v1-collection-with-parameter", "v2-collection-with-parameter"])
def test_parse_request_path_sources(event, rest):
    assert users_api.parse_request(event).rest == rest


def test_handler_body_not_base64_refused_never_decoded_leniently(table):
    # GIVEN a body flagged base64 that holds a character outside the alphabet (a lenient decoder
    # would drop it and read a good user)
    event = raw_post(json.dumps(GOOD).encode())
    event["body"] = event["body"][:8] + "!" + event["body"][8:]
    # THEN 400, as bytes no client sent, and nothing written
    assert call(event)[:2] == (400, {"message": "invalid request body",
                                     "errors": {"body": "is not valid UTF-8 (invalid start byte at byte 0)"}})
    assert table.calls == []


@EVENTS
def test_handler_body_with_a_lone_surrogate_400_not_500(table, event):
    # GIVEN a text body (not base64) holding a lone surrogate, as a JSON event can carry ("\ud800")
    status, body, _ = call(event("POST", "/users", '{"email":"\ud800@example.com"}'))
    assert (status, body) == (400, {"message": "invalid request body",
                                    "errors": {"body": "is not valid UTF-8 (invalid continuation byte at byte 10)"}})
    assert table.calls == []


# --- exactly what POST answers ------------------------------------------------------------------------

@EVENTS
@pytest.mark.parametrize("payload, errors", [
    ({}, {"email": "is required", "state": "is required", "city": "is required", "zipcode": "is required"}),
    ({**GOOD, "email": 42}, {"email": "must be a string"}),
    ({**GOOD, "email": "a/b@example.com"},
     {"email": "must not contain '/' (it cannot travel unambiguously in the URL /users/{email})"}),
    ({**GOOD, "email": "a%b@example.com"},
     {"email": "must not contain '%' (it cannot travel unambiguously in the URL /users/{email})"}),
    ({**GOOD, "zipcode": "1234"}, {"zipcode": 'must be a string of exactly five digits, like "11208"'}),
    ({**GOOD, "email": "\u4e00" * 240 + "@example.com", "city": "\u5317" * 100}, {
        "city": "with the email, the location key would be 1033 bytes in UTF-8, over DynamoDB's 1024; use a shorter "
                "city or email (city_email is 1033 bytes in UTF-8, over DynamoDB's 1024-byte key limit)"}),
], ids=["empty", "email-number", "email-slash", "email-percent", "zipcode-short", "key-too-long"])
def test_handler_post_refused_says_exactly_which_field_and_why(table, event, payload, errors):
    assert call(event("POST", "/users", payload))[:2] == (400, {"message": "invalid user", "errors": errors})
    assert table.calls == []


@EVENTS
def test_handler_post_email_of_exactly_254_characters_201(table, event):
    email = "a" * (users_api.MAX_EMAIL - len("@example.com")) + "@example.com"
    status, body, _ = call(event("POST", "/users", {**GOOD, "email": email}))
    assert status == 201 and body["email"] == email and len(email) == 254


@EVENTS
def test_handler_post_existing_409_says_exactly_what_to_do(table, event):
    call(event("POST", "/users", GOOD))
    assert call(event("POST", "/users", GOOD))[:2] == (409, {
        "message": "user ada@example.com exists; to replace it use PUT /users/{email}, "
                   "to change some fields PATCH /users/{email}", "errors": {"email": "exists"}})


@EVENTS
@pytest.mark.parametrize("content_type", ["application/json; charset=latin-1=utf-8", "application/json;foo=bar;charset=latin-1"])
def test_handler_post_charset_read_from_its_own_parameter_415(table, event, content_type):
    status, body, _ = call(with_headers(event("POST", "/users", GOOD), **{"content-type": content_type}))
    assert status == 415 and table.calls == []


@EVENTS
def test_handler_patch_not_json_415_names_both_media_types(table, event):
    e = with_headers(event("PATCH", "/users/ada@example.com", {"city": "Queens"}), **{"content-type": "text/plain"})
    assert call(e)[:2] == (415, {"message": "send the body as JSON: Content-Type: application/json (got 'text/plain')",
                                 "errors": {"Content-Type": "must be application/json or application/merge-patch+json"}})


# --- PATCH, GET, DELETE: exact answers ---------------------------------------------------------------

@EVENTS
@pytest.mark.parametrize("patch, errors", [
    ({"city": "a#b"}, {"city": "must not contain '#'"}),
    ({"email": 42}, {"email": "must be a string"}),
], ids=["city-separator", "email-number"])
def test_handler_patch_refused_field_exactly(table, event, patch, errors):
    call(event("POST", "/users", GOOD))
    assert call(event("PATCH", "/users/ada@example.com", patch))[:2] == (400, {"message": "invalid change", "errors": errors})


@EVENTS
def test_handler_patch_valid_change_making_an_invalid_user_400_exactly(table, event):
    # GIVEN a user with a long email WHEN a city is set that makes the location key too long
    email = "\u4e00" * 240 + "@example.com"
    call(event("POST", "/users", {**GOOD, "email": email}))
    before = dict(table.items)
    assert call(event("PATCH", "/users/" + email, {"city": "\u5317" * 100}))[:2] == (400, {
        "message": "invalid user once changed", "errors": {
            "city": "with the email, the location key would be 1033 bytes in UTF-8, over DynamoDB's 1024; use a shorter "
                    "city or email (city_email is 1033 bytes in UTF-8, over DynamoDB's 1024-byte key limit)"}})
    assert table.items == before


@EVENTS
def test_handler_get_user_stored_without_zipcode_or_active_200_with_what_it_has(table, event):
    # GIVEN a user written by another client, without zipcode and active
    table.items["ada@example.com"] = {"email": {"S": "ada@example.com"}, "state": {"S": "NY"}, "city": {"S": "Brooklyn"}}
    assert call(event("GET", "/users/ada@example.com"))[:2] == (
        200, {"email": "ada@example.com", "state": "NY", "city": "Brooklyn"})


@EVENTS
def test_handler_delete_unknown_404_names_the_user(table, event):
    assert call(event("DELETE", "/users/nobody@example.com"))[:2] == (404, {"message": "no user nobody@example.com"})


# --- GET /users: the limit and the token ---------------------------------------------------------------

@EVENTS
def test_handler_list_without_limit_asks_for_25(table, event):
    table.pages = [{"Items": []}]
    assert call(with_query(event("GET", "/users"), state="Ohio"))[:2] == (200, {"users": []})
    assert table.calls[-1][1]["Limit"] == users_api.DEFAULT_LIMIT == 25


@EVENTS
def test_handler_list_token_is_compact_binary_in_base64url(table, event):
    first = row("Ohio", "Dayton", "a@b.co")
    table.pages = [{"Items": [first], "LastEvaluatedKey": projection.key_of(first)}]
    _, body, _ = call(with_query(event("GET", "/users"), state="Ohio", limit="1"))
    # version 2, kind "s" (by state), the binding to state=Ohio, then city_email after its length; nothing escaped
    assert body["next"] == "AnOnZ93zAA1EYXl0b24jYUBiLmNv"
    assert base64.urlsafe_b64decode(body["next"] + "==") == b"\x02s" + OHIO + b"\x00\x0dDayton#a@b.co"


# The longest key target_key accepts, for a by-city query: a 2048-byte state and a 1022-byte email
# (city_email holds at most 1024 bytes, the city at least 1).
LONGEST = {"state": "é" * 1024, "city": "Z", "email": "x" * 1010 + "@example.com"}


@EVENTS
def test_handler_list_token_of_the_longest_key_4107_characters_read_longer_refused_unread(table, event):
    longest = row(LONGEST["state"], LONGEST["city"], LONGEST["email"])
    table.pages = [{"Items": [longest], "LastEvaluatedKey": {name: longest[name] for name in (
        "state", "city_email", "city", "email")}}, {"Items": []}]
    _, body, _ = call(with_query(event("GET", "/users"), city="Z", limit="1"))
    # THEN its token is exactly the bound openapi.yaml states, and it is followed
    assert len(body["next"]) == 4107 == users_api.MAX_TOKEN
    status, _, _ = call(with_query(event("GET", "/users"), city="Z", next=body["next"]))
    assert status == 200 and table.calls[-1][1]["ExclusiveStartKey"]["state"] == {"S": "é" * 1024}
    # AND a token one character longer is refused without being read
    status, body, _ = call(with_query(event("GET", "/users"), city="Z", next=body["next"] + "A"))
    assert (status, body["errors"]) == (400, {"next": "is not a token this query returned; start again without it"})
    assert len(table.calls) == 2


@EVENTS
@pytest.mark.parametrize("query", [{"state": "😀" * 100}, {"state": "😀" * 100, "city": "😀" * 100}, {"city": "😀" * 100}],
                         ids=["state", "state-city", "city"])
def test_handler_list_pages_past_an_accepted_user_with_the_longest_key(table, event, query):
    # GIVEN an accepted user whose location key is as long as the API allows, in 4-byte characters
    # (its token was over 4096 characters, and refused: a client could not page past this user)
    user = {"email": "😀" * 152 + "@example.com", "state": "😀" * 100, "city": "😀" * 100, "zipcode": "11208"}
    assert call(event("POST", "/users", user))[0] == 201
    last = projection.project(table.items[user["email"]])
    table.pages = [{"Items": [last], "LastEvaluatedKey": {name: last[name] for name in (
        "state", "city_email", "city", "email")}}, {"Items": []}]
    _, body, _ = call(with_query(event("GET", "/users"), **query, limit="1"))
    # WHEN the next page is asked for THEN the query resumes after that user
    status, body, _ = call(with_query(event("GET", "/users"), **query, next=body["next"]))
    assert (status, body) == (200, {"users": []})
    assert table.calls[-1][1]["ExclusiveStartKey"]["city_email"] == last["city_email"]
