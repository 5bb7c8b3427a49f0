"""The pytest plugin of ddblab.testing (see there): fixtures for a live stack of a test's own."""
from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path

import pytest

# Handlers make their boto3 clients at import: a region and (dummy) keys let any test module
# that imports one collect, whatever the environment. Set only where unset.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")  # pragma: allowlist secret - the emulators take any key


@pytest.fixture(scope="session")
def lab_backend(request, tmp_path_factory):
    """Settings for the emulator answering at AWS_ENDPOINT_URL (make up), or for a MiniStack
    started on a free port for the session and stopped afterwards. Inside this project, the
    integration tests' own backend is used (backend_settings)."""
    try:
        yield request.getfixturevalue("backend_settings")
        return
    except pytest.FixtureLookupError:
        pass
    from ddblab.core.settings import Settings
    from ddblab.emulator.health import free_port, health
    from ddblab.emulator.ministack import MiniStack
    settings = Settings.from_env()
    if health(settings.endpoint_url) is not None:
        yield settings
        return
    port = free_port()
    settings = Settings.from_env(endpoint_url=f"http://127.0.0.1:{port}", run_dir=Path(tmp_path_factory.mktemp("lab")))
    ministack = MiniStack(settings, port=port, tag="ministack-lab")
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)  # a SIGTERM still stops it
    ministack.start()
    try:
        yield settings
    finally:
        ministack.stop()
        signal.signal(signal.SIGTERM, previous)


def _own_stack(settings, prefix: str):
    from ddblab import stack
    from ddblab.stack.deployed import Deployed
    own = settings.sub(prefix)
    stack.converge(own)
    try:
        yield Deployed(own)
    finally:
        stack.remove(own)


@pytest.fixture
def lab_stack(lab_backend):
    """A stack of this test's own (every name prefixed t<random>-: tables, functions, queues,
    the API), converged from the stack description, removed after the test."""
    yield from _own_stack(lab_backend, f"t{uuid.uuid4().hex[:6]}-")


@pytest.fixture(scope="session")
def lab_session_stack(lab_backend):
    """One stack of the session's own (prefixed s<random>-), removed at the end."""
    yield from _own_stack(lab_backend, f"s{uuid.uuid4().hex[:6]}-")


@pytest.fixture
def lab_email() -> str:
    """A key of this test's own, so tests never depend on each other's data."""
    return f"t-{uuid.uuid4().hex[:12]}@example.com"
