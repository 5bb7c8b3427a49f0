"""The environment a handler needs, checked at import: a function deployed without one of its
variables fails its first invocation with a message naming the variable, instead of writing
to a default table name that happens to exist (another stack's, on a shared backend)."""
from __future__ import annotations

import os

# The variables the handlers read, named once: the stack description (ddblab/stack/describe.py)
# sets them; tests/unit/test_handler_environment.py checks that each function's check asks
# for exactly what the description sets.
USERS_TABLE = "USERS_TABLE"
TARGET_TABLE = "TARGET_TABLE"
QUARANTINE_QUEUE_URL = "QUARANTINE_QUEUE_URL"
VIEW_TABLE = "VIEW_TABLE"  # a consumer's own table (make consumer)


class MissingEnvironment(RuntimeError):
    pass


def require(*names: str) -> tuple:
    """The values of these variables, in order; raises naming every one that is unset or empty."""
    missing = [name for name in names if not os.environ.get(name)]
    if missing:
        function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "this function")
        raise MissingEnvironment(f"{function} needs the environment variable(s) {', '.join(missing)}; "
                                 "they are set by the bootstrap (make bootstrap), or in the function's configuration")
    return tuple(os.environ[name] for name in names)
