"""The backends: which one answers (health), MiniStack as a local process, LocalStack
through Docker Compose, starting and stopping them (lifecycle), and the fault proxy."""
