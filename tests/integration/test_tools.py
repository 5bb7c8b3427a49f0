"""The command-line tools a user runs against the live stack: query and logs."""
from __future__ import annotations

from ddblab.commands import query, status
from ddblab.core.settings import Settings
from ddblab.core.waiting import wait_for
from tests.integration.helpers import cli_output, http, target_rows


def test_query_by_state_state_and_city_and_city(live, email):
    # GIVEN two users in Springfield, Oregon and Springfield, Vermont... of this test's own
    city = f"Springfield-{email[:8]}"
    other = "vt-" + email
    assert http("POST", live.api_url, {"email": email, "state": "Oregon", "city": city, "zipcode": "97477"})[0] == 201
    assert http("POST", live.api_url, {"email": other, "state": "Vermont", "city": city, "zipcode": "05156"})[0] == 201
    wait_for(lambda: target_rows(live, email) and target_rows(live, other), "both users replicated", timeout=30)
    emails = lambda items: {i["email"]["S"] for i in items}  # noqa: E731 - a one-line helper, local to where it is used
    # THEN by city finds both (the by_city index), by state and city only the one in that state
    assert emails(query.query(live.dynamodb, live.names.target, city=city)) == {email, other}
    assert emails(query.query(live.dynamodb, live.names.target, state="Oregon", city=city)) == {email}
    assert email in emails(query.query(live.dynamodb, live.names.target, state="Oregon"))


def test_query_cli_prints_table(live, email):
    assert http("POST", live.api_url, {"email": email, "state": "Utah", "city": "Provo", "zipcode": "84601"})[0] == 201
    wait_for(lambda: target_rows(live, email), f"{email} replicated", timeout=30)
    output = cli_output(live.settings, "query", "--state", "Utah", "--city", "Provo", timeout=60)
    assert email in output and "Provo" in output


def test_logs_no_follow_shows_audit_of_a_change(live, email):
    # GIVEN a user created then moved
    assert http("POST", live.api_url, {"email": email, "state": "Idaho", "city": "Boise", "zipcode": "83701"})[0] == 201
    moved = {"email": email, "state": "Idaho", "city": "Nampa", "zipcode": "83651"}
    assert http("PUT", f"{live.api_url}/{email}", moved)[0] == 200

    def shown():
        output = cli_output(live.settings, "logs", "--no-follow", "--since", "5m", "--function", "audit", timeout=60)
        return [line for line in output.splitlines() if email in line and "MODIFY" in line]
    # THEN make logs renders the audit line of the move, old -> new
    lines = wait_for(shown, f"the MODIFY of {email} in the logs", timeout=30)
    assert "city: 'Boise' -> 'Nampa'" in lines[0]


def test_status_converged_stack_all_ok_and_missing_stack_named(live):
    rows = status.check(live.settings)
    assert {row.part for row in rows} == {"table", "stream", "function", "role", "mapping", "api", "queue"}
    assert all(row.state == "ok" for row in rows), rows
    absent = Settings.from_env(endpoint_url=live.settings.endpoint_url, prefix="absent-")
    assert not any(row.state == "ok" for row in status.check(absent))


def test_outputs_with_no_name_lists_every_output_and_one_name_prints_its_value_alone(live):
    # WHEN make outputs runs with no name, THEN each output is one "name value" line
    lines = dict(line.split(None, 1) for line in cli_output(live.settings, "outputs", timeout=60).splitlines())
    assert lines["api_url"] == live.api_url
    assert lines["users_table"] == live.names.users
    assert lines["stream_arn"] == live.stream_arn
    # AND with a name, only its value, for the shell
    assert cli_output(live.settings, "outputs", "users_table", timeout=60) == live.names.users + "\n"
