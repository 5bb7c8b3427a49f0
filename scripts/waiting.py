"""One way to wait: poll a condition until it holds or a deadline passes."""
from __future__ import annotations

import time


class WaitTimeout(TimeoutError):
    pass


def wait_for(condition, what: str, timeout: float = 30.0, interval: float = 0.1, max_interval: float = 1.0):
    """Call condition() until it returns something truthy, and return that.

    Raises WaitTimeout naming `what` was awaited and the last value or error seen, so a
    failing test says what never happened rather than "assert False".
    """
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = condition()
        except Exception as error:  # noqa: BLE001 - reported in the timeout message
            value, last = None, f"last error: {type(error).__name__}: {error}"
        else:
            if value:
                return value
            last = f"last value: {value!r}"
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout:.0f} s waiting for {what} ({last})")
        time.sleep(interval)
        interval = min(interval * 1.5, max_interval)
