"""What LocalStack 4.14 does that the project must cope with, each read from its source at the
tag (paths inside localstack-core/localstack/) and proven here against fakes, since no Docker
engine runs on these machines."""
from __future__ import annotations

import subprocess
from types import SimpleNamespace

import pytest
from botocore.exceptions import WaiterError

from ddblab.core import settings as settings_module
from ddblab.core.aws import mappings_of
from ddblab.core.settings import Settings, UserError
from ddblab.emulator import localstack
from ddblab.emulator.health import free_port
from ddblab.stack.converge import functions

ARN = "arn:aws:lambda:us-east-1:000000000000:function:"


class SubstringLambda:
    """ListEventSourceMappings as LocalStack answers it: `function_name in FunctionArn`
    (services/lambda_/provider.py, list_event_source_mappings)."""

    def __init__(self, functions):
        self.mappings = [{"UUID": f"u-{name}", "FunctionArn": ARN + name} for name in functions]

    def get_paginator(self, operation):
        assert operation == "list_event_source_mappings"
        return SimpleNamespace(paginate=lambda FunctionName: [
            {"EventSourceMappings": [m for m in self.mappings if FunctionName in m["FunctionArn"]]}])


def test_mappings_of_substring_matches_filtered_to_exact_function():
    # GIVEN a backend holding mappings of replicate and of functions whose names contain it
    lam = SubstringLambda(["replicate", "test-replicate", "bench-fold-replicate", "dev1-replicate", "replicate-x"])
    # WHEN the mappings of replicate are asked for, THEN only its own come back
    assert [m["UUID"] for m in mappings_of(lam, "replicate")] == ["u-replicate"]
    assert [m["UUID"] for m in mappings_of(lam, "dev1-replicate")] == ["u-dev1-replicate"]


class FailingLambda:
    def __init__(self, configuration):
        self.configuration = configuration

    def get_waiter(self, name):
        def wait(**kwargs):
            raise WaiterError(name=name, reason="Waiter encountered a terminal failure state", last_response={})
        return SimpleNamespace(wait=wait)

    def get_function(self, FunctionName):
        return {"Configuration": self.configuration}


def test_function_failed_to_start_on_localstack_reported_with_state_reason_and_what_to_run():
    # GIVEN a function LocalStack set to Failed (a runtime image it could not pull)
    ctx = SimpleNamespace(backend="localstack", lam=FailingLambda({
        "State": "Failed", "StateReason": "Error while creating lambda: pull access denied", "LastUpdateStatus": "Failed"}))
    # WHEN the bootstrap waits for it, THEN the user reads state, reason, the image and what to run
    with pytest.raises(UserError) as raised:
        functions.wait(ctx, "replicate", "function_active_v2", first_start=True)
    message = str(raised.value)
    assert "State Failed: Error while creating lambda: pull access denied" in message
    assert "public.ecr.aws/lambda/python:3.12" in message
    assert "lambda delete-function --function-name replicate" in message and "make bootstrap" in message


def test_function_first_start_on_localstack_allowed_ten_minutes():
    # GIVEN a function still Pending when the waiter gives up (a slow first image pull)
    seen = {}

    class Pending(FailingLambda):
        def get_waiter(self, name):
            def wait(FunctionName, WaiterConfig):
                seen.update(WaiterConfig)
                raise WaiterError(name=name, reason="Max attempts exceeded", last_response={})
            return SimpleNamespace(wait=wait)
    ctx = SimpleNamespace(backend="localstack", lam=Pending({"State": "Pending", "StateReason": "Creating"}))
    with pytest.raises(UserError, match="did not become ready after 600 s .State Pending: Creating"):
        functions.wait(ctx, "audit", "function_active_v2", first_start=True)
    assert seen == {"Delay": 1, "MaxAttempts": 600}


def _failed_compose(state: str, log: str):
    def compose(*args, capture=False, port=None):
        if args[0] == "up":
            assert port is not None  # compose publishes the endpoint's port
            return subprocess.CompletedProcess(args, 1)
        out = state if args[0] == "ps" else log
        return subprocess.CompletedProcess(args, 0, stdout=out, stderr="")
    return compose


@pytest.fixture
def localstack_settings(tmp_path, monkeypatch):
    monkeypatch.setattr(localstack, "docker_answers", lambda: True)
    monkeypatch.setattr(localstack.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0))
    return Settings.from_env(endpoint_url=f"http://127.0.0.1:{free_port()}", emulator="localstack", run_dir=tmp_path)


@pytest.mark.parametrize("state, log, expected", [
    ("exited 55", "", "refused to start without an auth token"),
    ("created 0", "Error: Bind for 127.0.0.1:4566 failed: port is already allocated", "is taken on the Docker host"),
    ("exited 1", "Error response from daemon: pull access denied\nsomething else", "container: exited 1"),
])
def test_localstack_failed_start_leaves_marker_and_says_why(localstack_settings, monkeypatch, state, log, expected):
    # GIVEN compose up fails for one reason or another
    monkeypatch.setattr(localstack, "compose", _failed_compose(state, log))
    # WHEN make up starts LocalStack, THEN the message follows the container's state and log
    with pytest.raises(UserError, match=expected) as raised:
        localstack.start(localstack_settings)
    assert "make down; make up" in str(raised.value)
    if "auth token" not in expected:
        assert "auth token" not in str(raised.value)
    # AND make down can stop what was half started (the marker was written before compose up)
    assert localstack.started_here(localstack_settings)


def test_localstack_down_after_failed_up_stops_compose(localstack_settings, monkeypatch):
    calls = []
    failed = _failed_compose("exited 1", "")
    monkeypatch.setattr(localstack, "compose", lambda *args, **kw: calls.append(args) or failed(*args, **kw))
    with pytest.raises(UserError):
        localstack.start(localstack_settings)
    assert localstack.stop(localstack_settings)
    assert ("stop", "--timeout", "30", "localstack") in calls and ("down", "--remove-orphans") in calls
    assert not localstack.started_here(localstack_settings)


@pytest.mark.parametrize("addresses, local", [
    (["127.0.0.1"], True), (["172.18.0.2"], True), (["::1"], True),
    (["93.184.216.34"], False), (["172.18.0.2", "93.184.216.34"], False), ([], False),
])
def test_settings_emulator_name_local_only_where_it_resolves_locally(monkeypatch, addresses, local):
    # GIVEN `localstack` resolving to these addresses (a compose network, or somewhere else)
    monkeypatch.setattr(settings_module.socket, "getaddrinfo",
                        lambda host, port: [(None, None, None, "", (a, 0)) for a in addresses])
    monkeypatch.delenv("ALLOW_REMOTE_ENDPOINT", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localstack:4566")
    # THEN it is taken as local only when every address is loopback or private, and a refusal says why
    if local:
        assert Settings.from_env().is_local
    else:
        with pytest.raises(UserError, match="localstack does not resolve to a loopback or Docker network address"):
            Settings.from_env()
