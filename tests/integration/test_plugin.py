"""The pytest plugin shipped in the package (ddblab.testing): a stack of the test's own, the
replicated() helper, and the environment it sets so handler-importing modules collect."""
from __future__ import annotations

import os
import subprocess
import sys

from ddblab.core.aws import find
from ddblab.testing import replicated, user_image
from ddblab.testing.plugin import _own_stack


def test_plugin_lab_stack_is_the_tests_own_and_replicated_waits_for_the_view(lab_stack, lab_email):
    # GIVEN a stack of this test's own: every name carries a prefix of its own
    assert lab_stack.names.users.startswith(lab_stack.settings.prefix) and lab_stack.settings.prefix.split("-")[-2][0] == "t"
    # WHEN a user is written to its users table, then moved
    ddb, users = lab_stack.dynamodb, lab_stack.names.users
    ddb.put_item(TableName=users, Item=user_image(lab_email, "Ohio", "Dayton"))
    ddb.put_item(TableName=users, Item=user_image(lab_email, "Iowa", "Ames"))
    # THEN replicated() returns the view's rows once they are exactly the current item's projection
    rows = replicated(lab_stack, lab_email)
    assert [(r["state"]["S"], r["city_email"]["S"]) for r in rows] == [("Iowa", f"Ames#{lab_email}")]
    # AND once the user is deleted, no row
    ddb.delete_item(TableName=users, Key={"email": {"S": lab_email}})
    assert replicated(lab_stack, lab_email) == []


def test_plugin_own_stack_is_removed_afterwards(backend_settings):
    own = _own_stack(backend_settings, "tplugin-")
    live = next(own)
    ddb = live.dynamodb
    assert find(ddb.describe_table, "ResourceNotFoundException", TableName=live.names.users) is not None
    for _ in own:  # the fixture's teardown
        pass
    assert find(ddb.describe_table, "ResourceNotFoundException", TableName=live.names.users) is None


def test_plugin_lets_a_module_that_makes_a_client_at_import_collect_without_aws_settings(tmp_path):
    # GIVEN a test module that makes a boto3 client at import, as handlers do, and an
    # environment with no region and no keys
    (tmp_path / "test_client_at_import.py").write_text(
        'import boto3\n\nclient = boto3.client("dynamodb")\n\n\ndef test_region():\n'
        '    assert client.meta.region_name == "us-east-1"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["HOME"] = str(tmp_path)  # no ~/.aws either
    # WHEN pytest runs it (the plugin comes with the package, through its pytest11 entry point)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_client_at_import.py"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    # THEN it collects and passes
    assert "1 passed" in result.stdout, result.stdout + result.stderr
