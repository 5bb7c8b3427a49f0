"""make test's workers when TEST_WORKERS is not given: the whole suite or a folder on four, test
files named in ARGS in the test process itself unless their tests took 30 s or more last time."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from tests.conftest import pytest_xdist_auto_num_workers


@pytest.fixture
def root(tmp_path):
    """A checkout with three test files, and the durations the last runs recorded."""
    for name in ("test_small.py", "test_slow.py", "test_other.py"):
        (tmp_path / "tests" / "integration").mkdir(parents=True, exist_ok=True)
        (tmp_path / "tests" / "integration" / name).write_text("")
    cache = tmp_path / ".pytest_cache" / "v" / "ddblab"
    cache.mkdir(parents=True)
    (cache / "durations").write_text(json.dumps({
        "tests/integration/test_small.py::test_a": 2.5, "tests/integration/test_small.py::test_b": 3.0,
        "tests/integration/test_slow.py::test_a": 20.0, "tests/integration/test_slow.py::test_b[x]": 19.0,
        "tests/integration/test_other.py::test_a": 12.0}))
    return tmp_path


def config(root, *args):
    return SimpleNamespace(args=list(args), args_source=pytest.Config.ArgsSource.ARGS if args else
                           pytest.Config.ArgsSource.TESTPATHS, invocation_params=SimpleNamespace(dir=root),
                           rootpath=root, getini=lambda name: {"cache_dir": ".pytest_cache"}[name])


def test_workers_whole_suite_or_a_folder_on_four(root):
    assert pytest_xdist_auto_num_workers(config(root)) == 4
    assert pytest_xdist_auto_num_workers(config(root, "tests/integration")) == 4


def test_workers_none_for_files_whose_tests_took_under_30_s(root):
    # 5.5 s last time: a worker's start would cost more than it saves
    assert pytest_xdist_auto_num_workers(config(root, "tests/integration/test_small.py")) == 0
    assert pytest_xdist_auto_num_workers(config(root, "tests/integration/test_small.py::test_a")) == 0
    # 5.5 + 12 s, two files
    assert pytest_xdist_auto_num_workers(config(root, "tests/integration/test_small.py",
                                                "tests/integration/test_other.py")) == 0


def test_workers_never_run_before_count_as_short(root):
    (root / "tests" / "integration" / "test_new.py").write_text("")
    assert pytest_xdist_auto_num_workers(config(root, "tests/integration/test_new.py")) == 0


def test_workers_one_per_file_at_least_two_once_the_tests_took_30_s(root):
    # 39 s in one file: two workers; 39 + 5.5 + 12 s in three files: three
    assert pytest_xdist_auto_num_workers(config(root, "tests/integration/test_slow.py")) == 2
    assert pytest_xdist_auto_num_workers(config(root, "tests/integration/test_slow.py", "tests/integration/test_small.py",
                                                "tests/integration/test_other.py")) == 3


def test_workers_count_only_the_tests_named_in_a_file(root):
    # one slow test named: 20 s of the file's 39, and one test runs in one process anyway
    assert pytest_xdist_auto_num_workers(config(root, "tests/integration/test_slow.py::test_a")) == 0
    # a parametrized test named by its function: its cases (19 s) count, the file's other test does not
    assert pytest_xdist_auto_num_workers(config(root, "tests/integration/test_slow.py::test_b",
                                                "tests/integration/test_small.py")) == 0
    # two slow tests named: 20 + 19 s, on two workers
    assert pytest_xdist_auto_num_workers(config(root, "tests/integration/test_slow.py::test_a",
                                                "tests/integration/test_slow.py::test_b")) == 2
