"""Two emulators side by side (make up on 4566, and on 4580 or 4581) keep their own pid file,
log and snapshot, so make down on one endpoint stops and saves only what runs there."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ddblab.core.settings import Settings, per_port
from ddblab.core.waiting import wait_for
from ddblab.data import snapshot
from ddblab.emulator.lifecycle import down
from ddblab.emulator.localstack_host import LocalStackHost
from ddblab.emulator.ministack import MiniStack


def settings(port: int, run_dir) -> Settings:
    return Settings.from_env(endpoint_url=f"http://localhost:{port}", run_dir=run_dir)


def test_run_file_names_keep_the_documented_ones_on_the_default_port():
    assert per_port("ministack.log", 4566) == "ministack.log"
    assert per_port("ministack.log", 4580) == "ministack-4580.log"
    assert per_port("snapshot", 4581) == "snapshot-4581"


def test_each_endpoint_has_its_own_pid_file_log_home_and_snapshot(tmp_path):
    default, other = settings(4566, tmp_path), settings(4580, tmp_path)
    assert MiniStack(default).pid_file == tmp_path / "ministack.pid"
    assert MiniStack(other).pid_file == tmp_path / "ministack-4580.pid"
    assert other.ministack_log == MiniStack(other).log_file == tmp_path / "ministack-4580.log"
    assert LocalStackHost(default).home == tmp_path / "localstack-host"
    assert LocalStackHost(other).home == tmp_path / "localstack-host-4580"
    assert snapshot.folder(default) == tmp_path / "snapshot"
    assert snapshot.folder(other) == tmp_path / "snapshot-4580"


@pytest.fixture
def stand_in():
    """A process standing in for an emulator make up started (its environment as given),
    stopped by the test through make down, or killed at the end if it was not."""
    started = []

    def start(env: dict | None = None) -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True,
                                   env={**os.environ, **(env or {})})
        started.append(process)
        return process
    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, 9)


def stopped_by_down_on_4580(process, tmp_path, capsys) -> None:
    """make down on 4581 leaves the process, make down on 4580 stops it."""
    down(settings(4581, tmp_path))
    assert capsys.readouterr().out.strip() == "backend: nothing started by make up is running"
    assert process.poll() is None
    down(settings(4580, tmp_path))
    assert "backend: ministack stopped" in capsys.readouterr().out
    wait_for(lambda: process.poll() is not None, "the stand-in to stop", timeout=10)


def test_down_on_one_endpoint_leaves_the_emulator_on_another_running(tmp_path, capsys, stand_in):
    # GIVEN a process standing in for the MiniStack make up started on port 4580
    process = stand_in()
    (tmp_path / "ministack-4580.pid").write_text(str(process.pid))
    # THEN make down on 4581, where nothing was started, stops nothing and says so; on 4580 it stops it
    stopped_by_down_on_4580(process, tmp_path, capsys)


def test_localstack_in_docker_runs_once_per_checkout(tmp_path):
    from ddblab.core.settings import UserError
    from ddblab.emulator import localstack
    # GIVEN make up started LocalStack in Docker on 4566 from this checkout
    (tmp_path / "backend").write_text("localstack 4566")
    # THEN it belongs to 4566 alone: make down on 4580 leaves it, and a second start is refused
    assert localstack.started_here(settings(4566, tmp_path)) and not localstack.started_here(settings(4580, tmp_path))
    assert localstack.stop(settings(4580, tmp_path)) is False and (tmp_path / "backend").exists()
    with pytest.raises(UserError, match=r"already runs for this checkout on port 4566 .*EMULATOR=ministack"):
        localstack.start(settings(4580, tmp_path))
    # AND a marker written before markers named their port means the default port
    (tmp_path / "backend").write_text("localstack")
    assert localstack.started_on(settings(4580, tmp_path)) == 4566


def test_down_finds_a_ministack_started_for_its_port_before_run_files_were_named_by_port(tmp_path, capsys, stand_in):
    # GIVEN a process started for port 4580 (its environment says so) under the old pid file name
    process = stand_in({"GATEWAY_PORT": "4580"})
    (tmp_path / "ministack.pid").write_text(str(process.pid))
    # THEN make logs and doctor read the log it writes, the unnumbered one
    assert settings(4580, tmp_path).ministack_log == tmp_path / "ministack.log"
    assert settings(4581, tmp_path).ministack_log == tmp_path / "ministack-4581.log"
    # AND make down on another port leaves it, and make down on 4580 stops it
    stopped_by_down_on_4580(process, tmp_path, capsys)


def test_localstack_on_the_host_started_for_its_port_before_run_files_were_named_by_port_keeps_its_home(tmp_path,
                                                                                                         stand_in):
    # GIVEN a process started for port 4580 (its environment says so) under the old home's pid file
    process = stand_in({"GATEWAY_LISTEN": "127.0.0.1:4580"})
    (tmp_path / "localstack-host").mkdir()
    (tmp_path / "localstack-host" / "localstack.pid").write_text(str(process.pid))
    # THEN the runtime on 4580 is found in that home, and one on another port gets a home of its own
    assert LocalStackHost(settings(4580, tmp_path)).home == tmp_path / "localstack-host"
    assert LocalStackHost(settings(4581, tmp_path)).home == tmp_path / "localstack-host-4581"


def test_make_down_keeps_every_stacks_users_table_not_only_its_own():
    from ddblab.data import snapshot

    class FakeDynamoDB:
        streams = {"users": True, "dev1-users": True, "users_by_location": False, "dev1-users_by_location": False,
                   "plain-users": False}  # a users-named table without a stream is no stack's

        def get_paginator(self, operation):
            assert operation == "list_tables"
            tables = sorted(self.streams)

            class Pages:
                def paginate(self):
                    yield {"TableNames": tables}
            return Pages()

        def describe_table(self, TableName):
            return {"Table": {"StreamSpecification": {"StreamEnabled": self.streams[TableName]}}}

    assert snapshot.stack_prefixes(FakeDynamoDB()) == ["", "dev1-"]
    assert (snapshot.prefix_of("dev1-users"), snapshot.prefix_of("users"), snapshot.prefix_of("state_counts")) == \
        ("dev1-", "", None)
