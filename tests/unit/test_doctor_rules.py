"""The rules doctor applies without an emulator: FilterCriteria as the poller applies them,
which LocalStack images need a token, what a role's policy lacks, and how queue messages read."""
from __future__ import annotations

import json

import pytest

from ddblab.core.aws import processing_result
from ddblab.core.output import count_of, plural
from ddblab.diagnose import filters
from ddblab.diagnose.checks import auth_token_needed, missing_grants
from ddblab.inspect import queue_contents

INSERT = {"eventName": "INSERT", "dynamodb": {"Keys": {"email": {"S": "a@x.io"}},
                                               "NewImage": {"email": {"S": "a@x.io"}, "age": {"N": "42"}}}}


def criteria(*patterns) -> dict:
    return {"Filters": [{"Pattern": json.dumps(p)} for p in patterns]}


@pytest.mark.parametrize("pattern, passes", [
    ({"eventName": ["INSERT"]}, True),
    ({"eventName": ["REMOVE"]}, False),
    ({"eventName": [{"anything-but": ["REMOVE"]}]}, True),
    ({"dynamodb": {"NewImage": {"email": {"S": [{"prefix": "a@"}]}}}}, True),
    ({"dynamodb": {"NewImage": {"email": {"S": [{"suffix": ".com"}]}}}}, False),
    ({"dynamodb": {"NewImage": {"age": {"N": [{"numeric": [">", 40, "<=", 42]}]}}}}, True),
    ({"dynamodb": {"OldImage": [{"exists": False}]}}, True),
    ({"dynamodb": {"OldImage": [{"exists": True}]}}, False),
])
def test_filter_pattern_on_insert(pattern, passes):
    assert filters.passes(criteria(pattern), INSERT) is passes


def test_filter_any_pattern_passes_and_none_means_all():
    assert filters.passes(criteria({"eventName": ["REMOVE"]}, {"eventName": ["INSERT"]}), INSERT)
    assert filters.passes(None, INSERT) and filters.passes({"Filters": []}, INSERT)


def test_filter_unknown_operator_is_said_not_guessed():
    with pytest.raises(filters.Unknown):
        filters.passes(criteria({"eventName": [{"wildcard": "IN*"}]}), INSERT)


@pytest.mark.parametrize("image, needed", [
    ("localstack/localstack:4.14.0", False), ("localstack/localstack:3.8", False),
    ("localstack/localstack:4.15.0", True), ("localstack/localstack:2026.03.0", True),
    ("localstack/localstack:latest", True), ("localstack/localstack", True), ("localstack/localstack-pro:4.14.0", True),
])
def test_auth_token_needed_after_4_14(image, needed):
    assert auth_token_needed(image) is needed


def test_missing_grants_names_the_action_a_policy_lacks():
    wanted = [{"Effect": "Allow", "Action": ["dynamodb:BatchWriteItem", "sqs:SendMessage"], "Resource": "arn:t"}]
    assert missing_grants(wanted, [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": ["arn:t"]}]) == ["sqs:SendMessage"]
    assert missing_grants(wanted, [{"Effect": "Allow", "Action": "*", "Resource": "*"}]) == []
    assert missing_grants(wanted, [{"Effect": "Deny", "Action": "*", "Resource": "*"}]) == wanted[0]["Action"]


def test_quarantine_message_reads_user_reason_and_event():
    body = {"reason": "no city", "record": {"eventName": "INSERT", "dynamodb": {
        "Keys": {"email": {"S": "a@x.io"}}, "SequenceNumber": "12"}}}
    m = queue_contents.parse("quarantine", {"MessageId": "1", "Body": json.dumps(body), "Attributes": {"SentTimestamp": "1000"}})
    assert (m.user, m.reason, m.detail, m.sent) == ("a@x.io", "no city", "INSERT seq 12", 1.0)


def test_message_that_is_not_json_still_listed():
    m = queue_contents.parse("quarantine", {"MessageId": "1", "Body": "oops"})
    assert m.reason == "not JSON: oops" and m.sent is None


def test_age_reads_in_the_largest_unit():
    assert [queue_contents.ago(s) for s in (5, 125, 7300, 90000, None)] == ["5s", "2m", "2h", "1d", "?"]


@pytest.mark.parametrize("said, shown", [
    ("OK - 1 records", "OK - 1 record"),  # MiniStack's words for a batch of one
    ("OK - 25 records", "OK - 25 records"),
    ("OK - 1000 records", "OK - 1000 records"),
    ("FAILED", "FAILED"),
    (None, "?"),
])
def test_processing_result_quoted_in_good_grammar(said, shown):
    assert processing_result({"LastProcessingResult": said} if said else {}) == shown


@pytest.mark.parametrize("count, one, many, words", [
    (0, "message", None, "0 messages"), (1, "message", None, "1 message"), (2, "message", None, "2 messages"),
    (1, "batch", "batches", "1 batch"), (3, "batch", "batches", "3 batches"),
    (1, "retry", None, "1 retry"), (0, "retry", None, "0 retries"), (2, "key", None, "2 keys"),
])
def test_plural_one_is_singular_every_other_count_plural(count, one, many, words):
    assert plural(count, one, many) == words


@pytest.mark.parametrize("count, words", [(1, "1 item"), (1005, "1005 items"), (None, "? items"), ("?", "? items")])
def test_count_of_a_figure_the_backend_may_not_give(count, words):
    assert count_of(count, "item") == words
