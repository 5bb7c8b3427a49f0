"""Moved to the package: ddblab.events (so users' own tests can import the factories).
Kept as an alias only for branches written before the move; import ddblab.events."""
from ddblab.events import *  # noqa: F401,F403
