"""Every handler checks at import the environment variables it needs and names the missing one."""
from __future__ import annotations

import re
import subprocess
import sys

import environment
import pytest

from ddblab.core.settings import Settings
from ddblab.stack.code import HANDLERS
from ddblab.stack.describe import describe
from ddblab.stack.model import Account

NEEDS = {"users_api": ("USERS_TABLE", "TARGET_TABLE"), "replicate": ("TARGET_TABLE", "QUARANTINE_QUEUE_URL"),
         "reference_replicate": ("TARGET_TABLE",)}
ALL = {"USERS_TABLE": "users", "TARGET_TABLE": "users_by_location", "QUARANTINE_QUEUE_URL": "http://localhost/q"}


def import_handler(module: str, env: dict) -> subprocess.CompletedProcess:
    # A fresh interpreter with only this environment, as a function's runtime starts.
    base = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1", "PYTHONPATH": str(HANDLERS),
            "AWS_LAMBDA_FUNCTION_NAME": module}
    return subprocess.run([sys.executable, "-c", f"import {module}"], env={**base, **env},
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("module, name", [(m, n) for m, names in NEEDS.items() for n in names])
def test_handler_import_without_variable_fails_naming_it(module, name):
    result = import_handler(module, {k: v for k, v in ALL.items() if k != name})
    assert result.returncode != 0
    assert f"{module} needs the environment variable(s) {name};" in result.stderr


@pytest.mark.parametrize("module", sorted([*NEEDS, "audit"]))
def test_handler_import_with_its_environment_succeeds(module):
    result = import_handler(module, ALL)
    assert result.returncode == 0, result.stderr


def test_require_gives_the_values_in_the_order_asked(monkeypatch):
    monkeypatch.setenv("TARGET_TABLE", "t")
    monkeypatch.setenv("QUARANTINE_QUEUE_URL", "http://localhost/q")
    assert environment.require("QUARANTINE_QUEUE_URL", "TARGET_TABLE") == ("http://localhost/q", "t")


@pytest.mark.parametrize("function, named", [("replicate", "replicate"), (None, "this function")])
def test_require_names_every_variable_unset_or_empty_and_the_function(monkeypatch, function, named):
    # GIVEN one variable set, one empty and one unset
    monkeypatch.setenv("TARGET_TABLE", "t")
    monkeypatch.setenv("USERS_TABLE", "")
    monkeypatch.delenv("QUARANTINE_QUEUE_URL", raising=False)
    if function:
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", function)
    else:
        monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    # WHEN all three are required THEN the error names the two missing ones, and what sets them
    with pytest.raises(environment.MissingEnvironment) as raised:
        environment.require("TARGET_TABLE", "USERS_TABLE", "QUARANTINE_QUEUE_URL")
    assert str(raised.value) == (f"{named} needs the environment variable(s) USERS_TABLE, QUARANTINE_QUEUE_URL; they are set "
                                 "by the bootstrap (make bootstrap), or in the function's configuration")


def required_by(module: str) -> set:
    """What the handler's own check asks for: imported with no variable at all, it names every one."""
    result = import_handler(module, {})
    if result.returncode == 0:
        return set()
    found = re.search(rf"{module} needs the environment variable\(s\) ([A-Z0-9_, ]+);", result.stderr)
    assert found, result.stderr
    return set(found.group(1).split(", "))


def test_handler_environment_check_asks_for_what_the_stack_description_sets():
    # GIVEN the functions as the stack description deploys them
    stack = describe(Settings(), Account("aws", "us-east-1", "123456789012"))
    # THEN each handler's import-time check asks for exactly the variables its function is given:
    # a variable set but never checked, or checked but never set, is a drift between the two
    assert {fn.module: required_by(fn.module) for fn in stack.functions} == {fn.module: set(fn.env) for fn in stack.functions}
    assert required_by("replicate") == {"TARGET_TABLE", "QUARANTINE_QUEUE_URL"}
