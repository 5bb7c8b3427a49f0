"""The data side: users to write (users), batched writes (batches), the target compared with and
repaired to the projection of users (reconciliation), and the queues brought back (recovery)."""
