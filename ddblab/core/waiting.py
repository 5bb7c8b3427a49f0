"""One way to wait: poll a condition until it holds or a deadline passes.

Only what is transient is retried (the emulator not answering yet, throttling, a resource
still being created); anything else - a TypeError in the condition, an access denied - is
a bug or a real failure and surfaces at once, named after what was awaited.
"""
from __future__ import annotations

import time

from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

from ddblab.core.aws import error_code

TRANSIENT_ERRORS = (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError, ConnectionError, TimeoutError)
TRANSIENT_CODES = {
    "ResourceNotFoundException", "ResourceInUseException", "ResourceConflictException", "ResourceNotReadyException",
    "ThrottlingException", "Throttling", "TooManyRequestsException", "ProvisionedThroughputExceededException",
    "RequestLimitExceeded", "ServiceUnavailable", "InternalServerError", "InternalFailure",
    "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "NotFoundException",
}


class WaitTimeout(TimeoutError):
    pass


def is_transient(error: BaseException) -> bool:
    if isinstance(error, ClientError):
        return error_code(error) in TRANSIENT_CODES
    return isinstance(error, TRANSIENT_ERRORS)


def wait_for(condition, what: str, timeout: float = 30.0, interval: float = 0.1, max_interval: float = 1.0,
             transient=is_transient):
    """Call condition() until it returns something truthy, and return that.

    Raises WaitTimeout naming `what` was awaited and the last value or transient error seen,
    so a failing test says what never happened rather than "assert False". An error that
    transient(error) does not accept is re-raised at once, with a note naming `what`.
    """
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = condition()
        except Exception as error:
            if not transient(error):
                if hasattr(error, "add_note"):  # Python 3.11+
                    error.add_note(f"(raised while waiting for {what})")
                raise
            value, last = None, f"last error: {type(error).__name__}: {error}"
        else:
            if value:
                return value
            last = f"last value: {value!r}"
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout:.0f} s waiting for {what} ({last})")
        time.sleep(interval)
        interval = min(interval * 1.5, max_interval)
