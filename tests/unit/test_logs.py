"""make logs renders the functions' JSON lines for people, and never mistakes data for markup."""
import json

from rich.console import Console

from ddblab.commands.logs import render


def shown(message: str) -> str:
    console = Console(width=200, record=True)
    console.print(render("audit", message), soft_wrap=True)
    return console.export_text().strip()


def test_render_modify_shows_old_to_new():
    line = json.dumps({"audit": "MODIFY", "keys": {"email": "a@x.io"},
                       "changes": {"city": {"old": "Boise", "new": "Nampa"}}})
    assert shown(line) == "MODIFY a@x.io  city: 'Boise' -> 'Nampa'"


def test_render_insert_shows_item_once_without_key():
    line = json.dumps({"audit": "INSERT", "keys": {"email": "a@x.io"},
                       "changes": {"email": {"old": None, "new": "a@x.io"}, "state": {"old": None, "new": "Ohio"}}})
    assert shown(line) == "INSERT a@x.io  state='Ohio'"


def test_render_replicate_summary_and_failure():
    ok = json.dumps({"replicate": {"records": 3, "writes": 4, "quarantined": 2, "rejected": 1, "retries": 3}})
    assert shown(ok) == "3 records -> 4 writes, 2 quarantined, 1 refused by the target, 3 retries"
    failed = json.dumps({"replicate_failed": {"records": 3, "writes": 4, "poison": 0, "error": "throttled"}})
    assert shown(failed) == "FAILED 3 records -> 4 writes, 0 quarantined, 0 retries: throttled (the batch will be retried)"


def test_render_replicate_summary_of_one_says_one_record_one_write_one_retry():
    one = json.dumps({"replicate": {"records": 1, "writes": 1, "poison": 0, "retries": 1, "rejected": 0, "quarantined": 0}})
    assert shown(one) == "1 record -> 1 write, 0 quarantined, 1 retry"


def test_render_data_that_looks_like_markup_printed_literally():
    line = json.dumps({"audit": "MODIFY", "keys": {"email": "[bold]@x.io"}, "changes": {"tags": {"old": ["red"], "new": []}}})
    assert shown(line) == "MODIFY [bold]@x.io  tags: ['red'] -> []"
    assert shown("[/] not json [link]") == "[/] not json [link]"


def test_logs_quiet_drops_empty_batch_summaries_of_any_consumer_only():
    from ddblab.commands.logs import quiet
    assert quiet('{"replicate": {"records": 0, "writes": 0}}')
    assert quiet('{"state_counts": {"records": 0, "users": 0, "written": 0}}')
    assert not quiet('{"state_counts": {"records": 3, "users": 2, "written": 2}}')
    assert quiet("START RequestId: 1 Version: $LATEST") and not quiet("RuntimeError: a planted bug")


def test_render_users_api_request_lines_and_the_table_unavailable_line():
    ok = json.dumps({"users_api": {"method": "PATCH", "route": "/users/{email}", "status": 200, "ms": 4.2}})
    assert shown(ok) == "PATCH /users/{email} -> 200 (4.2 ms)"
    elsewhere = json.dumps({"users_api": {"method": "GET", "route": None, "status": 404, "ms": 0.3}})
    assert shown(elsewhere) == "GET (not a users route) -> 404 (0.3 ms)"
    down = json.dumps({"users_api_error": "Could not connect to the endpoint URL"})
    assert shown(down) == "503 the users table did not answer: Could not connect to the endpoint URL"


def test_logs_quiet_drops_the_tools_start_checks_of_users_api_not_its_requests():
    from ddblab.commands.logs import quiet
    # what users_api logs when doctor, status or logs invoke it with a non-HTTP event to see it start
    assert quiet('{"users_api": {"method": "", "route": null, "status": 404, "ms": 0.1}}')
    assert not quiet('{"users_api": {"method": "GET", "route": null, "status": 404, "ms": 0.3}}')
    assert not quiet('{"users_api": {"method": "PATCH", "route": "/users/{email}", "status": 200, "ms": 4.2}}')
