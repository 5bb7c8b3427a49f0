"""Says in pytest's header which backend the integration tests will use. (The region and dummy
keys a test module importing a handler needs are set by the package's pytest plugin,
ddblab/testing/plugin.py, so any file collects alone: make test ARGS=tests/integration/<file>.)"""
from __future__ import annotations

import os

from ddblab.core.settings import Settings
from ddblab.emulator.health import health


def pytest_report_header(config):
    settings = Settings.from_env()
    if os.environ.get("TEST_BACKEND") == "localstack":
        return f"integration backend: LocalStack ({settings.localstack_image}) through testcontainers"
    if os.environ.get("TEST_BACKEND") == "localstack-host":
        return "integration backend: LocalStack 4.14.0's runtime on the host (DynamoDB by moto, functions as host processes)"
    if health(settings.endpoint_url) is not None:
        return f"integration backend: the emulator answering at {settings.endpoint_url}"
    return "integration backend: an embedded MiniStack on a free port (nothing answers at " \
           f"{settings.endpoint_url}), stopped afterwards"
