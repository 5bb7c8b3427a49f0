"""status is doctor's checks, one row per part: the worst verdict wins, a failed batch that
went to the dead-letter queue is not a failing mapping, nor is one that failed before the
function was updated (a warning until the next record tells), a reason is one clause, and a
dead letter of a replay-only consumer is repaired by redrive, never by reconcile."""
from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from ddblab.commands.status import Row, row
from ddblab.core.kinds import Backend, QueueKind
from ddblab.core.settings import Settings
from ddblab.diagnose.checks import last_result, queues, redrive_fix, settled
from ddblab.diagnose.diagnosis import Check, Diagnosis, epoch_of
from ddblab.diagnose.function_errors import StartError, error_clauses, ministack_failures
from ddblab.diagnose.probe import let_go
from ddblab.inspect.queue_contents import Message
from ddblab.stack.consumers import CONSUMERS
from ddblab.stack.describe import describe
from ddblab.stack.model import Account, Consumer, Mapping

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
        self._updated = {"state_counts": None}  # when the function was last updated: not known unless a test says
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
    # AWS's form: the exception on the [ERROR] line, then the frames, then END: END is no error
    aws = ["[ERROR] NameError: name 'stat' is not defined\nTraceback (most recent call last):\n"
           '  File "/var/task/state_counts.py", line 35, in view\n    return {"state": stat}', "END RequestId: 2"]
    assert error_clauses(aws) == ["[ERROR] NameError: name 'stat' is not defined"]


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
    assert check.status == "note"
    assert check.detail == "LocalStack 4.14 never updates the last result: the function's log and the probe tell what happened"
    # AND status's row, the mapping's line and the note joined, says the result once
    line = Check("mapping", MAPPING.label, "pass", "abc Enabled, BatchSize 1000, TRIM_HORIZON, on the current stream, "
                 "last result: No records processed")
    assert row("mapping", MAPPING.label, [line, check]).detail == (
        "abc Enabled, BatchSize 1000, TRIM_HORIZON, on the current stream, last result: No records processed; "
        "LocalStack 4.14 never updates the last result: the function's log and the probe tell what happened")


@pytest.fixture
def utc(monkeypatch):
    """Clock times in UTC, so the expected ones can be written by hand."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_last_result_failed_before_the_function_was_updated_is_a_warning_naming_the_next_step(utc):
    # GIVEN the last batch failed at t=100 s (its error logged), nothing dead-lettered, and the
    # function updated at t=160 s (a fix deployed); it starts cleanly
    seen = Seen(errors=[(100_000, "RuntimeError: a planted bug")], letters=[])
    seen._updated["state_counts"] = 160.0
    # WHEN the backend still says FAILED (it keeps the last result until another batch comes)
    (check,) = last_result(seen, MAPPING, {"LastProcessingResult": "FAILED"})
    # THEN it is a warning that the failure came before the update, with what tells: the next record
    assert check.status == "warn"
    assert check.detail == ("last batch FAILED at 00:01:40, before the function was updated at 00:02:40: "
                            "the next record will tell whether the fix holds")
    assert check.fix == "make doctor (its probe sends a record through), or write one, then make status"


def test_warning_of_a_failure_before_the_update_is_settled_by_doctors_probe(utc):
    # GIVEN the warning of a failure at t=100 s before an update at t=160 s, on a stack with state_counts
    seen = Seen(errors=[(100_000, "RuntimeError: a planted bug")], letters=[])
    seen._updated["state_counts"] = 160.0
    seen.__dict__["spec"] = STACK
    (warning,) = last_result(seen, MAPPING, {"LastProcessingResult": "FAILED"})
    assert warning.awaits_record and warning.function == "state_counts"
    # WHEN this run's probe record went through state_counts (its row came, and went)
    through = [Check("probe", "users_by_location", "pass", "reached", function="replicate"),
               Check("probe", "state_counts", "pass", "its row came, and went", function="state_counts")]
    # THEN the warning is settled as passed: the fix holds, nothing left to run
    check = settled(seen, warning, through)
    assert (check.status, check.name, check.fix) == ("pass", "state_counts <- users", "")
    assert check.detail == ("last batch FAILED at 00:01:40, before the function was updated at 00:02:40; "
                            "this run's probe record went through it since: the fix holds")
    # WHEN the probe's record did not get through state_counts (replicate's did)
    failed = [through[0], Check("probe", "state_counts", "fail", "no row", "make logs", function="state_counts")]
    # THEN it is a failure saying the fix does not hold, and what to run
    check = settled(seen, warning, failed)
    assert (check.status, check.fix) == ("fail", "make logs ARGS='--function state_counts --since 15m'")
    assert check.detail == ("last batch FAILED at 00:01:40, before the function was updated at 00:02:40; "
                            "this run's probe record failed in it too: the fix does not hold")


def test_probe_sees_a_deleted_user_let_go_as_the_template_keeps_it():
    # the template keeps a deleted user's key and a later sequence number; a row still holding
    # the user's attributes, or the same sequence, has not taken the delete
    seen = {"email": {"S": "p@example.com"}, "state": {"S": "Doctor Probe"}, "sequence": {"S": "0001"}}
    assert let_go({"email": {"S": "p@example.com"}, "sequence": {"S": "0002"}}, seen)
    assert let_go(None, seen)
    assert not let_go(seen, seen)
    assert not let_go({"email": {"S": "p@example.com"}, "sequence": {"S": "0001"}}, seen)
    assert not let_go({"email": {"S": "p@example.com"}, "state": {"S": "Doctor Probe"}, "sequence": {"S": "0002"}}, seen)


def test_last_result_failed_after_the_update_or_while_the_function_cannot_start_stays_a_failure():
    # GIVEN an update at t=50 s and a failure logged after it, at t=100 s
    after = Seen(errors=[(100_000, "RuntimeError: a planted bug")], letters=[])
    after._updated["state_counts"] = 50.0
    assert last_result(after, MAPPING, {"LastProcessingResult": "FAILED"})[0].status == "fail"
    # GIVEN an update after the failure, but a function that still cannot start
    broken = Seen(errors=[(100_000, "RuntimeError: old")], letters=[],
                  start_error=StartError("state_counts", "Runtime.UserCodeSyntaxError", "line 3"))
    broken._updated["state_counts"] = 160.0
    assert last_result(broken, MAPPING, {"LastProcessingResult": "FAILED"})[0].status == "fail"
    # GIVEN an update, and no word of when the failure was (no error in the log, no MiniStack line)
    unknown = Seen(errors=[], letters=[])
    unknown._updated["state_counts"] = 160.0
    assert last_result(unknown, MAPPING, {"LastProcessingResult": "FAILED"})[0].status == "fail"


def test_failure_and_update_times_read_from_ministack_and_lambda(utc, tmp_path):
    log = tmp_path / "ministack.log"
    log.write_text("2026-12-06 21:40:30 INFO [lambda] ESM: Lambda state_counts processed 1 DynamoDB stream records from users\n"
                   "2026-12-06 21:40:32 ERROR [lambda] ESM: Lambda state_counts failed processing DynamoDB stream batch "
                   "from users (errorType=Runtime.HandlerError errorMessage=a planted bug)\n")
    (failure,) = ministack_failures(log).values()
    assert failure.at == 1796593232 and str(failure) == "Runtime.HandlerError: a planted bug"
    assert epoch_of("2026-12-06T21:40:32.125+0000") == 1796593232.125
    assert epoch_of("2026-12-06T23:40:32+02:00") == 1796593232
    assert epoch_of("") is None


STACK = describe(Settings(), Account("aws", "us-east-1", "123456789012"),
                 consumers=CONSUMERS + (Consumer("state_counts", index="state"),))


def dead_letter(function: str) -> Message:
    return Message("dlq", f"m-{function}", 100.0, "(a batch)", "MaxRecordAgeExceeded", f"{function}: batch of 1", function)


def test_redrive_fix_never_offers_reconcile_alone_for_a_replay_only_consumer():
    # replicate's view is recomputed by make reconcile; audit and state_counts are replay only
    assert redrive_fix(STACK, [dead_letter("replicate")]) == "make redrive (or make reconcile ARGS=--fix)"
    assert redrive_fix(STACK, [dead_letter("state_counts")]) == (
        "make redrive once it is fixed (state_counts is not reconcilable: replay to repair)")
    assert redrive_fix(STACK, [dead_letter("replicate"), dead_letter("audit"), dead_letter("state_counts")]) == (
        "make redrive once it is fixed (audit and state_counts are not reconcilable: replay to repair)")


def test_queue_check_of_a_replay_only_consumers_dead_letter_names_the_redrive():
    # GIVEN one dead letter of state_counts waiting, and an empty quarantine queue
    seen = Seen(errors=[], letters=[dead_letter("state_counts")])
    seen.__dict__["spec"] = STACK
    seen.live = SimpleNamespace(settings=None, sqs=None, queue_url=lambda kind: f"http://q/{kind}",
                                queue_depth=lambda kind: 1 if kind == QueueKind.DLQ else 0)
    # THEN doctor's (and status's) line for the queue fails and says to redrive, not to reconcile
    quarantine, dlq = queues(seen)
    assert quarantine.status == "pass" and dlq.status == "fail"
    assert dlq.fix == ("make quarantine (read them), then make redrive once it is fixed "
                       "(state_counts is not reconcilable: replay to repair)")
