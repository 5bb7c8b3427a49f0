"""wait_for retries only what is transient; a bug in the condition surfaces at once."""
from __future__ import annotations

import sys
import time

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from ddblab.core.waiting import WaitTimeout, wait_for


def test_wait_for_bug_in_condition_raised_at_once_with_what_was_awaited():
    # GIVEN a condition with a bug in it
    def condition():
        return len(None)
    # WHEN waited on with a long deadline
    started = time.monotonic()
    with pytest.raises(TypeError) as raised:
        wait_for(condition, "the users table", timeout=30)
    # THEN the TypeError surfaces at once, naming what was awaited
    assert time.monotonic() - started < 1
    if sys.version_info >= (3, 11):  # exceptions take notes from 3.11 (make venv accepts 3.10)
        assert any("the users table" in note for note in getattr(raised.value, "__notes__", []))


def test_wait_for_access_denied_not_retried():
    calls = []

    def condition():
        calls.append(1)
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetItem")
    with pytest.raises(ClientError):
        wait_for(condition, "an item", timeout=30)
    assert len(calls) == 1


def test_wait_for_transient_errors_retried_until_the_condition_holds():
    # GIVEN an emulator that is not up yet, then throttles, then answers
    answers = iter([EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
                    ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "Scan"),
                    ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "creating"}}, "DescribeTable"),
                    "ready"])

    def condition():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer
    # THEN each is retried and the value returned
    assert wait_for(condition, "the table", timeout=5, interval=0.001) == "ready"


def test_wait_for_timeout_names_what_and_last_value():
    with pytest.raises(WaitTimeout, match=r"waiting for the drain \(last value: 0\)"):
        wait_for(lambda: 0, "the drain", timeout=0.05, interval=0.01)
