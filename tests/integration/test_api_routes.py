"""Every route and error case of the users API, through the live REST API (API Gateway ->
users_api -> DynamoDB), and the routes the bootstrap creates against openapi.yaml."""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest
import yaml

from ddblab.core.settings import ROOT
from ddblab.core.waiting import wait_for
from tests.integration.helpers import backend_of


def request(method: str, url: str, body=None, *, raw: bytes | None = None, content_type="application/json",
            headers=None):
    """(status, JSON body or None, headers) for any answer, error or not."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    sent = {"Content-Type": content_type} if content_type else {}
    sent.update(headers or {})
    req = urllib.request.Request(url, data=data, method=method, headers=sent)
    try:
        with urllib.request.urlopen(req, timeout=30) as answer:
            status, payload, got = answer.status, answer.read(), answer.headers
    except urllib.error.HTTPError as error:
        status, payload, got = error.code, error.read(), error.headers
    return status, (json.loads(payload) if payload else None), got


def user(email, state="Ohio", city="Dayton", zipcode="45401"):
    return {"email": email, "state": state, "city": city, "zipcode": zipcode}


@pytest.fixture(scope="module")
def api(live):
    return live.api_url


@pytest.fixture
def url(api, email):
    return f"{api}/{urllib.parse.quote(email, safe='@')}"


def test_bootstrap_routes_match_openapi(live):
    # GIVEN the REST API the bootstrap created and the document
    client = live.client("apigateway")
    api_id = live.api_url.split("/_aws/execute-api/")[1].split("/")[0]
    resources = client.get_resources(restApiId=api_id)["items"]
    # THEN the paths are the document's, and each takes ANY method to the one function
    created = {r["path"] for r in resources if r["path"] != "/"}
    document = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    assert created == set(document["paths"])
    for resource in resources:
        if resource["path"] != "/":
            assert set(resource.get("resourceMethods", {})) == {"ANY"}, resource["path"]


# --- POST -----------------------------------------------------------------------------------

def test_post_new_user_201_location_resolves(api, email):
    status, body, headers = request("POST", api, user(email.upper()))
    assert status == 201 and body == {**user(email), "active": True}
    location = urllib.parse.urljoin(api, headers["Location"])
    assert location == f"{api}/{email}"
    assert request("GET", location)[0] == 200


def test_post_existing_user_409_nothing_changed(api, url, email):
    request("POST", api, user(email))
    status, body, _ = request("POST", api, user(email, city="Akron"))
    assert status == 409 and body["errors"] == {"email": "exists"}
    assert request("GET", url)[1]["city"] == "Dayton"


@pytest.mark.parametrize("payload, fields", [
    ({"email": "nope", "state": "", "zipcode": 1}, {"email", "state", "city", "zipcode"}),
    ({**user("x@example.com"), "active": False, "role": "admin"}, {"active", "role"}),
    ({**user("nbspcity@example.com"), "city": "\u00a0"}, {"city"}),
    ({**user("\u4e00" * 240 + "@example.com"), "city": "\u5317" * 100}, {"city"}),
    ({**user("a\u200bb@example.com")}, {"email"}),
    ({**user("x@example.com"), "zipcode": "4540"}, {"zipcode"}),
    ([1, 2], {"body"}),
])
def test_post_invalid_user_400_each_field_named(api, payload, fields):
    status, body, _ = request("POST", api, payload)
    assert status == 400 and set(body["errors"]) == fields


def test_post_lone_surrogate_400_at_once(api):
    raw = b'{"email":"s@example.com","state":"Ohio","city":"\\ud800","zipcode":"45401"}'
    status, body, _ = request("POST", api, raw=raw)
    assert status == 400 and "lone surrogate" in body["errors"]["city"]


def test_post_invalid_utf8_bytes_400_not_stored(api, live):
    mark = uuid.uuid4().hex[:12]
    raw = b'{"email":"\xff\xfe' + mark.encode() + b'@example.com","state":"Ohio","city":"Dayton","zipcode":"45401"}'
    status, body, _ = request("POST", api, raw=raw)
    assert status == 400 and ("U+FFFD" in json.dumps(body) or "UTF-8" in json.dumps(body))
    assert request("GET", f"{api}/%ff%fe{mark}@example.com")[0] == 400
    # (that GET answers 400 for its path alone: whether anything was stored, the table says,
    # whatever the bytes were decoded as)
    pages = live.dynamodb.get_paginator("scan").paginate(
        TableName=live.names.users, FilterExpression="contains(email, :m)", ExpressionAttributeValues={":m": {"S": mark}})
    assert [item for page in pages for item in page["Items"]] == []


@pytest.mark.parametrize("raw, reason", [
    (b'{"email":"d@example.com","state":"Ohio","city":"Dayton","zipcode":"45401","city":"Akron"}', "duplicate key"),
    (b'{"email":', "not valid JSON"), (b"", "is empty")])
def test_post_bad_json_400(api, raw, reason):
    status, body, _ = request("POST", api, raw=raw)
    assert status == 400 and reason in body["errors"]["body"]


@pytest.mark.parametrize("content_type", [None, "text/plain"])
def test_post_not_json_415(api, email, content_type):
    status, body, _ = request("POST", api, raw=json.dumps(user(email)).encode(), content_type=content_type)
    assert status == 415 and "Content-Type" in body["errors"]


def test_post_over_16_kib_413(api, email):
    status, _, _ = request("POST", api, {**user(email), "pad": "x" * 17000})
    assert status == 413


# --- PUT ------------------------------------------------------------------------------------

def test_put_creates_201_then_unchanged_200_then_replaces_200(url, email):
    status, body, headers = request("PUT", url, {k: v for k, v in user(email).items() if k != "email"})
    assert status == 201 and body["email"] == email and headers["X-User-Changed"] == "true"
    status, _, headers = request("PUT", url, user(email))
    assert status == 200 and headers["X-User-Changed"] == "false"
    status, body, headers = request("PUT", url, user(email, city="Akron"))
    assert status == 200 and body["city"] == "Akron" and headers["X-User-Changed"] == "true"


def test_put_email_not_matching_path_400(url):
    status, body, _ = request("PUT", url, user("someone-else@example.com"))
    assert status == 400 and "must match the path" in body["errors"]["email"]
    assert request("GET", url)[0] == 404


# --- PATCH ----------------------------------------------------------------------------------

def test_patch_moves_user_200_and_view_follows(api, url, email, live):
    request("POST", api, user(email))
    status, body, _ = request("PATCH", url, {"city": "Akron", "zipcode": "44301"})
    assert status == 200 and body == {**user(email, city="Akron", zipcode="44301"), "active": True}
    found = wait_for(lambda: (r := request("GET", f"{api}?state=Ohio&city=Akron&limit=100")[1]) and
                     any(u["email"] == email for u in r["users"]) and r, "the view to show the move", timeout=20)
    assert {"email": email, "state": "Ohio", "city": "Akron", "active": True} in found["users"]


def test_patch_absent_user_404_not_created(url):
    status, _, _ = request("PATCH", url, {"city": "Akron"})
    assert status == 404
    assert request("GET", url)[0] == 404


def test_patch_invalid_merge_400(api, url, email):
    request("POST", api, user("\u4e00" * 240 + "@example.com"))
    long_url = f"{api}/{urllib.parse.quote('一' * 240 + '@example.com', safe='@')}"
    status, body, _ = request("PATCH", long_url, {"city": "\u5317" * 100})
    assert status == 400 and list(body["errors"]) == ["city"]
    request("DELETE", long_url)


# --- GET / DELETE -----------------------------------------------------------------------------

def test_get_absent_404_and_bad_path_400(api, url):
    assert request("GET", url)[0] == 404
    status, body, _ = request("GET", f"{api}/not-an-address")
    assert status == 400 and "email" in body["errors"]


def test_delete_204_then_404(api, url, email):
    request("POST", api, user(email))
    status, body, headers = request("DELETE", url)
    assert status == 204 and body is None
    assert request("DELETE", url)[0] == 404


# --- GET /users?state=..[&city=..], ?city=.. --------------------------------------------------

def test_list_by_state_city_and_city_paginated(api):
    state, city = f"S-{uuid.uuid4().hex[:8]}", f"C-{uuid.uuid4().hex[:8]}"
    emails = sorted(f"p{i}-{uuid.uuid4().hex[:6]}@example.com" for i in range(3))
    for e in emails:
        assert request("POST", api, user(e, state=state, city=city))[0] == 201
    for query in (f"state={state}", f"state={state}&city={city}", f"city={city}"):
        def all_pages(query=query):
            seen, token = [], None
            while True:
                status, body, _ = request("GET", f"{api}?{query}&limit=2" + (f"&next={token}" if token else ""))
                assert status == 200
                seen += [u["email"] for u in body["users"]]
                token = body.get("next")
                if not token:
                    return sorted(seen) == emails and seen
        wait_for(all_pages, f"GET /users?{query} to list the 3 users in pages of 2", timeout=20)


@pytest.mark.parametrize("query, field", [
    ("", "state"), ("state=Ohio&limit=0", "limit"), ("state=Ohio&limit=x", "limit"),
    ("state=Ohio&next=abc", "next"), ("state=Ohio&sort=up", "sort"), ("city=a%23b", "city")])
def test_list_bad_query_400(api, query, field):
    status, body, _ = request("GET", f"{api}?{query}")
    assert status == 400 and field in body["errors"]


def test_list_token_from_another_query_400(api):
    state, city = f"S-{uuid.uuid4().hex[:8]}", "Dayton"
    for i in range(2):
        request("POST", api, user(f"t{i}-{uuid.uuid4().hex[:6]}@example.com", state=state, city=city))
    token = wait_for(lambda: request("GET", f"{api}?state={state}&limit=1")[1].get("next"), "a next token", timeout=20)
    status, body, _ = request("GET", f"{api}?state=Texas&next={token}")
    assert status == 400 and "next" in body["errors"]
    status, body, _ = request("GET", f"{api}?city={city}&next={token}")
    assert status == 400 and "next" in body["errors"]


# --- 405 --------------------------------------------------------------------------------------

@pytest.mark.parametrize("method, path, allow", [
    ("PUT", "", "GET, POST"), ("DELETE", "", "GET, POST"), ("POST", "/x@example.com", "DELETE, GET, PATCH, PUT")])
def test_wrong_method_405_with_allow(api, method, path, allow):
    status, body, headers = request(method, api + path, {})
    assert status == 405 and headers["Allow"] == allow and "allowed" in body["message"]


def test_method_outside_any_answered_by_the_gateway_on_localstack_by_the_handler_on_ministack(api, live):
    # GIVEN TRACE, a method API Gateway's ANY does not cover
    status, body, headers = request("TRACE", api, {})
    if backend_of(live.settings) == "localstack":
        # THEN API Gateway answers for the missing route, as AWS does, and users_api never runs
        assert (status, body) == (403, {"message": "Missing Authentication Token"})
    else:
        # THEN MiniStack hands it to users_api, which names the methods it allows
        assert status == 405 and headers["Allow"] == "GET, POST"
