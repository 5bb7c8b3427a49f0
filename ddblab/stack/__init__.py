"""The stack: described once (model, describe), converged onto a backend one resource kind
at a time (converge/), removed (remove), read back (deployed), with the code zips (code).

    from ddblab import stack
    stack.converge(settings); stack.remove(settings)
"""
from ddblab.stack.converge import converge
from ddblab.stack.remove import remove

__all__ = ["converge", "remove"]
