"""The table step of converge: a stream fix and a missing index are both done in one run."""
from __future__ import annotations

from ddblab.core.settings import Settings
from ddblab.stack.converge import tables
from ddblab.stack.converge.context import Context
from ddblab.stack.describe import describe
from ddblab.stack.model import Account, Index, Table

ACCOUNT = Account("aws", "us-east-1", "123456789012")


class FakeDynamoDB:
    def __init__(self, description: dict):
        self.description = description
        self.updates = []

    def describe_table(self, TableName):
        return {"Table": self.description}

    def update_table(self, **kwargs):
        self.updates.append(kwargs)


def test_table_stream_fixed_and_missing_index_added_in_one_converge():
    # GIVEN a table with the wrong stream view type and without its index
    spec = Table("t", (("email", "HASH"),), stream="NEW_AND_OLD_IMAGES",
                 indexes=(Index("by_city", (("city", "HASH"), ("email", "RANGE"))),))
    fake = FakeDynamoDB({"KeySchema": [{"AttributeName": "email", "KeyType": "HASH"}],
                         "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}})
    ctx = Context(describe(Settings(), ACCOUNT), backend="ministack")
    ctx.ddb = fake
    # WHEN the table is converged
    tables.converge(ctx, spec)
    # THEN the stream is replaced AND the index created (the early return once skipped it)
    streams = [u["StreamSpecification"] for u in fake.updates if "StreamSpecification" in u]
    assert streams == [{"StreamEnabled": False}, {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}]
    assert [u["GlobalSecondaryIndexUpdates"][0]["Create"]["IndexName"] for u in fake.updates
            if "GlobalSecondaryIndexUpdates" in u] == ["by_city"]
    assert ctx.report.rows[-1].action == "updated" and "index by_city" in ctx.report.rows[-1].detail


def test_table_stream_replacement_on_localstack_refused_with_what_to_run():
    import pytest

    from ddblab.core.settings import UserError
    spec = Table("t", (("email", "HASH"),), stream="NEW_AND_OLD_IMAGES")
    fake = FakeDynamoDB({"KeySchema": [{"AttributeName": "email", "KeyType": "HASH"}],
                         "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}})
    ctx = Context(describe(Settings(), ACCOUNT), backend="localstack")
    ctx.ddb = fake
    with pytest.raises(UserError, match="LocalStack cannot replace a table's stream in place.*make bootstrap"):
        tables.converge(ctx, spec)
    assert fake.updates == []
