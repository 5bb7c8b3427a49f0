"""A live backend for the integration tests, and the stack converged on it.

Uses the emulator that answers on AWS_ENDPOINT_URL (make up), or starts an embedded
MiniStack on a free port and stops it afterwards. TEST_BACKEND=localstack runs LocalStack
4.14.0 through testcontainers instead (needs a Docker engine: a clear failure without one,
never a skip).
"""
from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path

import pytest

from ddblab import stack
from ddblab.core.settings import Settings
from ddblab.emulator.health import docker_answers, free_port, health
from ddblab.emulator.ministack import MiniStack
from ddblab.stack.deployed import Deployed


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def backend_settings(tmp_path_factory):
    wanted = os.environ.get("TEST_BACKEND", "auto")
    # The tests converge a stack of their own (names prefixed test-): on an emulator you
    # started with make up, they never touch your users, queues or functions.
    base = Settings.from_env(prefix=Settings.from_env().prefix + "test-")
    if wanted == "localstack":
        if not docker_answers():
            pytest.exit("TEST_BACKEND=localstack needs a Docker engine and none answers (docker info failed) - "
                        "start Docker, or run make test without TEST_BACKEND", returncode=1)
        from testcontainers.community.localstack import LocalStackContainer

        container = LocalStackContainer(image=base.localstack_image, region_name=base.region).with_services(
            "dynamodb", "dynamodbstreams", "lambda", "sqs", "iam", "apigateway", "logs", "sts",
            "cloudformation", "s3")  # test_cloudformation deploys the template from zips in S3
        container.with_volume_mapping("/var/run/docker.sock", "/var/run/docker.sock", "rw")
        if os.environ.get("LOCALSTACK_AUTH_TOKEN"):
            container.with_env("LOCALSTACK_AUTH_TOKEN", os.environ["LOCALSTACK_AUTH_TOKEN"])
        with container:
            # The Docker host may be another machine (DOCKER_HOST): it is the user's own emulator still.
            yield Settings.from_env(endpoint_url=container.get_url(), prefix=base.prefix, allow_remote=True)
        return
    if wanted == "auto" and health(base.endpoint_url) is not None:
        yield base
        return
    port = free_port()
    run_dir = Path(tmp_path_factory.mktemp("ministack"))
    settings = Settings.from_env(endpoint_url=f"http://127.0.0.1:{port}", run_dir=run_dir, prefix=base.prefix)
    ministack = MiniStack(settings, port=port)
    # A SIGTERM (a CI timeout, `timeout make test`) would end pytest without teardown and
    # leave MiniStack running on its own; as an interrupt, pytest still stops it.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    ministack.start()
    try:
        yield settings
    finally:
        ministack.stop()
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="session")
def converged(backend_settings):
    """The stack converged once for the session (the bootstrap's own test converges again),
    and removed at the end, so an emulator started with make up keeps only its own stack."""
    yield stack.converge(backend_settings)
    stack.remove(backend_settings)


@pytest.fixture(scope="session")
def live(backend_settings, converged) -> Deployed:
    return Deployed(backend_settings)


@pytest.fixture
def email():
    """A key of this test's own, so tests never depend on each other's data."""
    return f"t-{uuid.uuid4().hex[:12]}@example.com"
