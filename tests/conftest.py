"""Says in pytest's header which backend the integration tests will use. (The region and dummy
keys a test module importing a handler needs are set by the package's pytest plugin,
ddblab/testing/plugin.py, so any file collects alone: make test ARGS=tests/integration/<file>.)"""
from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from ddblab.core.settings import Settings
from ddblab.emulator.health import health

# Hypothesis profiles: HYPOTHESIS_PROFILE=dev for a quick look while editing (a fifth of the
# examples where a test does not set its own count); make test and CI run "ci", the default,
# with the counts the tests were written with (100, or the test's own), never fewer.
PROFILES = {"ci": dict(max_examples=100, print_blob=True), "dev": dict(max_examples=20)}


def pytest_configure(config):
    profile = os.environ.get("HYPOTHESIS_PROFILE", "ci")
    if profile not in PROFILES:
        raise pytest.UsageError(f"HYPOTHESIS_PROFILE={profile} is not one of {', '.join(PROFILES)}")
    for name, values in PROFILES.items():
        hypothesis_settings.register_profile(name, **values)
    hypothesis_settings.load_profile(profile)


# make test's workers when TEST_WORKERS is not given (make passes -n auto). Each worker costs
# a Python start and, for integration tests, a stack (or an embedded MiniStack) of its own:
# about 10 s of wall time on these 2 cores, which the whole suite wins back many times over
# (its integration tests mostly wait on the emulator) and a short run does not (measured:
# README "How fast"). So the whole suite, or a folder, runs on DEFAULT_WORKERS; test files
# named on the command line run in the test process itself, unless their tests took
# WORKERS_PAY_OFF seconds or more in the last run that ran them: then on one worker per
# file, at least two, at most DEFAULT_WORKERS.
DEFAULT_WORKERS = 4
WORKERS_PAY_OFF = 30.0


def named_tests(config) -> list | None:
    """What the command line names: test files, or tests in them (file::test), relative to the
    root; None when it names none, or a folder (the whole suite: testpaths)."""
    args = config.args if config.args_source == pytest.Config.ArgsSource.ARGS else []
    named = []
    for arg in args:
        file, _, test = arg.partition("::")
        path = (config.invocation_params.dir / file).resolve()
        if not path.is_file():
            return None
        relative = str(path.relative_to(config.rootpath)) if path.is_relative_to(config.rootpath) else str(path)
        named.append(f"{relative}::{test}" if test else relative)
    return sorted(set(named)) or None


def last_seconds(config, named: list) -> float:
    """How long the named tests (a file: all of its tests) took in the last run that ran them
    (0 when none did)."""
    durations = Path(config.rootpath, config.getini("cache_dir"), "v", *DURATIONS.split("/"))
    try:
        last = json.loads(durations.read_text())
    except (OSError, ValueError):
        return 0.0
    return sum(seconds for nodeid, seconds in last.items()
               if any(nodeid == name or nodeid.startswith((name + "::", name + "[")) for name in named))


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_auto_num_workers(config):
    named = named_tests(config)
    if named is None:
        return DEFAULT_WORKERS
    if last_seconds(config, named) < WORKERS_PAY_OFF or (len(named) == 1 and "::" in named[0]):
        return 0  # one test named runs in one process whatever it took: a second worker would wait
    return max(2, min(len(named), DEFAULT_WORKERS))


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



DURATIONS = "ddblab/durations"  # in pytest's cache (.pytest_cache): each test's time in the last run
SECONDS: dict = {}


def pytest_collection_modifyitems(config, items):
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # make test's workers are handed the longest tests first (as long as the last run said;
        # the integration tests, which mostly wait on the emulator, before the unit tests), and
        # the short ones fill the gaps at the end: a long test handed out last would keep the
        # run going alone. Every worker reads the same file and sorts alike.
        cache = getattr(config, "cache", None)
        last = cache.get(DURATIONS, {}) if cache else {}
        items.sort(key=lambda item: (not item.nodeid.startswith("tests/integration/"), -last.get(item.nodeid, 0)))
    # make test's workers (pytest-xdist) schedule tests by id: of tests sharing one, only one
    # would run while all were counted (schemathesis' per-operation tests did, under pytest 9).
    repeated = sorted(nodeid for nodeid, n in Counter(item.nodeid for item in items).items() if n > 1)
    if repeated:
        raise pytest.UsageError(f"tests sharing an id (workers would run only one of each): {', '.join(repeated)}")


def pytest_runtest_logreport(report):
    # The id without the "@<module>" pytest-xdist adds to the tests it keeps on one worker.
    nodeid = report.nodeid.removesuffix("@" + report.nodeid.split("::")[0])
    SECONDS[nodeid] = SECONDS.get(nodeid, 0) + report.duration


def pytest_sessionfinish(session):
    cache = getattr(session.config, "cache", None)
    if SECONDS and cache and not os.environ.get("PYTEST_XDIST_WORKER"):
        cache.set(DURATIONS, {**cache.get(DURATIONS, {}), **{k: round(v, 2) for k, v in SECONDS.items()}})
