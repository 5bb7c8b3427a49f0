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


# --- settings: make help's list, the README's table, and what the code reads ----------------------

def settings_in_help() -> dict:
    """NAME -> default, from the Makefile's `#> NAME=default  what it does` lines (make help prints them)."""
    return dict(re.findall(r"^#> ([A-Z_]+)=(\S*)", MAKEFILE, re.M))


def settings_in_readme() -> dict:
    """NAME -> default, from the README's Settings table (`none` or a word for no default: '')."""
    table = README.split("### Settings", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([A-Z_]+)` \| ([^|]*) \|", table, re.M)
    return {name: default.strip().strip("`") if default.strip().startswith("`") else "" for name, default in rows}


def read_from_environment(path: str) -> set:
    source = (ROOT / path).read_text()
    return set(re.findall(r"(?:env|environ)(?:\.get\(|\[)\"([A-Z_]+)\"", source)) | set(
        re.findall(r"whole_number\(env, \"([A-Z_]+)\"", source))


def test_settings_parsers_read_this_makefile_and_readme():
    # GIVEN the parsing above THEN it finds what both are known to hold (a parser that reads nothing proves nothing)
    assert settings_in_help()["COUNT"] == "1000" and settings_in_help()["STACK_PREFIX"] == ""
    assert settings_in_readme()["MAX_RECORD_AGE"] == "3600" and settings_in_readme()["STACK_PREFIX"] == ""
    assert {"AWS_ENDPOINT_URL", "EMULATOR", "MAX_RETRIES"} <= read_from_environment("ddblab/core/settings.py")


def test_settings_make_help_and_the_readme_list_the_same_with_the_same_defaults():
    assert settings_in_help() == settings_in_readme()


def test_settings_every_variable_the_code_and_the_makefile_read_is_listed():
    listed = set(settings_in_help())
    # AWS_REGION is listed with AWS_DEFAULT_REGION, as boto3 reads both
    assert read_from_environment("ddblab/core/settings.py") - {"AWS_REGION"} - listed == set()
    # the LocalStack ones the backends read (XDG_CACHE_HOME, PYENV_ROOT are the system's, not the lab's)
    ours = {n for path in ("ddblab/emulator/localstack_host.py", "ddblab/emulator/localstack.py",
                           "ddblab/diagnose/checks.py") for n in read_from_environment(path) if n.startswith("LOCALSTACK_")}
    assert {"LOCALSTACK_PYTHON", "LOCALSTACK_AUTH_TOKEN"} <= ours and ours - listed == set()
    # a Makefile variable is a setting, or belongs to one target and is in that target's ## help (STATE, CITY)
    helps = " ".join(re.findall(r"## (.*)$", MAKEFILE, re.M))
    for name in re.findall(r"^([A-Z_]+) \?=", MAKEFILE, re.M):
        assert name in listed or f"{name}=" in helps, f"{name} is neither in make help's settings nor in a target's help"


def test_settings_defaults_are_the_ones_in_force():
    from ddblab.core.kinds import AUTO
    from ddblab.core.settings import DEFAULT_ENDPOINT, DEFAULT_MAX_RECORD_AGE, DEFAULT_MAX_RETRIES, Settings
    listed, defaults = settings_in_help(), Settings()
    assert listed["EMULATOR"] == AUTO and listed["AWS_ENDPOINT_URL"] == DEFAULT_ENDPOINT
    assert listed["MAX_RECORD_AGE"] == str(DEFAULT_MAX_RECORD_AGE) and listed["MAX_RETRIES"] == str(DEFAULT_MAX_RETRIES)
    assert listed["PARALLELIZATION_FACTOR"] == str(defaults.parallelization_factor)
    assert (listed["AWS_DEFAULT_REGION"], listed["API_STAGE"]) == (defaults.region, defaults.stage)
    assert listed["LOCALSTACK_IMAGE"] == defaults.localstack_image and listed["RUN_DIR"] == ".run"
    assert {name: listed[name] for name in ("PYTHON", "COUNT", "TEST_WORKERS")} == dict(
        re.findall(r"^(PYTHON|COUNT|TEST_WORKERS) \?= (\S+)", MAKEFILE, re.M))
