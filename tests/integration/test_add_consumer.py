"""The README's "Add your own consumer", run exactly as printed in a copy of the project, on a
MiniStack of its own: `make consumer` adds state_counts, the README's view() goes into the
handler, `make bootstrap` deploys it, its generated tests pass, and the count is exact. Then
every tool knows the new consumer (logs, invoke, status, doctor, outputs, template, the
mutation-test aliases, redrive, remove), and a failure planted in it reaches the dead-letter
queue (MAX_RECORD_AGE=5), stays there through a redrive while the function still fails, and
is put right by the redrive after the fix - nothing deleted early, the count exact; doctor's probe
goes through it then, and names it once a typo fails its every batch."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from ddblab import stack
from ddblab.core.settings import ROOT, Settings
from ddblab.core.waiting import wait_for
from ddblab.emulator.health import free_port
from ddblab.emulator.ministack import MiniStack
from tests.builtin import ADDED_MODULES, BUILT_IN, built_in_source
from tests.integration.test_walkthrough import Command

README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"<!-- consumer -->\s*```bash\n(.*?)```\s*<!-- /consumer -->", README, re.S)
VIEW = re.search(r"<!-- consumer view -->\s*```python\n(.*?)```\s*<!-- /consumer view -->", README, re.S)
PLUGIN_TEST = re.search(r"<!-- consumer test -->\s*```python\n(.*?)```\s*<!-- /consumer test -->", README, re.S)
SETUP = re.compile(r"^(source |export |[A-Z_]+=\$\()")
IGNORED = shutil.ignore_patterns(".venv", ".git", ".run", "node_modules", "mutants", "__pycache__", ".pytest_cache",
                                 ".hypothesis", "*.egg-info", "build")
SLOW_MINISTACK = "ministack"  # this test always runs on a MiniStack of its own (record age honoured there)


def commands(block: str) -> list:
    found, setup = [], []
    for line in (raw.strip() for raw in block.splitlines()):
        if line.startswith("# ->"):
            found[-1].expect.append(line[len("# ->"):].strip())
        elif line and not line.startswith("#"):
            found.append(Command(line, list(setup)))
            if SETUP.match(line):
                setup.append(line)
    return found


def test_add_consumer_readme_has_the_steps():
    assert len(BLOCKS) == 2 and VIEW is not None and PLUGIN_TEST is not None
    assert "import" in PLUGIN_TEST.group(1) and all(line.startswith("from ddblab.testing import ") for line in
                                                    PLUGIN_TEST.group(1).splitlines() if "import" in line)
    assert commands(BLOCKS[0])[0].line == "make consumer NAME=state_counts ARGS='--index state'"
    assert [c.line.split()[:2] for c in commands(BLOCKS[1])][:3] == [["make", "bootstrap"], ["make", "test"],
                                                                      ["make", "seed"]]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A copy of the project (sharing this one's .venv), and a MiniStack of its own."""
    copy = tmp_path_factory.mktemp("project") / "ddb-streams-lab"
    shutil.copytree(ROOT, copy, ignore=IGNORED, symlinks=True)
    # as a newcomer finds it: consumers a user added here (make consumer) left out of the copy
    description = copy / "ddblab/stack/consumers.py"
    description.write_text(built_in_source(description.read_text()))
    for module in ADDED_MODULES:
        for added in (f"handlers/{module}.py", f"tests/unit/test_{module}.py", f"tests/integration/test_{module}_live.py"):
            (copy / added).unlink(missing_ok=True)
    assert not (copy / "handlers/state_counts.py").exists(), "the copy holds a state_counts handler not made by make consumer"
    (copy / ".venv").symlink_to(ROOT / ".venv")
    # make must find the shared .venv up to date: never reinstall it from the copy.
    markers = [ROOT / ".venv" / marker for marker in (".installed", ".installed-test")]
    assert all(m.exists() for m in markers), "this test runs make in a copy sharing .venv: create it with make venv-test"
    installed = min(m.stat().st_mtime for m in markers)
    os.utime(copy / "pyproject.toml", (installed - 60, installed - 60))
    port = free_port()
    run_dir = tmp_path_factory.mktemp("consumer-run")
    settings = Settings.from_env(endpoint_url=f"http://127.0.0.1:{port}", run_dir=run_dir, prefix="")
    ministack = MiniStack(settings, port=port, tag="ministack-consumer")
    ministack.start()
    try:
        stack.converge(settings, consumers=BUILT_IN)  # what make up leaves: the stack without the new consumer
        home = tmp_path_factory.mktemp("home")
        env = {"PATH": os.environ["PATH"], "HOME": str(home), "AWS_ENDPOINT_URL": settings.endpoint_url,
               "PYTHONPATH": str(copy), "RUN_DIR": str(run_dir), "MAX_RECORD_AGE": "5",
               "AWS_CONFIG_FILE": str(home / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials")}
        yield copy, env, settings
    finally:
        ministack.stop()


def run(line: str, copy: Path, env: dict, setup: tuple = (), timeout: float = 600) -> subprocess.CompletedProcess:
    script = "\n".join(["set -euo pipefail", *setup, line])
    return subprocess.run(["bash", "-c", script], cwd=copy, env=env, capture_output=True, text=True, timeout=timeout)


def ok(line: str, copy: Path, env: dict, **options) -> str:
    result = run(line, copy, env, **options)
    assert result.returncode == 0, f"{line}\nexit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def run_as_printed(block: str, copy: Path, env: dict) -> None:
    for command in commands(block):
        deadline = time.monotonic() + 60
        while True:
            result = run(command.line, copy, env, setup=tuple(command.setup))
            assert result.returncode == 0, f"{command.line}\nexit {result.returncode}\n{result.stdout}\n{result.stderr}"
            # awscli-local 0.23's 14-line deprecation notice on every call: the README's export hides it
            assert "is deprecated" not in result.stderr, f"{command.line}\nprinted on stderr:\n{result.stderr}"
            out = result.stdout
            missing = [text for text in command.expect if text not in out]
            if not missing:
                break
            assert time.monotonic() < deadline, f"{command.line}\nprinted:\n{out}\nwithout: {missing}"
            time.sleep(1)


def with_view(handler: Path, view: str) -> None:
    source = handler.read_text()
    template_view = re.search(r"^def view\(.*?^    return \{\}\n", source, re.S | re.M)
    assert template_view, "the template's view() is not where the README says"
    handler.write_text(source.replace(template_view.group(0), view))


def count(settings: Settings, state: str) -> int:
    return settings.client("dynamodb").query(
        TableName="state_counts", IndexName="by_state", Select="COUNT", KeyConditionExpression="#s = :s",
        ExpressionAttributeNames={"#s": "state"}, ExpressionAttributeValues={":s": {"S": state}})["Count"]


def test_add_consumer_as_printed_then_every_tool_knows_it_and_recovery_puts_it_right(project):
    copy, env, settings = project
    # GIVEN the README's steps, as printed: the consumer added, its view() written, deployed, tested, counted
    run_as_printed(BLOCKS[0], copy, env)
    with_view(copy / "handlers/state_counts.py", VIEW.group(1))
    run_as_printed(BLOCKS[1], copy, env)

    # AND the README's plugin test passes as printed, run as it says
    (copy / "tests/integration/test_state_counts_ohio.py").write_text(PLUGIN_TEST.group(1))
    assert "1 passed" in ok("make test ARGS=tests/integration/test_state_counts_ohio.py", copy, env)

    # THEN every tool knows it
    assert ok(".venv/bin/ddblab outputs state_counts_table", copy, env).strip() == "state_counts"
    assert "state_counts" in ok(".venv/bin/ddblab logs --no-follow --since 10m --function state_counts", copy, env)
    (copy / "empty.json").write_text('{"Records": []}')
    assert "state_counts: status 200" in ok(".venv/bin/ddblab invoke state_counts --event empty.json --no-logs",
                                            copy, env)
    status = ok(".venv/bin/ddblab status", copy, env)
    assert re.search(r"ok\s+mapping\s+state_counts <- users", status) and re.search(r"ok\s+table\s+state_counts", status)
    doctor = ok(".venv/bin/ddblab doctor --no-probe", copy, env)
    assert "state_counts <- users" in doctor and "state_counts-role" in doctor
    template = ok(".venv/bin/ddblab template", copy, env)
    assert "StateCountsTable" in template and "state_counts.handler" in template
    assert "1 passed" in ok("MUTANT_UNDER_TEST=none .venv/bin/python -m pytest -q -p no:cacheprovider "
                            "tests/unit/test_state_counts.py -k twice", copy, env)
    assert "state_counts: not reconcilable" in ok(".venv/bin/ddblab reconcile", copy, env)

    # GIVEN a failure planted in the consumer: users in Bugtown make it raise
    handler = copy / "handlers/state_counts.py"
    fixed = handler.read_text()
    handler.write_text(fixed.replace('    state = item.get("state", {})\n', '    state = item.get("state", {})\n'
                                     '    if item.get("city") == {"S": "Bugtown"}:\n'
                                     '        raise RuntimeError("a planted bug")\n', 1))
    ok("make bootstrap", copy, env)
    ddb, sqs = settings.client("dynamodb"), settings.client("sqs")
    bug = f"bug-{uuid.uuid4().hex[:6]}@example.com"
    ddb.put_item(TableName="users", Item={"email": {"S": bug}, "state": {"S": "Ohio"}, "city": {"S": "Bugtown"}})
    dlq = sqs.get_queue_url(QueueName="users-dlq")["QueueUrl"]

    def waiting() -> int:
        return int(sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages",
                   "ApproximateNumberOfMessagesNotVisible"])["Attributes"]["ApproximateNumberOfMessages"])
    wait_for(lambda: waiting() > 0, "state_counts' failed batch in users-dlq (MAX_RECORD_AGE=5)", timeout=90)
    assert count(settings, "Ohio") == 96  # the README's count: the bug's user is not in it
    # THEN status says the dead letter waits, and not that the mapping fails: its batch left the stream
    status = run(".venv/bin/ddblab status", copy, env)
    assert status.returncode == 1 and re.search(r"FAILED\s+queue\s+users-dlq\s+1 message", status.stdout), status.stdout
    assert re.search(r"ok\s+mapping\s+state_counts <- users .*went to the dead-letter queue", status.stdout), status.stdout
    # WHEN redriven while the function still fails THEN the message stays, saying why
    still = run(".venv/bin/ddblab redrive", copy, env)
    assert still.returncode == 1 and "left: dead letter of state_counts" in still.stdout, still.stdout
    assert "state_counts failed again" in still.stdout and "a planted bug" in still.stdout
    wait_for(lambda: waiting() == 1, "the dead letter visible again", timeout=30)
    # WHEN the bug is fixed, deployed, and the queue redriven
    handler.write_text(fixed)
    ok("make bootstrap", copy, env)
    done = ok(".venv/bin/ddblab redrive", copy, env)
    # THEN the batch was handed back to state_counts, the message is gone and the count is exact
    assert "redriven: dead letter of state_counts" in done and "1 redriven, 0 left" in done, done
    assert count(settings, "Ohio") == 97 and waiting() == 0
    # AND doctor's probe goes through state_counts too (its row comes, and goes with the user), which
    # settles the warning the failure left (the mapping says FAILED until its next batch)
    doctor = ok(".venv/bin/ddblab doctor", copy, env)
    assert re.search(r"PASS probe\s+state_counts: its row for doctor-probe-\S+ came in [\d.]+ s, and went with the user",
                     doctor), doctor
    assert re.search(r"PASS mapping\s+state_counts <- users: last batch FAILED at [\d:]+, before the function was updated "
                     r"at [\d:]+; this run's probe record went through it since: the fix holds", doctor), doctor
    assert "WARN mapping" not in doctor and count(settings, "Ohio") == 97

    # GIVEN view() changed to keep the city too, and deployed: the rows written before keep the old view
    def row(email: str) -> dict:
        return ddb.get_item(TableName="state_counts", Key={"email": {"S": email}})["Item"]
    handler.write_text(fixed.replace('{"state": state}', '{"state": state, "city": item["city"]}', 1))
    ok("make bootstrap", copy, env)
    assert "city" not in row(bug)
    # WHEN the view is rebuilt THEN every row is written anew by the code deployed now, the count the same
    rebuilt = ok("make bootstrap ARGS='--rebuild state_counts'", copy, env)
    assert "rebuilt state_counts from the stream: a row for every user of users" in rebuilt, rebuilt
    assert row(bug)["city"] == {"S": "Bugtown"} and count(settings, "Ohio") == 97
    # AND a consumer without a view of its own is refused, saying what to run
    refused = run("make bootstrap ARGS='--rebuild replicate'", copy, env)
    assert refused.returncode != 0 and refused.stderr.splitlines()[0] == (
        "error: --rebuild replicate: replicate keeps no view of its own to rebuild - its view is users_by_location: "
        "run make reconcile ARGS=--fix"), refused.stderr

    # GIVEN a typo that fails every batch of state_counts (a NameError in view(), deployed)
    handler.write_text(fixed.replace('{"state": state}', '{"state": stat}', 1))
    ok("make bootstrap", copy, env)
    # WHEN doctor runs THEN its probe names state_counts as the link the record did not get through
    broken = run(".venv/bin/ddblab doctor --deadline 5", copy, env)
    assert broken.returncode == 1, broken.stdout
    assert re.search(r"FAIL probe\s+state_counts: no row for doctor-probe-\S+ within 5 s: state_counts did not take "
                     r"the probe's record - run: make logs ARGS='--function state_counts --since 15m'", broken.stdout), \
        broken.stdout
    # AND remove takes the consumer away with the rest of the stack
    ok(".venv/bin/python -c 'from ddblab import stack; from ddblab.core.settings import Settings; "
       "stack.remove(Settings.from_env())'", copy, env)
    functions = [f["FunctionName"] for f in settings.client("lambda").list_functions()["Functions"]]
    assert "state_counts" not in functions and "replicate" not in functions
