"""Inspection without side effects: the users stream read and decoded (stream), what the
quarantine and dead-letter queues hold (queue_contents), and how one change reads (render)."""
