"""The pipeline page's chain, drawn from the stack description alone (no emulator): every
node and link of the stack as designed, a consumer added to the description drawn like the
others, and doctor's checks placed on the node they are about, the worst one deciding."""
from __future__ import annotations

from ddblab.core.settings import Settings
from ddblab.diagnose.diagnosis import Check
from ddblab.flow.chain import chain, health
from ddblab.stack.describe import describe
from ddblab.stack.model import Account, Consumer
from tests.builtin import BUILT_IN

ACCOUNT = Account("aws", "us-east-1", "123456789012")


def links(stack) -> dict:
    return {node.id: sorted(node.links) for node in chain(stack)}


def test_chain_of_the_designed_stack_has_every_node_and_link():
    # GIVEN the stack of the design, prefixed
    stack = describe(Settings(prefix="p-"), ACCOUNT, consumers=BUILT_IN)
    # WHEN its chain is drawn, THEN every node and link is the design's
    assert links(stack) == {
        "api": ["function:p-users_api"],
        "function:p-users_api": ["table:p-users"],
        "table:p-users": ["stream:p-users"],
        "stream:p-users": ["mapping:p-audit", "mapping:p-replicate"],
        "mapping:p-replicate": ["function:p-replicate", "queue:p-users-dlq"],
        "mapping:p-audit": ["function:p-audit", "queue:p-users-dlq"],
        "function:p-replicate": ["queue:p-users-quarantine", "table:p-users_by_location"],
        "function:p-audit": ["log:p-audit"],
        "table:p-users_by_location": [],
        "queue:p-users-quarantine": [],
        "log:p-audit": [],
        "queue:p-users-dlq": [],
    }
    columns = {node.id: node.column for node in chain(stack)}
    assert [columns["api"], columns["table:p-users"], columns["mapping:p-audit"], columns["function:p-audit"],
            columns["queue:p-users-dlq"]] == [0, 2, 4, 5, 6]


def test_chain_draws_a_consumer_added_to_the_description():
    # GIVEN the stack with a third consumer declared as a user adds one (a view of its own,
    # queried by state)
    stack = describe(Settings(), ACCOUNT, consumers=(*BUILT_IN, Consumer("state_counts", index="state")))
    # WHEN its chain is drawn, THEN the stream feeds its mapping, which feeds it and the
    # dead-letter queue, and it feeds its own table
    drawn = links(stack)
    assert "mapping:state_counts" in drawn["stream:users"]
    assert drawn["mapping:state_counts"] == ["function:state_counts", "queue:users-dlq"]
    assert drawn["function:state_counts"] == ["table:state_counts"]
    assert drawn["table:state_counts"] == []


def test_health_places_each_check_on_its_node_worst_first():
    # GIVEN doctor's checks of a stack whose replicate mapping is disabled
    stack = describe(Settings(), ACCOUNT)
    checks = [Check("backend", "ministack", "pass", "version 1"),
              Check("mapping", "replicate <- users", "pass", "ok before"),
              Check("mapping", "replicate <- users", "fail", "Disabled: the function gets no records", "make bootstrap"),
              Check("role", "audit-role", "pass", "allows what the function needs"),
              Check("function", "audit", "warn", "1 recent error line(s)", "make logs"),
              Check("queue", "users-dlq", "pass", "empty")]
    # WHEN they are placed
    placed = health(checks, stack)
    # THEN the mapping is failed with doctor's reason and fix first, audit's role and function
    # share its node (warned), and the backend's check is about no node
    assert placed["mapping:replicate"]["status"] == "fail"
    assert placed["mapping:replicate"]["checks"][0] == {"status": "fail", "name": "replicate <- users",
                                                        "detail": "Disabled: the function gets no records",
                                                        "fix": "make bootstrap"}
    assert placed["function:audit"]["status"] == "warn"
    assert [c["name"] for c in placed["function:audit"]["checks"]] == ["audit", "audit-role"]
    assert placed["queue:users-dlq"]["status"] == "pass"
    assert placed[""]["checks"][0]["name"] == "ministack"
