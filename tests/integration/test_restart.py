"""Data across restarts: `ddblab down` keeps the users table in the run directory and `ddblab up`
writes it back through the normal write path, so the stream rebuilds users_by_location; an
older snapshot never goes over data, and --discard keeps nothing. On a MiniStack of its own,
started and stopped the way make up and make down do it."""
from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from ddblab import stack
from ddblab.core.settings import ROOT, Settings
from ddblab.core.waiting import wait_for
from ddblab.data import batches, reconciliation
from ddblab.emulator.health import free_port, health
from ddblab.emulator.ministack import MiniStack

COUNT = 3000


@pytest.fixture
def restartable(tmp_path):
    port = free_port()
    settings = Settings.from_env(endpoint_url=f"http://127.0.0.1:{port}", run_dir=tmp_path / "run", prefix="")
    MiniStack(settings, port=port).start()
    env = {**os.environ, "AWS_ENDPOINT_URL": settings.endpoint_url, "RUN_DIR": str(settings.run_dir),
           "EMULATOR": "ministack", "STACK_PREFIX": "", "NO_COLOR": "1"}
    try:
        stack.converge(settings)
        yield settings, env
    finally:
        MiniStack(settings, port=port).stop()


def cli(env: dict, *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "ddblab", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, f"ddblab {' '.join(args)}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def users(n: int) -> list:
    return [{"email": {"S": f"r{i:05d}@example.com"}, "state": {"S": "Ohio"}, "city": {"S": f"City{i % 50}"}}
            for i in range(n)]


def count(client, table: str) -> int:
    return sum(page["Count"] for page in client.get_paginator("scan").paginate(TableName=table, Select="COUNT"))


def test_down_up_brings_users_back_and_the_stream_rebuilds_the_view(restartable):
    settings, env = restartable
    client = settings.client("dynamodb")
    # GIVEN users, one of them holding a binary and a number set
    odd = {"email": {"S": "odd@example.com"}, "state": {"S": "Ohio"}, "city": {"S": "Akron"},
           "photo": {"B": b"\x00\xffpng"}, "scores": {"NS": ["1", "2.5"]}}
    batches.write_all(client, "users", batches.puts(users(COUNT) + [odd]), workers=4)
    # WHEN the emulator is stopped and started again
    down = cli(env, "down")
    assert f"kept {COUNT + 1} items of users" in down and health(settings.endpoint_url) is None
    up = cli(env, "up")
    # THEN every user is back, typed as it was, and the view is rebuilt by the stream, in step
    assert f"{COUNT + 1} items written back to users" in up and "drift 0" in up, up
    assert count(client, "users") == COUNT + 1
    back = client.get_item(TableName="users", Key={"email": {"S": "odd@example.com"}})["Item"]
    assert back["photo"] == {"B": b"\x00\xffpng"} and sorted(back["scores"]["NS"]) == ["1", "2.5"]
    assert reconciliation.compare(client, "users", "users_by_location").total == 0
    assert count(client, "users_by_location") == COUNT + 1
    # AND the snapshot is gone once written back: a second up writes nothing over newer data
    client.put_item(TableName="users", Item={"email": {"S": "r00000@example.com"}, "state": {"S": "Iowa"},
                                             "city": {"S": "Ames"}})
    again = cli(env, "up")
    assert "written back" not in again
    assert client.get_item(TableName="users", Key={"email": {"S": "r00000@example.com"}})["Item"]["state"] == {"S": "Iowa"}


def test_down_discard_keeps_nothing(restartable):
    settings, env = restartable
    client = settings.client("dynamodb")
    batches.write_all(client, "users", batches.puts(users(10)))
    assert "forgot" not in cli(env, "down", "--discard")
    assert list(settings.run_dir.glob("snapshot/*.jsonl")) == []
    up = cli(env, "up")
    assert "written back" not in up and count(client, "users") == 0


def test_dev_running_survives_down_and_up(restartable):
    settings, env = restartable
    # GIVEN make dev running
    dev = subprocess.Popen([sys.executable, "-m", "ddblab", "dev", "--zip"], cwd=ROOT, env={**env, "PYTHONUNBUFFERED": "1"},
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list = []
    reader = threading.Thread(target=lambda: lines.extend(iter(dev.stdout.readline, "")), daemon=True)
    reader.start()
    said = lambda text: any(text in line for line in lines)  # noqa: E731 - one condition, named for the waits
    try:
        wait_for(lambda: said("watching"), "make dev watching", timeout=60)
        # WHEN the emulator is stopped (make down), then started again (make up)
        cli(env, "down")
        wait_for(lambda: said("stopped answering: waiting for it and the stack to come back"),
                 "make dev saying it waits", timeout=60)
        cli(env, "up")
        # THEN make dev is still there, and watching the stack again
        wait_for(lambda: said("the stack is back"), "make dev watching again", timeout=60)
        assert dev.poll() is None, "".join(lines)
    finally:
        dev.terminate()
        dev.wait(timeout=30)
