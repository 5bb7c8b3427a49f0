"""status is doctor's checks, one row per part: the worst verdict wins, a failed batch that
went to the dead-letter queue is not a failing mapping, and a reason is one clause."""
from __future__ import annotations

from types import SimpleNamespace

from ddblab.commands.status import Row, row
from ddblab.core.kinds import Backend
from ddblab.diagnose.checks import last_result
from ddblab.diagnose.diagnosis import Check, Diagnosis
from ddblab.diagnose.function_errors import StartError, error_clauses
from ddblab.inspect.queue_contents import Message
from ddblab.stack.model import Mapping

MAPPING = Mapping("state_counts", "users", batch_size=1000)


def test_status_row_worst_verdict_wins_with_its_reasons():
    found = [Check("queue", "users-dlq", "pass", "reachable"),
             Check("queue", "users-dlq", "fail", "1 message(s), the oldest 5s old", "make redrive")]
    assert row("queue", "users-dlq", found) == Row("queue", "users-dlq", "FAILED", "1 message(s), the oldest 5s old",
                                                   "make redrive")
    warned = [Check("function", "audit", "pass", "starts cleanly"), Check("function", "audit", "warn", "2 errors")]
    assert row("function", "audit", warned).state == "WARN"
    missing = [Check("table", "users", "fail", "missing", "make bootstrap")]
    assert row("table", "users", missing).state == "MISSING"
    fine = [Check("mapping", "m", "pass", "Enabled"),
            Check("mapping", "m", "note", "that failed batch went to the dead-letter queue")]
    assert row("mapping", "m", fine) == Row("mapping", "m", "ok", "Enabled; that failed batch went to the dead-letter queue")


class Seen(Diagnosis):
    """A Diagnosis whose backend answers are given: errors in the log and the dead letters."""

    def __init__(self, errors: list, letters: list, start_error=None):
        super().__init__(live=SimpleNamespace(settings=None))
        self._errors = {"state_counts": errors}
        self._start_errors = {"state_counts": start_error}
        self.__dict__["dead_letters"] = letters
        self.__dict__["ministack_failures"] = {}

    def fix_for_function(self, function: str) -> str:
        return "make logs ARGS='--function state_counts --since 15m'"


def letter(sent: float) -> Message:
    return Message("dlq", "m1", sent, "(a batch)", "MaxRecordAgeExceeded", "state_counts: batch of 1", "state_counts")


def test_last_result_failed_then_dead_lettered_with_nothing_failing_since_is_not_a_failure():
    # GIVEN the last batch failed at t=100 s and went to the dead-letter queue at t=101 s
    seen = Seen(errors=[(100_000, "RuntimeError: a planted bug")], letters=[letter(101.0)])
    # THEN the mapping is not failing: a note says where the batch went
    (check,) = last_result(seen, MAPPING, {"LastProcessingResult": "FAILED"})
    assert check.status == "note" and check.detail.startswith("that failed batch went to the dead-letter queue")


def test_last_result_failing_again_after_the_dead_letter_is_a_failure_in_one_clause():
    # GIVEN a dead letter at t=101 s, and a new failure logged at t=102 s (traceback and all)
    errors = [(100_000, "RuntimeError: old"), (102_000, "RuntimeError: a planted bug")]
    (check,) = last_result(Seen(errors=errors, letters=[letter(101.0)]), MAPPING, {"LastProcessingResult": "FAILED"})
    # THEN it fails, the reason the exception's own line, said once
    assert check.status == "fail" and check.detail == "last batch FAILED: RuntimeError: a planted bug"


def test_error_clauses_take_a_tracebacks_last_line_never_its_first():
    log = ["START RequestId: 1", "Traceback (most recent call last):", '  File "/var/task/x.py", line 3, in handler',
           "    raise RuntimeError('a planted bug')", "RuntimeError: a planted bug", "END RequestId: 1",
           "[ERROR] KeyError: 'state'\nTraceback (most recent call last):\n  File \"x\"\nKeyError: 'state'"]
    assert error_clauses(log) == ["RuntimeError: a planted bug", "[ERROR] KeyError: 'state'", "KeyError: 'state'"]


def test_last_result_on_localstack_fails_while_the_function_cannot_start():
    # GIVEN LocalStack, whose LastProcessingResult stays "No records processed" whatever happens,
    # and a function that cannot start (every batch fails)
    broken = Seen(errors=[], letters=[], start_error=StartError("state_counts", "Runtime.UserCodeSyntaxError",
                                                                 "Syntax error in module 'state_counts': line 3"))
    broken.__dict__["backend"] = Backend.LOCALSTACK
    (check,) = last_result(broken, MAPPING, {"LastProcessingResult": "No records processed"})
    # THEN the mapping's link is failed, with the function's error and the fix
    assert check.status == "fail"
    assert check.detail == ("every batch fails: the function cannot start: Runtime.UserCodeSyntaxError: "
                            "Syntax error in module 'state_counts': "
                            "line 3")
    assert check.fix == "make logs ARGS='--function state_counts --since 15m'"
    # AND with a function that starts, it is only the note that LocalStack never updates the result
    fine = Seen(errors=[], letters=[])
    fine.__dict__["backend"] = Backend.LOCALSTACK
    (check,) = last_result(fine, MAPPING, {"LastProcessingResult": "No records processed"})
    assert check.status == "note" and "never updates it" in check.detail
