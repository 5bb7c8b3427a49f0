"""The command list agrees everywhere it is written: the CLI's commands, the Makefile's targets,
.PHONY, each target's `## help`, and the README's command table."""
from __future__ import annotations

import re

from ddblab.cli import COMMANDS
from ddblab.core.settings import ROOT

MAKEFILE = (ROOT / "Makefile").read_text()
README = (ROOT / "README.md").read_text()


def phony() -> set:
    joined = MAKEFILE.replace("\\\n", " ")
    return {word for line in re.findall(r"^\.PHONY:(.*)$", joined, re.M) for word in line.split()}


def helped() -> set:
    return set(re.findall(r"^([a-z][a-z-]*):[^\n]*## ", MAKEFILE, re.M))


def targets() -> set:
    return set(re.findall(r"^([a-z][a-z-]*):", MAKEFILE, re.M))


def in_readme_table() -> set:
    rows = [line for line in README.splitlines() if line.startswith("| `make ")]
    return {name for row in rows for name in re.findall(r"`make ([a-z][a-z-]*)", row)}


def test_command_list_every_cli_command_has_a_make_target_calling_it():
    called = set(re.findall(r"\$\(LAB\) ([a-z][a-z-]*)", MAKEFILE))
    assert set(COMMANDS) - called == set()
    assert called - set(COMMANDS) == set()


def test_command_list_every_target_phony_and_every_helped_target_in_the_readme_table():
    assert targets() - phony() == set(), "targets missing from .PHONY"
    assert phony() - targets() == set(), ".PHONY names a target that does not exist"
    assert helped() - in_readme_table() == set(), "targets with ## help the README's command table does not name"
    assert in_readme_table() - targets() == set(), "the README's table names a target the Makefile lacks"


def test_command_list_every_target_has_help():
    # make help lists the ## lines: a target without one is invisible (venv-test too: people run it)
    assert phony() - helped() == set()


def test_command_list_parsers_read_this_makefile():
    # GIVEN the parsing above THEN it finds what this Makefile is known to hold (a parser that reads nothing proves nothing)
    assert {"up", "test", "lint", "clean", "distclean"} <= helped() & phony() & targets()
    assert {"up", "lint", "test-unit"} <= in_readme_table()
