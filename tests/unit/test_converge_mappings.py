"""The mappings' converge step: what counts as a setting to change."""
from __future__ import annotations

from ddblab.stack.converge.mappings import drift

WANTED = {"BatchSize": 1000, "ParallelizationFactor": 1, "DestinationConfig": {"OnFailure": {"Destination": "arn:dlq"}}}
CURRENT = {"BatchSize": 1000, "DestinationConfig": {"OnFailure": {"Destination": "arn:dlq"}}, "State": "Enabled"}


def test_mapping_without_a_parallelization_factor_runs_one_batch_at_a_time_no_change():
    # GIVEN a mapping created before the factor was set (the backend echoes none), WHEN 1 is wanted
    # THEN nothing is to change: 1 is AWS's default (an update would replay the stream on LocalStack)
    assert drift(CURRENT, WANTED) == []


def test_mapping_parallelization_factor_changed_is_a_change():
    assert drift({**CURRENT, "ParallelizationFactor": 1}, {**WANTED, "ParallelizationFactor": 4}) == ["ParallelizationFactor"]
    assert drift(CURRENT, {**WANTED, "ParallelizationFactor": 4}) == ["ParallelizationFactor"]
