"""Seed the pipeline: the five walkthrough users through the HTTP API, then COUNT generated
users written to `users` in batches; wait until users_by_location has caught up (and each
consumer's own table holds a row for every user), and show
the users in New York.

    ddblab seed [--count 1000]
"""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from urllib.parse import quote

from rich.progress import Progress
from rich.table import Table

from ddblab.core.output import console, plural
from ddblab.core.settings import UserError
from ddblab.core.waiting import WaitTimeout, wait_for
from ddblab.data import batches, reconciliation, users, views
from ddblab.emulator.health import require_alive
from ddblab.stack.deployed import Deployed
from ddblab.stack.describe import projection


def send_json(url: str, payload: dict, method: str = "PUT") -> tuple:
    """(status, body as JSON - or as text when it is not JSON -, headers)."""
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            status, raw, headers = answer.status, answer.read(), answer.headers
    except urllib.error.HTTPError as error:
        status, raw, headers = error.code, error.read(), error.headers
    except (urllib.error.URLError, OSError) as error:
        raise UserError(f"{method} {url} failed: {getattr(error, 'reason', error)} - run: make status") from None
    try:
        return status, json.loads(raw or b"{}"), headers
    except ValueError:
        return status, raw.decode(errors="replace"), headers


def show_state(client, table: str, state: str, limit: int = 10) -> None:
    from ddblab.commands.query import query
    items = query(client, table, state=state)
    console.print(f"{table}: state = {state!r} ({plural(len(items), 'user')})", highlight=False)
    table_view = Table()
    for column in ("city", "email", "active"):
        table_view.add_column(column)
    walkthrough = {u["email"] for u in users.walkthrough()}
    items.sort(key=lambda i: (i["email"]["S"] not in walkthrough, i[projection.SORT_KEY]["S"]))  # walkthrough users first
    for item in items[:limit]:
        table_view.add_row(item["city"]["S"], item["email"]["S"], str(item.get("active", {}).get("BOOL", "")))
    if len(items) > limit:
        table_view.add_row("...", f"and {len(items) - limit} more", "")
    console.print(table_view)


HELP = "seed users through the API and in bulk"


def configure(parser) -> None:
    parser.add_argument("--count", type=int, default=1000, help="generated users to write in bulk (default 1000)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for replication")


def run(args) -> int:
    if args.count < 0:
        raise UserError("--count must be 0 or more")
    live = Deployed.connect()
    live.require_tables()
    own = views.view_tables(live.stack)
    if absent := views.missing(live.dynamodb, own):
        raise UserError(f"table {', '.join(absent)} does not exist on {live.settings.endpoint_url}: a consumer added "
                        "since the last converge - run: make bootstrap")
    url = live.api_url
    console.print(f"[bold]1.[/] the walkthrough users, through PUT {url}/<email>")
    outcomes = {"created": 0, "replaced": 0, "unchanged": 0}
    for user in users.walkthrough():
        status, body, headers = send_json(f"{url}/{quote(user['email'], safe='@')}", user)
        if status not in (200, 201):
            raise UserError(f"PUT {url}/{user['email']} answered {status}: {body}")
        outcome = "created" if status == 201 else (
            "unchanged" if headers.get("X-User-Changed") == "false" else "replaced")
        outcomes[outcome] += 1
        console.print(f"   {status} {outcome:<9} {user['email']:<24} {user['state']} / {user['city']}")
    console.print("   walkthrough users: " + ", ".join(f"{n} {what}" for what, n in outcomes.items()))
    if args.count:
        console.print(f"[bold]2.[/] {args.count} generated users (data/locations.csv), in batches of 25")
        with Progress(console=console, transient=False) as progress:
            items = [users.to_item(u) for u in users.generated(args.count)]
            batches.write_all(live.dynamodb, live.names.users, batches.puts(items), workers=4, progress=progress,
                              label="writing users:")
    console.print(f"[bold]3.[/] waiting for {live.names.target} to catch up")
    started = time.monotonic()
    def caught_up():
        require_alive(live.settings)
        drift = reconciliation.compare(live.dynamodb, live.names.users, live.names.target)
        return drift.total == 0 and drift
    try:
        drift = wait_for(
            caught_up,
            f"{live.names.target} to match the projection of {live.names.users}", timeout=args.timeout,
            interval=0.2)
    except WaitTimeout as error:
        raise UserError(f"{error}\n  the pipeline is behind or stuck: look at `make logs` and run `make reconcile`") from None
    console.print(f"   caught up in {time.monotonic() - started:.1f} s: {plural(drift.target_items, 'item')}, drift 0")
    if own:  # the consumers' own tables: the stream fills them beside users_by_location
        try:
            wait_for(lambda: views.in_step(live.dynamodb, live.names.users, own, alive=lambda: require_alive(live.settings)),
                     f"{', '.join(own)} to hold a row for every user", timeout=args.timeout, interval=0.5)
        except WaitTimeout as error:
            raise UserError(f"{error}\n  the pipeline is behind or stuck: look at `make logs` and `make status`") from None
        console.print(f"   {', '.join(own)}: a row for every user, {time.monotonic() - started:.1f} s after the writes")
    show_state(live.dynamodb, live.names.target, "New York")
    return 0
