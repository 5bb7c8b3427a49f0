"""The fake users_by_location the replicate tests write to, one for every unit test that needs it.

BatchWriteItem with its rules (one table, 1 to 25 requests a call), answering each call from a
script - an exception to raise, or how many of the call's requests to hand back unprocessed (a
number, or a callable of the requests) - and taking at most `budget` requests in all before an
outage (ProvisionedThroughputExceededException): as many of a batch's writes as the table took,
in the order replicate sent them. What it takes is applied to `table` (keyed by state and
city_email) and listed in `applied`; each call's requests are kept in `calls`.
"""
from __future__ import annotations

from botocore.exceptions import ClientError


def outage_error(message: str = "outage") -> ClientError:
    return ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": message}},
                       "BatchWriteItem")


class FakeTarget:
    def __init__(self, table_name: str, script=(), table: dict | None = None, budget: float = float("inf")):
        self.table_name, self.script = table_name, list(script)
        self.table = {} if table is None else table
        self.budget = budget
        self.calls: list = []
        self.applied: list = []

    @property
    def taken(self) -> int:
        return len(self.applied)

    def batch_write_item(self, RequestItems):
        requests = RequestItems[self.table_name]
        assert set(RequestItems) == {self.table_name}
        assert 0 < len(requests) <= 25, "BatchWriteItem takes at most 25 requests"
        self.calls.append(list(requests))
        step = self.script.pop(0) if self.script else 0
        if isinstance(step, Exception):
            raise step
        if callable(step):
            step = step(requests)
        if self.budget <= 0:
            raise outage_error()
        taken = min(len(requests) - step, int(min(self.budget, len(requests))))
        self.budget -= taken
        for request in requests[:taken]:
            self.apply(request)
        left = requests[taken:]
        return {"UnprocessedItems": {self.table_name: left} if left else {}}

    def apply(self, request: dict) -> None:
        self.applied.append(request)
        if "PutRequest" in request:
            item = request["PutRequest"]["Item"]
            self.table[(item["state"]["S"], item["city_email"]["S"])] = item
        else:
            key = request["DeleteRequest"]["Key"]
            self.table.pop((key["state"]["S"], key["city_email"]["S"]), None)
