"""A live backend for the integration tests, and the stack converged on it.

Uses the emulator that answers on AWS_ENDPOINT_URL (make up), or starts an embedded
MiniStack on a free port and stops it afterwards. TEST_BACKEND=localstack runs LocalStack
4.14.0 through testcontainers instead (needs a Docker engine: a clear failure without one,
never a skip); TEST_BACKEND=localstack-host runs LocalStack 4.14.0's own runtime on the host
(the one `EMULATOR=localstack-host make up` started, or an instance of the session's own).
REQUIRE_EMBEDDED=1 (.ci/run's embedded lane) fails the run when an emulator
already answers, instead of using it. The summary names the backend used.
"""
from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path

import pytest

from ddblab import stack
from ddblab.core.kinds import Backend
from ddblab.core.settings import Settings
from ddblab.emulator.health import answering, docker_answers, free_port, health, is_host_runtime
from ddblab.emulator.localstack_host import LocalStackHost
from ddblab.emulator.ministack import MiniStack
from ddblab.stack.deployed import Deployed
from tests.compose import localstack_environment

USED = {}  # which backend the session fixture used, for the summary
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1, ... under make test's workers (pytest-xdist)
# The run's id, the same on each of its workers: two runs on one emulator (the whole suite, and
# one file run beside it) never share a worker's stack.
RUN = os.environ.get("PYTEST_XDIST_TESTRUNUID", "")[:4]


def pytest_terminal_summary(terminalreporter):
    # Under workers each one used a backend of its own choosing: the controller has their reports.
    for line in sorted(set(USED.get("lines", [])) or ([_used_line(USED)] if USED else [])):
        terminalreporter.write_line(line)


def _used_line(used: dict) -> str:
    return f"integration backend: {used['backend']} on {used['endpoint']}"


def pytest_sessionfinish(session):
    if WORKER and USED and hasattr(session.config, "workeroutput"):
        session.config.workeroutput["integration_backend"] = _used_line(USED)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    line = getattr(node, "workeroutput", {}).get("integration_backend")
    if line:
        USED.setdefault("lines", []).append(line)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups (it runs on each worker)
def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
        # A module-scoped fixture (a MiniStack of the module's own, a stack the module's tests
        # share) is built once per worker that runs the module: keep such a module on one worker.
        info = getattr(item, "_fixtureinfo", None)
        scopes = {d.scope for defs in info.name2fixturedefs.values() for d in defs} if info else set()
        if scopes & {"module", "class", "package"}:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


@pytest.fixture(scope="session")
def backend_settings(tmp_path_factory):
    wanted = os.environ.get("TEST_BACKEND", "auto")
    # The tests converge a stack of their own (names prefixed test-): on an emulator you
    # started with make up, they never touch your users, queues or functions. Each worker of
    # make test has a prefix of its own (test-gw0<run>-, ...), so workers never share a resource;
    # with none answering, each worker starts an embedded MiniStack of its own.
    base = Settings.from_env(prefix=Settings.from_env().prefix + "test-" + (f"{WORKER}{RUN}-" if WORKER else ""))
    if wanted == "localstack":
        if not docker_answers():
            pytest.exit("TEST_BACKEND=localstack needs a Docker engine and none answers (docker info failed) - "
                        "start Docker, or run make test without TEST_BACKEND", returncode=1)
        yield from _localstack(base)
        return
    if wanted == Backend.LOCALSTACK_HOST:
        yield from _localstack_host(base, tmp_path_factory)
        return
    if wanted == "auto" and health(base.endpoint_url) is not None:
        name = answering(base.endpoint_url)
        if os.environ.get("REQUIRE_EMBEDDED") == "1":
            pytest.exit(f"REQUIRE_EMBEDDED=1, but {name} already answers on {base.endpoint_url}: the tests would "
                        "run on it, not on the embedded MiniStack - stop it (make down), or unset REQUIRE_EMBEDDED",
                        returncode=1)
        USED.update(backend=f"{name} (already answering)", endpoint=base.endpoint_url)
        yield base
        return
    settings = _own_endpoint(base, tmp_path_factory, "ministack")
    yield from _running(MiniStack(settings, port=settings.port), settings, "embedded MiniStack")


HOST_LABEL = "LocalStack 4.14.0 on the host (DynamoDB by moto, functions as host processes)"


def _localstack_host(base: Settings, tmp_path_factory):
    """The LocalStack make up started on the host if it answers, else one of the session's own."""
    if is_host_runtime(health(base.endpoint_url)):
        USED.update(backend=f"{HOST_LABEL} (already answering)", endpoint=base.endpoint_url)
        yield base
        return
    settings = _own_endpoint(base, tmp_path_factory, "localstack-host")
    yield from _running(LocalStackHost(settings, port=settings.port), settings, HOST_LABEL)


def _own_endpoint(base: Settings, tmp_path_factory, name: str) -> Settings:
    run_dir = Path(tmp_path_factory.mktemp(name))
    return Settings.from_env(endpoint_url=f"http://127.0.0.1:{free_port()}", run_dir=run_dir, prefix=base.prefix)


def _running(emulator, settings: Settings, label: str):
    """An emulator of the session's own, started and, whatever happens, stopped."""
    # A SIGTERM (a CI timeout, `timeout make test`) would end pytest without teardown and
    # leave the emulator running on its own; as an interrupt, pytest still stops it.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    emulator.start()
    USED.update(backend=label, endpoint=settings.endpoint_url)
    try:
        yield settings
    finally:
        emulator.stop()
        signal.signal(signal.SIGTERM, previous)


def _localstack(base: Settings):
    """LocalStack through testcontainers, with the environment docker-compose.yml gives it."""
    from testcontainers.community.localstack import LocalStackContainer

    container = LocalStackContainer(image=base.localstack_image, region_name=base.region)
    # The same settings as make up (function output in the log, native architecture, ...),
    # except the compose network: this container is on Docker's default one, which LocalStack
    # detects by itself.
    for name, value in localstack_environment().items():
        if name != "LAMBDA_DOCKER_NETWORK" and value:
            container.with_env(name, value)
    container.with_volume_mapping("/var/run/docker.sock", "/var/run/docker.sock", "rw")
    if not os.environ.get("DOCKER_HOST", "unix://").startswith("tcp://"):
        # Published on loopback only (docker-py takes (host ip, port); None picks a free port).
        container.ports[str(container.edge_port)] = ("127.0.0.1", None)
    container.start(timeout=180)  # a first run pulls the image and installs nothing else before "Ready."
    try:
        # The Docker host may be another machine (DOCKER_HOST): it is the user's own emulator still.
        USED.update(backend="LocalStack (testcontainers)", endpoint=container.get_url())
        yield Settings.from_env(endpoint_url=container.get_url(), prefix=base.prefix, allow_remote=True)
    finally:
        # testcontainers' stop() removes the container by force (SIGKILL): LocalStack would never
        # remove the Lambda containers it started. A docker stop sends SIGTERM first; LocalStack's
        # shutdown stops every function's container (bin/localstack-supervisor, runtime/shutdown.py,
        # services/lambda_/provider.py on_before_stop, invocation/docker_runtime_executor.py), each
        # within 5 s, so 30 s is enough before the removal.
        try:
            container.get_wrapped_container().stop(timeout=30)
        finally:
            container.stop()


@pytest.fixture(scope="session")
def converged(backend_settings):
    """The stack converged once for the session (the bootstrap's own test converges again),
    and removed at the end, so an emulator started with make up keeps only its own stack.
    Its queues start empty: a run stopped before its teardown leaves messages behind, and
    tests that collect their own messages must never meet an earlier run's."""
    report = stack.converge(backend_settings)
    sqs = backend_settings.client("sqs")
    for url in (report.outputs["quarantine_queue"], report.outputs["dlq"]):
        try:
            sqs.purge_queue(QueueUrl=url)
        except sqs.exceptions.PurgeQueueInProgress:
            pass  # purged in the last 60 s (AWS allows one purge a minute): that purge empties it
    yield report
    stack.remove(backend_settings)


@pytest.fixture(scope="session")
def live(backend_settings, converged) -> Deployed:
    return Deployed(backend_settings)


@pytest.fixture
def email():
    """A key of this test's own, so tests never depend on each other's data."""
    return f"t-{uuid.uuid4().hex[:12]}@example.com"


@pytest.fixture
def own(backend_settings) -> Deployed:
    """A converged stack of this test's own (names prefixed o<random>-), removed afterwards:
    for tests that break the stack on purpose or redeploy its code."""
    settings = backend_settings.sub(f"o{uuid.uuid4().hex[:5]}-")
    stack.converge(settings)
    yield Deployed(settings)
    stack.remove(settings)
