"""The README's AWS CLI walkthrough, run exactly as printed.

Each command between `<!-- walkthrough -->` and `<!-- /walkthrough -->` runs in bash from the
project root, after the block's `source`, `export` and `NAME=$(...)` lines; a `# -> text` line
under a command is text its output must contain (retried until then: replication is
asynchronous). The README uses the default names (users, replicate, ...), which `make test`
never touches on your emulator: so this runs on a MiniStack of its own, with the stack
converged without a prefix, and a HOME of its own (no profile, no ~/.aws of yours)."""
from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass, field

import pytest

from ddblab import stack
from ddblab.core.settings import ROOT, Settings
from ddblab.emulator.health import free_port
from ddblab.emulator.ministack import MiniStack

BLOCK = re.compile(r"<!-- walkthrough -->\s*```bash\n(.*?)```\s*<!-- /walkthrough -->", re.S)
SETUP = re.compile(r"^(source |export |[A-Z_]+=\$\()")


@dataclass
class Command:
    line: str
    setup: list  # the lines before it that set up the shell
    expect: list = field(default_factory=list)


def walkthrough_commands(readme: str) -> list:
    commands = []
    for block in BLOCK.findall(readme):
        setup = []
        for line in (raw.strip() for raw in block.splitlines()):
            if line.startswith("# ->"):
                commands[-1].expect.append(line[len("# ->"):].strip())
            elif line and not line.startswith("#"):
                commands.append(Command(line, list(setup)))
                if SETUP.match(line):
                    setup.append(line)
    return commands


COMMANDS = walkthrough_commands((ROOT / "README.md").read_text())


def test_walkthrough_readme_has_the_commands():
    assert len(COMMANDS) >= 15 and sum(len(c.expect) for c in COMMANDS) >= 8
    assert any("awslocal dynamodb put-item" in c.line for c in COMMANDS)


@pytest.fixture(scope="module")
def walkthrough_env(tmp_path_factory):
    port = free_port()
    run_dir = tmp_path_factory.mktemp("walkthrough")
    settings = Settings.from_env(endpoint_url=f"http://127.0.0.1:{port}", run_dir=run_dir, prefix="")
    ministack = MiniStack(settings, port=port, tag="ministack-walkthrough")
    ministack.start()
    try:
        stack.converge(settings)
        home = tmp_path_factory.mktemp("home")
        yield {"PATH": os.environ["PATH"], "HOME": str(home), "AWS_ENDPOINT_URL": settings.endpoint_url,
               "AWS_CONFIG_FILE": str(home / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials")}
    finally:
        ministack.stop()


def run(command: Command, env: dict) -> subprocess.CompletedProcess:
    script = "\n".join(["set -euo pipefail", *command.setup, command.line])
    return subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_walkthrough_each_command_runs_as_printed(walkthrough_env):
    # In README order: later commands read what earlier ones wrote.
    for command in COMMANDS:
        deadline = time.monotonic() + 30
        while True:
            result = run(command, walkthrough_env)
            assert result.returncode == 0, f"{command.line}\nexit {result.returncode}\n{result.stdout}\n{result.stderr}"
            missing = [text for text in command.expect if text not in result.stdout]
            if not missing:
                break
            assert time.monotonic() < deadline, f"{command.line}\nprinted:\n{result.stdout}\nwithout: {missing}"
            time.sleep(1)
