"""Transient failures never lose a record: a small version of `make chaos`, with real
faults injected by a microburst proxy between the replicate function and the emulator."""
from __future__ import annotations

import uuid

import pytest

from ddblab.drills import fault_drill
from tests.integration.helpers import localstack_in_docker

# The mappings' maximum record age for the drill. MiniStack honours it for stream mappings: a
# batch that fails when its oldest record is older than this goes to the OnFailure queue
# (ministack/services/lambda_svc.py, _poll_dynamodb_streams and _send_ddb_stream_failure_record).
# Well over the drill's drain (17-30 s on 2 cores) so a loaded CI machine does not fail it, and
# well under its 240 s: a batch the retries had not recovered would be dead-lettered in the test.
MAX_RECORD_AGE = 120


def test_replicate_under_injected_faults_zero_drift(backend_settings, converged):
    # Skipped only where LocalStack in Docker positively answers (on the host its functions are
    # host processes and reach the proxy); an emulator of unknown kind fails the test.
    if localstack_in_docker(backend_settings):
        pytest.skip("the fault proxy runs on this machine; LocalStack's Lambda containers cannot reach it")
    # GIVEN a proxy that fails the first 12 target writes outright and 30% of the rest,
    # a replicate that gives up after 2 attempts (so the outage outlasts several invocations),
    # and mappings that dead-letter a batch still failing 2 minutes after its oldest record was written
    # (the stack's default, an hour, would make "nothing dead-lettered" true whatever happened)
    # WHEN users are inserted, updated, moved, deleted and re-inserted, with a poison item
    result = fault_drill.drill(backend_settings, count=300, fault_rate=0.3, outage=12, write_attempts=2,
                         max_record_age=MAX_RECORD_AGE, prefix=f"drill{uuid.uuid4().hex[:4]}-", timeout=240)
    # THEN faults really fired, the function's failure made the stream retry a batch,
    # the retries recovered every batch within the record age (none dead-lettered),
    # and the target ends exactly as the users table says: no drift
    assert result.faults["outage"] == 12, result.faults
    assert result.faults["total"] > 12, result.faults
    assert result.log["failed_invocations"] >= 1, result.log
    assert result.dead_letters == 0, fault_drill.report(result)
    assert result.quarantined == result.poison, fault_drill.report(result)
    assert result.drift.total == 0, fault_drill.report(result)
    assert result.drift.target_items > 0
