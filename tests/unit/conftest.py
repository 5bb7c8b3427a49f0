"""Unit tests run without an emulator: handlers create boto3 clients at import, which only
needs a region and dummy credentials. Nothing here talks to AWS; clients are faked per test."""
import importlib
import os
import sys
from pathlib import Path

from hypothesis import settings

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
os.environ.setdefault("USERS_TABLE", "users")
os.environ.setdefault("TARGET_TABLE", "users_by_location")
os.environ.setdefault("VIEW_TABLE", "consumer_view")  # a consumer from the template: its own table
os.environ.setdefault("QUARANTINE_QUEUE_URL", "http://localhost/000000000000/users-quarantine")

# make mutants: mutmut sets MUTANT_UNDER_TEST in every run it makes.
if "MUTANT_UNDER_TEST" in os.environ:
    # A mutant's verdict must not depend on which examples Hypothesis happened to draw:
    # the same examples for every mutant, and no database of past failures carried over.
    # (tests/strategies.py PROFILE is built after this, so it inherits both.)
    settings.register_profile("mutants", derandomize=True, database=None)
    settings.load_profile("mutants")
    # mutmut names a mutant after its file (handlers/projection.py -> handlers.projection) and
    # switches it on only in the module of that name, while the tests import the handlers flat,
    # as Lambda does (`import projection`). So under mutmut each handler is imported once as
    # handlers.<name> and that module is also what `import <name>` finds. Shared modules first:
    # the handlers import them flat too.
    # The functions' modules come from the stack description (ddblab/stack/consumers.py, which
    # imports no handler); a handler file that no function uses would have every mutant
    # "survive", with no word why.
    from ddblab.stack.consumers import function_modules
    MUTATED = ("environment", "log_lines", "projection", *function_modules())
    files = {p.stem for p in Path("handlers").glob("*.py")} | {p.parent.name for p in Path("handlers").glob("*/__init__.py")}
    assert files - {"reference_replicate"} == set(MUTATED), \
        "a file in handlers/ is used by no function of ddblab/stack/consumers.py: mutmut could never switch its mutants on"
    for name in MUTATED:
        sys.modules[name] = importlib.import_module(f"handlers.{name}")
