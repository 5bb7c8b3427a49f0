"""The functions the users stream feeds, one line each: part of the stack description
(describe.py builds each one's function, mapping and table from its line). Every list of
functions, tables and mappings in the tools, the tests and the template derives from here;
`ddblab new consumer NAME` adds a line. Kept apart from describe.py so that reading it
imports no handler (mutation testing swaps the handlers' modules before they are imported)."""
from __future__ import annotations

from ddblab.stack.model import Consumer

CONSUMERS = (
    Consumer("replicate", view=False, reconcile="ddblab.commands.reconcile:users_by_location", timeout=60),  # users_by_location
    Consumer("audit", view=False),  # replay only: it logs what happened
    # new consumers: one line each, above this comment
)
API_FUNCTION = "users_api"  # the one function no stream feeds


def function_modules(consumers: tuple = CONSUMERS) -> tuple:
    """Every function's handler module, the API's first: what the tools offer to choose
    from (no backend needed)."""
    return (API_FUNCTION, *(c.module for c in consumers))


def declared_now(path=None) -> set:
    """The consumer modules this file (or that one) declares as it stands on disk (a
    long-running `make dev` imported it before a consumer was added)."""
    import ast
    from pathlib import Path
    tree = ast.parse(Path(path or __file__).read_text())
    return {call.args[0].value for call in ast.walk(tree) if isinstance(call, ast.Call)
            and getattr(call.func, "id", "") == "Consumer" and call.args and isinstance(call.args[0], ast.Constant)}
