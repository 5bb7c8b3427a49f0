"""Failures a user can cause get one clear message that says what to do - no stack trace.
Run as a user would: the CLI as a subprocess, the Makefile through make."""
from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys

import pytest

from ddblab.core.settings import ROOT, Settings, UserError
from ddblab.emulator import lifecycle, localstack
from ddblab.emulator.health import free_port


def run(*args, env=None, cwd=ROOT):
    merged = {**os.environ, **(env or {})}
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=merged, timeout=120)


SCRIPTS = {"seed": [], "reconcile": [], "bootstrap": [], "query": ["--state", "Ohio"], "logs": ["--no-follow"],
           "chaos": ["--count", "10"], "bench": ["--count", "25"]}


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_script_no_emulator_says_run_make_up(script):
    # GIVEN nothing listening on the endpoint
    result = run(sys.executable, "-m", "ddblab", script, *SCRIPTS[script],
                 env={"AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"})
    # THEN one line says so and what to run
    assert result.returncode == 1
    assert "no emulator answers on http://127.0.0.1:" in result.stderr and "run: make up" in result.stderr
    assert "Traceback" not in result.stderr


def test_backend_up_port_taken_by_other_program_names_the_port():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        result = run(sys.executable, "-m", "ddblab", "up",
                     env={"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "EMULATOR": "ministack"})
    assert result.returncode == 1
    assert f"port {port} is taken by a program that is not an AWS emulator" in result.stderr
    assert "Traceback" not in result.stderr


def test_backend_up_localstack_without_docker_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setattr(localstack, "docker_answers", lambda: False)
    settings = Settings.from_env(endpoint_url=f"http://127.0.0.1:{free_port()}", emulator="localstack", run_dir=tmp_path)
    with pytest.raises(UserError, match="EMULATOR=localstack needs a Docker engine.*EMULATOR=ministack"):
        lifecycle.up(settings)


def test_settings_remote_endpoint_refused_unless_allowed(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://dynamodb.us-east-1.amazonaws.com")
    with pytest.raises(UserError, match="not a local emulator.*ALLOW_REMOTE_ENDPOINT=1"):
        Settings.from_env()
    monkeypatch.setenv("ALLOW_REMOTE_ENDPOINT", "1")
    assert not Settings.from_env().is_local


def test_settings_unknown_emulator_refused(monkeypatch):
    monkeypatch.setenv("EMULATOR", "docker")
    with pytest.raises(UserError, match="EMULATOR='docker' is not one of auto, localstack, ministack"):
        Settings.from_env()


def make_venv_with(tmp_path, script: str) -> subprocess.CompletedProcess:
    """make venv with a fake "python3" running `script`, elsewhere: the real .venv is untouched."""
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\n" + script)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return run("make", "venv", f"PYTHON={fake}", f"VENV={tmp_path / 'venv'}")


def test_make_venv_old_python_refused_with_version(tmp_path):
    # GIVEN a "python3" that reports itself as 3.8
    # WHEN make builds the virtualenv with it
    result = make_venv_with(tmp_path, 'case "$*" in\n  *version_info*) exit 1 ;;\n  *python_version*) echo 3.8.18 ;;\nesac\n')
    # THEN it refuses, says which version it found and what to run
    assert result.returncode != 0
    assert "is Python 3.8.18; ddb-streams-lab needs 3.10 or newer" in result.stdout + result.stderr
    assert not (tmp_path / "venv").exists()


@pytest.mark.parametrize("target", ["test", "test-host"])
def test_make_test_workers_not_a_number_refused_before_pytest_starts(target):
    result = run("make", target, "TEST_WORKERS=abc")
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == ("error: TEST_WORKERS=abc is not a number of workers (0: one process) "
                                             "nor auto - see make help")
    assert "numprocesses" not in result.stdout + result.stderr


def test_new_consumer_with_two_indexes_refused_and_nothing_written():
    result = run(sys.executable, "-m", "ddblab", "new", "consumer", "counts", "--index", "a", "--index", "b")
    assert result.returncode == 1
    assert result.stderr.strip() == ("error: --index given 2 times (a, b): a consumer's table has one index at most "
                                     "- run: make consumer NAME=... ARGS='--index ATTRIBUTE'")
    assert not (ROOT / "handlers" / "counts.py").exists()


def test_seed_negative_count_refused():
    result = run(sys.executable, "-m", "ddblab", "seed", "--count", "-1")
    assert result.returncode == 1 and "--count must be 0 or more" in result.stderr


def test_make_venv_broken_python_shim_says_it_does_not_run(tmp_path):
    # GIVEN a "python3" that cannot run at all (a pyenv shim for a version that is gone)
    result = make_venv_with(tmp_path, 'echo "pyenv: python3.9: command not found" >&2\nexit 127\n')
    # THEN make says so, never "is Python ;" with a blank version
    assert result.returncode != 0
    assert "does not run (a broken pyenv shim?)" in result.stdout + result.stderr
    assert "is Python ;" not in result.stdout + result.stderr


def test_settings_endpoint_remembered_by_up_followed_after_down_until_clean(monkeypatch, tmp_path, capsys):
    # GIVEN make up ran with another endpoint (it remembers it in the run directory)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("RUN_DIR", str(tmp_path))
    Settings.from_env(endpoint_url="http://localhost:4567").remember_endpoint()
    # WHEN a later command runs without AWS_ENDPOINT_URL
    later = Settings.from_env()
    # THEN it follows the remembered endpoint and knows where it came from
    assert later.endpoint_url == "http://localhost:4567" and later.endpoint_origin == "remembered"
    # AND an explicit AWS_ENDPOINT_URL still wins
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:4566")
    assert Settings.from_env().endpoint_origin == "environment"
    # AND after make down it is still followed: nothing quietly falls back to another port
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    lifecycle.down(later)
    assert Settings.from_env().endpoint_url == "http://localhost:4567"
    # AND make clean (the run directory gone) brings the default back
    (tmp_path / "endpoint").unlink()
    assert Settings.from_env().endpoint_url == "http://localhost:4566"


def test_settings_emulator_name_that_resolves_elsewhere_is_not_local(monkeypatch):
    import ddblab.core.settings as settings_module
    monkeypatch.setattr(settings_module.socket, "getaddrinfo", lambda host, port: [(0, 0, 0, "", ("93.184.216.34", 0))])
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localstack:4566")
    with pytest.raises(UserError, match="localstack does not resolve to a loopback or Docker network address"):
        Settings.from_env()


def test_ui_npm_install_that_hangs_stopped_with_what_to_check(monkeypatch, tmp_path):
    from ddblab.emulator import admin_ui

    # GIVEN dynamodb-admin not installed yet, and an npm that never finishes (a registry that does not answer)
    monkeypatch.setattr(admin_ui, "BIN", tmp_path / "dynamodb-admin")
    monkeypatch.setattr(admin_ui, "require_node", lambda: "npm")

    def hangs(command, **kwargs):
        assert kwargs["timeout"] == 600  # ten minutes: npm ci of dynamodb-admin takes well under one
        raise subprocess.TimeoutExpired(command, kwargs["timeout"])
    monkeypatch.setattr(admin_ui.subprocess, "run", hangs)
    # WHEN make ui installs it THEN it stops after its timeout with one line saying what to check
    with pytest.raises(UserError, match=f"did not finish in {admin_ui.INSTALL_TIMEOUT} s - check that the npm registry"):
        admin_ui.install(quiet=True)


def test_user_error_library_raises_an_exception_only_the_cli_exits(capsys):
    # GIVEN a library call that fails in a way the user can fix
    def command():
        raise UserError("no emulator answers on http://127.0.0.1:1 - run: make up")
    # THEN code that calls the library catches it like any exception (a test, a web page)
    with pytest.raises(Exception, match="run: make up") as raised:
        command()
    assert not isinstance(raised.value, SystemExit)
    # AND the CLI's entry point turns it into one line and exit status 1
    from ddblab import cli
    with pytest.raises(SystemExit) as exited:
        cli.run(command)
    assert exited.value.code == "error: no emulator answers on http://127.0.0.1:1 - run: make up"


@pytest.mark.parametrize("args, said", [
    (["seed", "--count", "abc"], "error: seed: argument --count: invalid int value: 'abc' - run: .venv/bin/ddblab seed --help"),
    (["watch", "--bogus"], "error: watch: unrecognized arguments: --bogus - run: .venv/bin/ddblab watch --help"),
    (["event", "stream", "--bogus"],
     "error: event stream: unrecognized arguments: --bogus - run: .venv/bin/ddblab event stream --help"),
    (["new", "consumer"],
     "error: new consumer: the following arguments are required: name - run: .venv/bin/ddblab new consumer --help"),
    ([], "error: the following arguments are required: <command> - run: make help"),
])
def test_cli_wrong_argument_is_one_line_naming_the_command_and_its_help(args, said):
    # GIVEN a command line with a wrong argument (make seed COUNT=abc, make watch ARGS=--bogus, ...)
    result = run(sys.executable, "-m", "ddblab", *args)
    # THEN one line says what is wrong and where the arguments are explained, argparse's status 2
    assert (result.returncode, result.stderr, result.stdout) == (2, said + "\n", "")


def test_cli_invalid_choice_is_one_line_and_help_keeps_its_usage():
    # GIVEN make invoke FUNCTION=nosuch
    result = run(sys.executable, "-m", "ddblab", "invoke", "nosuch")
    # THEN one line (the choices as this Python's argparse lists them)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("error: invoke: argument function: invalid choice: 'nosuch' (choose from ")
    assert result.stderr.endswith(") - run: .venv/bin/ddblab invoke --help\n")
    # AND --help still shows the usage, as argparse writes it
    helped = run(sys.executable, "-m", "ddblab", "invoke", "--help")
    assert helped.returncode == 0 and helped.stdout.startswith("usage: ddblab invoke [-h]")


@pytest.mark.parametrize("endpoint", ["notaurl", "localhost:4566", "ftp://localhost:4566", "http://localhost:abc"])
def test_settings_endpoint_that_is_no_url_is_said_to_be_no_url(monkeypatch, endpoint):
    # GIVEN AWS_ENDPOINT_URL set to something that is no http(s) URL with a host
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    # THEN one line says so (not "is not a local emulator") and what to give
    with pytest.raises(UserError) as refused:
        Settings.from_env()
    assert str(refused.value) == f"AWS_ENDPOINT_URL={endpoint!r} is not a URL: give http://localhost:4566"


@pytest.mark.parametrize("value", ["", "  "])
def test_settings_empty_emulator_is_unset_so_auto(monkeypatch, value):
    # GIVEN `EMULATOR= make status` (set, empty)
    monkeypatch.setenv("EMULATOR", value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:4566")
    # THEN it is as if unset: auto
    assert Settings.from_env().emulator == "auto"


def test_settings_endpoint_port_out_of_range_said_so(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:99999")
    with pytest.raises(UserError) as refused:
        Settings.from_env()
    assert str(refused.value) == ("AWS_ENDPOINT_URL='http://localhost:99999': the port is out of range (1-65535), "
                                  "e.g. http://localhost:4566")


@pytest.mark.parametrize("prefix, accepted", [("dev1-", True), ("team_a.", True), ("", True),
                                              ("BAD PREFIX!", False), ("a/b-", False), ("x" * 33, False)])
def test_settings_stack_prefix_only_what_every_aws_name_accepts(monkeypatch, prefix, accepted):
    monkeypatch.setenv("STACK_PREFIX", prefix)
    if accepted:
        assert Settings.from_env().prefix == prefix
        return
    with pytest.raises(UserError, match=r"STACK_PREFIX=.*: use at most 32 letters, digits, '-', '_' or '.'"):
        Settings.from_env()
