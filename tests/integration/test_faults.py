"""Transient failures never lose a record: a small version of `make chaos`, with real
faults injected by a microburst proxy between the replicate function and the emulator."""
from __future__ import annotations

import uuid

import pytest

from ddblab.data import chaos
from ddblab.emulator.health import emulator_name


def test_replicate_under_injected_faults_zero_drift(backend_settings, converged):
    if emulator_name(backend_settings.endpoint_url) != "ministack":
        pytest.skip("the fault proxy runs on this machine; LocalStack's Lambda containers cannot reach it")
    # GIVEN a proxy that fails the first 12 target writes outright and 30% of the rest,
    # and a replicate that gives up after 2 attempts (so the outage outlasts several invocations)
    # WHEN users are inserted, updated, moved, deleted and re-inserted, with a poison item
    result = chaos.drill(backend_settings, count=300, fault_rate=0.3, outage=12, write_attempts=2,
                         prefix=f"drill{uuid.uuid4().hex[:4]}-", timeout=240)
    # THEN faults really fired, the function's failure made the stream retry a batch,
    # and the target ends exactly as the users table says: no drift, nothing dead-lettered
    assert result.faults["outage"] == 12, result.faults
    assert result.faults["total"] > 12, result.faults
    assert result.log["failed_invocations"] >= 1, result.log
    assert result.quarantined == result.poison, chaos.report(result)
    assert result.dead_letters == 0
    assert result.drift.total == 0, chaos.report(result)
    assert result.drift.target_items > 0
