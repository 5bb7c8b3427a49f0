"""Test your own handlers the way this project tests its own: a pytest plugin (registered by
the package's `pytest11` entry point, so any test run in this virtualenv has it) with

  lab_backend         the emulator answering at AWS_ENDPOINT_URL, or a MiniStack started for the session
  lab_stack           a stack of the test's own (names prefixed t<random>-), converged, removed afterwards
  lab_session_stack   one such stack for the whole session (faster; tests keep to keys of their own)
  lab_email           a key of the test's own

and the helpers below: wait_until (poll with a deadline), replicated (wait until
users_by_location holds exactly what a user's current item asks for), and the event factories
of ddblab.events. The plugin also sets a region and dummy keys, so test modules that import a
handler (which makes its boto3 clients at import) collect in any environment."""
from __future__ import annotations

from ddblab.core.waiting import WaitTimeout, wait_for
from ddblab.events import api_event_v1, api_event_v2, change_record, stream_event, stream_record, user_image

__all__ = ["WaitTimeout", "wait_until", "replicated", "view_row", "api_event_v1", "api_event_v2", "change_record",
           "stream_event", "stream_record", "user_image"]


def wait_until(check, what: str, timeout: float = 30.0, interval: float = 0.1):
    """check() until it returns something truthy, and return that; WaitTimeout names `what`."""
    return wait_for(check, what, timeout=timeout, interval=interval)


def replicated(live, email: str, timeout: float = 30.0) -> list:
    """Wait until users_by_location holds exactly the rows the user's current item in users
    asks for (none, once the user is gone); return those rows."""
    from ddblab.data.recovery import in_step, rows_by_email
    wait_until(lambda: email in in_step(live.dynamodb, live.names, {email}),
               f"{live.names.target} in step with {email}'s item in {live.names.users}", timeout=timeout)
    return rows_by_email(live.dynamodb, live.names.target, {email})[email]


def view_row(live, consumer: str, email: str) -> dict | None:
    """The row a consumer from the template keeps for this user in its own table (None if none)."""
    return live.dynamodb.get_item(TableName=live.names.function(consumer), Key={"email": {"S": email}},
                                  ConsistentRead=True).get("Item")
