"""Small helpers every converge step shares: find a resource or None, page through a list,
and the event source mappings of exactly one function."""
from __future__ import annotations

import json
import re

from botocore.exceptions import ClientError


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def error_message(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Message", "")


def function_name(arn: str) -> str:
    """A function's name from its ARN, without a version or alias qualifier
    (arn:aws:lambda:us-east-1:000000000000:function:replicate:7 -> replicate)."""
    return arn.split(":function:")[-1].split(":")[0]


def find(call, *missing: str, **kwargs):
    """call(**kwargs), or None when the backend answers one of the `missing` error codes."""
    try:
        return call(**kwargs)
    except ClientError as error:
        if error_code(error) in missing:
            return None
        raise


def paged(client, operation: str, key: str, **kwargs) -> list:
    return [item for page in client.get_paginator(operation).paginate(**kwargs) for item in page[key]]


def mappings_of(lam, function: str) -> list:
    """The function's event source mappings, and only its own: LocalStack 4.14 matches
    FunctionName by substring (`function_name in FunctionArn`, services/lambda_/provider.py),
    so `replicate` would also list the mappings of `test-replicate`."""
    found = paged(lam, "list_event_source_mappings", "EventSourceMappings", FunctionName=function)
    return [m for m in found if function_name(m.get("FunctionArn", "")) == function]


def processing_result(mapping: dict) -> str:
    """A mapping's LastProcessingResult as the backend says it ("?" when it says nothing), but
    in good grammar: MiniStack says "OK - 1 records"."""
    return re.sub(r"\b1 records\b", "1 record", mapping.get("LastProcessingResult") or "?")


def rest_api_ids(apigw, name: str) -> list:
    """The ids of the REST APIs with this name (API Gateway does not keep names unique)."""
    return [api["id"] for api in paged(apigw, "get_rest_apis", "items") if api["name"] == name]


def log_events(logs, group: str, start_ms: int, term: str = "") -> list:
    """Every event of a log group from start_ms on; [] when the group does not exist yet (a
    function that never ran has none). With `term`, AWS and MiniStack send only the events
    holding it; LocalStack community ignores the filter pattern and sends them all, so the
    caller still looks for the term in each message."""
    pattern = {"filterPattern": json.dumps(term)} if term else {}
    return find(paged, "ResourceNotFoundException", client=logs, operation="filter_log_events", key="events",
                logGroupName=group, startTime=start_ms, **pattern) or []


def queue_url(sqs, name: str) -> str | None:
    answer = find(sqs.get_queue_url, "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", QueueName=name)
    return answer["QueueUrl"] if answer else None
