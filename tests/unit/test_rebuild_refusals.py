"""make bootstrap ARGS='--rebuild NAME' refuses, before anything changes, what it cannot
rebuild: on AWS (the stream keeps 24 hours), a name that is no consumer, a consumer without a
view of its own. No emulator: each refusal comes before the first call to the backend."""
from __future__ import annotations

import dataclasses

import pytest

from ddblab.core.settings import Settings, UserError
from ddblab.stack import rebuild
from ddblab.stack.describe import describe
from ddblab.stack.model import Account, Consumer
from tests.builtin import BUILT_IN

ACCOUNT = Account("aws", "us-east-1", "123456789012")
WITH_COUNTS = (*BUILT_IN, Consumer("counts"))


def stack(endpoint: str = "http://localhost:4566"):
    return describe(dataclasses.replace(Settings(), endpoint_url=endpoint), ACCOUNT, consumers=WITH_COUNTS)


def test_rebuild_refused_on_aws():
    with pytest.raises(UserError) as refused:
        rebuild.consumers(stack("https://dynamodb.us-east-1.amazonaws.com"), ["counts"])
    assert str(refused.value) == ("--rebuild replays the users stream, which keeps 24 hours on AWS: the rows of older "
                                  "users would be lost - rebuild on an emulator")


@pytest.mark.parametrize("name, said", [
    ("nope", "--rebuild nope: no consumer nope in ddblab/stack/consumers.py (those keeping a view: counts)"),
    ("audit", "--rebuild audit: audit keeps no view of its own to rebuild (those keeping one: counts)"),
    ("replicate", "--rebuild replicate: replicate keeps no view of its own to rebuild - its view is "
                  "users_by_location: run make reconcile ARGS=--fix"),
])
def test_rebuild_refuses_what_keeps_no_view(name, said):
    with pytest.raises(UserError) as refused:
        rebuild.consumers(stack(), [name])
    assert str(refused.value) == said
