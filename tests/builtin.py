"""The stack as the project ships it, apart from the consumers a user adds (`make consumer`
writes one line in ddblab/stack/consumers.py): the project's own tests check the built-in
pipeline (users_api, replicate, audit) against expectations written by hand, and a consumer
the user added must not turn them red. Tests that describe a stack describe it with BUILT_IN;
tests that read a live stack (or the tools' lists) check the built-in entries exactly and
that every other entry is one of ADDED."""
from __future__ import annotations

import re

from ddblab.stack.consumers import CONSUMERS

BUILT_IN_MODULES = ("replicate", "audit")  # the consumers the project ships, in order
BUILT_IN = tuple(c for c in CONSUMERS if c.module in BUILT_IN_MODULES)
ADDED = tuple(c for c in CONSUMERS if c.module not in BUILT_IN_MODULES)  # the user's own lines, in order
ADDED_MODULES = tuple(c.module for c in ADDED)
assert tuple(c.module for c in BUILT_IN) == BUILT_IN_MODULES, "a built-in consumer left ddblab/stack/consumers.py"
assert CONSUMERS[:len(BUILT_IN)] == BUILT_IN, "the built-in consumers are no longer the first lines of CONSUMERS"

CONSUMER_LINE = re.compile(r'^\s*Consumer\("(\w+)"')


def built_in_source(source: str) -> str:
    """consumers.py's text with the lines a user added to CONSUMERS left out: the file as a
    newcomer finds it."""
    kept = [line for line in source.splitlines(keepends=True)
            if not (m := CONSUMER_LINE.match(line)) or m.group(1) in BUILT_IN_MODULES]
    return "".join(kept)
