"""One person, one key, through the live API (API Gateway -> users_api -> users -> replicate ->
users_by_location): the same address or city typed in NFC and NFD is one user and one place,
a bidi override inside a city is refused, and the longest page token the API can issue passes
the emulator's API Gateway."""
from __future__ import annotations

import urllib.parse
import uuid

from ddblab.core.waiting import wait_for
from tests.integration.test_api_routes import request, user

NFC_CITY, NFD_CITY = "S\u00e3o Paulo", "Sa\u0303o Paulo"


def test_api_city_in_nfc_and_nfd_one_place_email_in_nfd_same_user(live):
    api, state = live.api_url, f"SP-{uuid.uuid4().hex[:8]}"
    ana, bia = f"ana-{uuid.uuid4().hex[:8]}@example.com", f"bia-{uuid.uuid4().hex[:8]}@example.com"
    # GIVEN two users in Sao Paulo, one typed in NFC, one in NFD
    assert request("POST", api, user(ana, state=state, city=NFC_CITY))[0] == 201
    status, body, _ = request("POST", api, user(bia, state=state, city=NFD_CITY))
    assert (status, body["city"]) == (201, NFC_CITY)
    # WHEN the city is asked for in either form THEN both users are found, in one place
    for city in (NFC_CITY, NFD_CITY):
        query = urllib.parse.urlencode({"state": state, "city": city})
        found = wait_for(lambda q=query: (answer := request("GET", f"{api}?{q}"))[0] == 200
                         and len(answer[1]["users"]) == 2 and answer[1], f"both users of {state} by {city!r}", timeout=30)
        assert sorted(u["email"] for u in found["users"]) == sorted([ana, bia])
        assert {u["city"] for u in found["users"]} == {NFC_CITY}
    # AND the same address with an NFD letter in it is the same user
    jose = f"jos\u00e9-{uuid.uuid4().hex[:8]}@example.com"
    assert request("POST", api, user(jose, state=state, city=NFC_CITY))[0] == 201
    status, body, _ = request("POST", api, user(jose.replace("\u00e9", "e\u0301").upper(), state=state, city=NFC_CITY))
    assert (status, body["errors"]) == (409, {"email": "exists"})


def test_api_bidi_override_inside_city_400_naming_it(live):
    status, body, _ = request("POST", live.api_url, user(f"eve-{uuid.uuid4().hex[:8]}@example.com", city="Spring\u202efield"))
    assert status == 400
    assert body["errors"] == {
        "city": "must not contain U+202E (an invisible format character (zero-width, bidi control or override))"}


def test_api_longest_page_token_passes_the_gateway(live):
    # GIVEN two users written straight into users with the longest key target_key accepts: a
    # 2048-byte state and, in a one-letter city, a 1022-byte email
    tag = uuid.uuid4().hex[:8]
    state, city = tag + "\u00e9" * 1020, "Q"
    emails = [f"0{tag}{n}" + "x" * (1022 - 10 - len("@example.com")) + "@example.com" for n in (1, 2)]
    assert all(len(e.encode()) == 1022 for e in emails) and len(state.encode()) == 2048
    for email in emails:
        live.dynamodb.put_item(TableName=live.names.users, Item={
            "email": {"S": email}, "state": {"S": state}, "city": {"S": city}, "zipcode": {"S": "00000"}})
    try:
        api = live.api_url
        wait_for(lambda: all(live.dynamodb.get_item(TableName=live.names.target, Key={
            "state": {"S": state}, "city_email": {"S": f"{city}#{e}"}}).get("Item") for e in emails),
            "both users replicated", timeout=30)
        # WHEN the city is listed one user a page, through the emulator's API Gateway
        status, first, _ = request("GET", f"{api}?city={city}&limit=1")
        assert status == 200 and first["users"][0]["email"] == emails[0]
        # THEN the token is the longest the API issues, and following it reaches the second user
        assert len(first["next"]) == 4107
        status, second, _ = request("GET", f"{api}?city={city}&limit=1&next={first['next']}")
        assert (status, [u["email"] for u in second["users"]]) == (200, [emails[1]])
    finally:
        for email in emails:
            live.dynamodb.delete_item(TableName=live.names.users, Key={"email": {"S": email}})
