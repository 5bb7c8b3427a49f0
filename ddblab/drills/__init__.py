"""Drills: the pipeline run under load (throughput) and under injected faults (fault_drill),
each on a stack of its own."""
