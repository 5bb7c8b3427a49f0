"""make bench's figures: each ratio from the medians of its rounds, and each target judged
the way the issue states it (the values here are worked out by hand)."""
from __future__ import annotations

from ddblab.drills.throughput import Result


def result() -> Result:
    # GIVEN three rounds of each variant, items/s (medians: raw 4000, pipeline 1600, alone 2000, baseline 300)
    return Result(backend="ministack", n=2000, rounds=3, rates={
        "raw": [3900.0, 4000.0, 4100.0], "pipeline": [1500.0, 1600.0, 1700.0],
        "alone": [2100.0, 2000.0, 1900.0], "baseline": [300.0, 290.0, 310.0]})


def test_ratios_are_the_ceiling_over_each_pipeline_median():
    figures = result().figures()
    # THEN 2N at 4000/s takes N/2000 s: the pipeline at 1600/s takes 1.25 times that, replicate alone 1.0
    assert figures["replication_over_ceiling"] == 1.25
    assert figures["replicate_alone_over_ceiling"] == 1.0
    assert figures["alone_items_per_s"] == 2000.0
    assert figures["speedup_over_baseline"] == 5.33


def test_the_whole_pipeline_and_replicate_alone_are_each_judged_against_1_05():
    verdicts = result().verdicts()
    assert verdicts["replication_over_ceiling"] == {"value": 1.25, "target": "at most 1.05", "met": False}
    assert verdicts["replicate_alone_over_ceiling"] == {"value": 1.0, "target": "at most 1.05", "met": True}
    assert verdicts["speedup_over_baseline"]["met"] is True


def test_the_alone_stack_keeps_replicates_mapping_only():
    from ddblab.core.settings import Settings
    from ddblab.drills.throughput import Bench

    class FakeLambda:
        """Mappings of a bench stack and of the user's stack (LocalStack lists by substring)."""
        def __init__(self):
            self.mappings = {f"m-{name}": f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
                             for name in ("bench-alone-replicate", "bench-alone-audit", "audit", "replicate")}

        def get_paginator(self, operation):
            assert operation == "list_event_source_mappings"
            fake = self

            class Pages:
                def paginate(self, FunctionName):
                    yield {"EventSourceMappings": [{"UUID": uuid, "FunctionArn": arn} for uuid, arn in fake.mappings.items()
                                                   if FunctionName in arn]}
            return Pages()

        def delete_event_source_mapping(self, UUID):
            del self.mappings[UUID]

    lam = FakeLambda()
    Bench.unmap_all_but_replicate(Settings.from_env().sub("bench-alone-"), lam)
    # THEN the bench stack's audit mapping is gone; its replicate's, and the user's own stack's, are kept
    assert sorted(lam.mappings) == ["m-audit", "m-bench-alone-replicate", "m-replicate"]
