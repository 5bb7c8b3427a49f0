"""The data side: users to write, batched writes, and reconcile."""
