"""ddblab new consumer: the files and the one line it writes, and the names it refuses
without changing anything."""
from pathlib import Path

import pytest

from ddblab.core.settings import ROOT
from ddblab.stack.consumers import declared_now
from ddblab.stack.reload import Reload
from ddblab.stack.scaffold import ConsumerRefused, NewConsumer
from tests.builtin import ADDED, ADDED_MODULES, built_in_source


@pytest.fixture
def root(tmp_path) -> Path:
    """A project tree with what the command reads and writes: handlers/, tests/, consumers.py
    (as the project ships it: without the consumers a user added here)."""
    for folder in ("handlers", "tests/unit", "tests/integration", "ddblab/stack"):
        (tmp_path / folder).mkdir(parents=True)
    shipped = built_in_source((ROOT / "ddblab/stack/consumers.py").read_text())
    (tmp_path / "ddblab/stack/consumers.py").write_text(shipped)
    assert declared_now(tmp_path / "ddblab/stack/consumers.py") == {"replicate", "audit"}
    (tmp_path / "handlers/audit.py").write_text("# audit\n")
    return tmp_path


def snapshot(root: Path) -> dict:
    return {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}


# stdlib + boto3, and the modules zipped with every function (ddblab.stack.code.SHARED_MODULES)
ALLOWED_IMPORTS = ("__future__", "json", "boto3", "botocore", "environment", "log_lines", "projection")


def test_new_consumer_writes_handler_tests_and_one_line(root):
    # GIVEN the project as it is
    before = (root / "ddblab/stack/consumers.py").read_text()
    # WHEN a consumer is added
    written = NewConsumer("state_counts", "state", root=root).write()
    # THEN its handler and tests are written, and the description gains exactly one line
    assert [str(p) for p in written] == ["handlers/state_counts.py", "tests/unit/test_state_counts.py",
                                         "tests/integration/test_state_counts_live.py", "ddblab/stack/consumers.py"]
    after = (root / "ddblab/stack/consumers.py").read_text()
    added = [line for line in after.splitlines() if line not in before.splitlines()]
    assert added == ['    Consumer("state_counts", index="state"),']
    assert declared_now(root / "ddblab/stack/consumers.py") == {"replicate", "audit", "state_counts"}
    handler = (root / "handlers/state_counts.py").read_text()
    assert "projection.error_code(error)" in handler and ".response.get(" not in handler
    assert "__NAME__" not in handler and '{"state_counts": {log_lines.RECORDS: len(records)' in handler
    compile(handler, "state_counts.py", "exec")
    assert "import boto3" in handler and not [line for line in handler.splitlines()
                                               if line.startswith(("import ", "from ")) and line.split()[1].split(".")[0]
                                               not in ALLOWED_IMPORTS]


@pytest.mark.parametrize("name, index, reason", [
    ("State", None, "'State' is not a consumer name: 2 to 40 characters, lower-case letters, digits and _, starting with "
                    "a letter (it names a handler module, a function and a table)"),
    ("x", None, "'x' is not a consumer name"),
    ("state-counts", None, "'state-counts' is not a consumer name"),
    ("json", None, "'json' is taken by Python (its handler module would shadow a module): choose another name"),
    ("users_by_location", None, "'users_by_location' is taken by the stack itself (its function and table are named "
                                "after it): choose another name"),
    ("users", None, "'users' is taken by the stack itself"),
    ("projection", None, "'projection' is taken by Python (its handler module would shadow a module)"),
    ("replicate", None, "replicate is a consumer already (ddblab/stack/consumers.py)"),
    ("audit", None, "audit is a consumer already"),
    ("counts", "email", "--index 'email': an attribute name (letters, digits, _), other than email and sequence"),
    ("counts", "a b", "--index 'a b': an attribute name"),
    ("counts", "", "--index '': an attribute name"),
])
def test_new_consumer_refuses_bad_or_taken_names_and_changes_nothing(root, name, index, reason):
    before = snapshot(root)
    with pytest.raises(ConsumerRefused) as refused:
        NewConsumer(name, index, root=root).write()
    assert reason in str(refused.value)
    assert snapshot(root) == before


@pytest.mark.parametrize("mine, taken", [
    ("handlers/counts.py", "handlers/counts.py"),  # a module of the same name
    ("handlers/counts/__init__.py", "handlers/counts"),  # a package of the same name
], ids=["file", "package"])
def test_new_consumer_refuses_a_handler_that_exists(root, mine, taken):
    # GIVEN handler code of the user's own under the new consumer's name
    (root / mine).parent.mkdir(exist_ok=True)
    (root / mine).write_text("# mine\n")
    before = snapshot(root)
    # WHEN a consumer of that name is added THEN it is refused and nothing changes
    with pytest.raises(ConsumerRefused) as refused:
        NewConsumer("counts", root=root).write()
    assert f"{taken} exists already: remove it or choose another name" in str(refused.value)
    assert snapshot(root) == before


def test_dev_save_of_a_handler_no_function_uses_says_what_to_run():
    # a handler module no line of consumers.py names (state_counts is the README's: a user may have added it)
    name = next(n for n in ("state_counts", "mailer", "mailer_2") if n not in ADDED_MODULES)
    line = Reload((f"{name}.py",)).line()
    assert line.endswith(f'{name}.py: used by no function - a new consumer? add the line Consumer("{name}"), '
                         "to ddblab/stack/consumers.py (or start from the template: make consumer NAME=...), then: "
                         "make bootstrap")
    assert Reload(("audit.py",)).line().endswith("audit.py: in the stack description, but its function is not "
                                                 "deployed yet - run: make bootstrap")


def test_tools_list_every_function_of_the_stack_description():
    # GIVEN the stack description's functions (the API's, then each consumer's, in order)
    from ddblab.commands import invoke, logs, outputs
    from ddblab.stack.consumers import function_modules
    # (the built-in ones, then one per consumer a user added with make consumer)
    assert function_modules() == ("users_api", "replicate", "audit", *ADDED_MODULES)
    # THEN logs colours each by position, invoke offers each, outputs names each consumer's table
    assert list(logs.COLOURS) == ["users_api", "replicate", "audit", *ADDED_MODULES]
    assert list(logs.COLOURS.values())[:3] == ["cyan", "green", "magenta"]
    assert invoke.FUNCTIONS == ("users_api", "replicate", "audit", *ADDED_MODULES)
    assert {name for name in outputs.OUTPUTS if name.endswith("_table")} == {
        "users_table", "target_table", *(f"{c.module}_table" for c in ADDED if c.view)}
