"""Says in pytest's header which backend the integration tests will use. Sets a region and
dummy keys for the whole run: handlers make their clients at import, so a test module that
imports one (any file alone, `make test ARGS=tests/integration/<file>`) needs them to collect."""
from __future__ import annotations

import os

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")  # pragma: allowlist secret - the emulators take any key

from ddblab.core.settings import Settings
from ddblab.emulator.health import health


def pytest_report_header(config):
    settings = Settings.from_env()
    if os.environ.get("TEST_BACKEND") == "localstack":
        return f"integration backend: LocalStack ({settings.localstack_image}) through testcontainers"
    if health(settings.endpoint_url) is not None:
        return f"integration backend: the emulator answering at {settings.endpoint_url}"
    return "integration backend: an embedded MiniStack on a free port (nothing answers at " \
           f"{settings.endpoint_url}), stopped afterwards"
