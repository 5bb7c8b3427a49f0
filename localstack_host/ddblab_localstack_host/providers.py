"""DynamoDB and DynamoDB Streams served by moto (bundled with LocalStack as moto-ext, Apache-2.0),
instead of DynamoDB Local, a Java jar LocalStack downloads at first use from AWS's CDN (out of
reach on machines that reach only package registries, and not open source).
Chosen with PROVIDER_OVERRIDE_DYNAMODB=moto and PROVIDER_OVERRIDE_DYNAMODBSTREAMS=moto.

Where moto differs from DynamoDB in what a stream pipeline sees, it is corrected here, each
correction measured against the project's tests (what is left is listed in the README):
- Binary values in stream records came back base64-encoded twice (GetRecords gave the bytes of
  the base64 text, GetItem the bytes themselves): decoded once here.
- INSERT records carried "OldImage": {} and REMOVE records "NewImage": {}, which DynamoDB omits.
- Records said awsRegion us-east-1 whatever the region: the request's region here.
- Scan and Query failed with an InternalError on any item holding a binary set (moto hands its
  base64 text to LocalStack's serializer, which wants bytes), and so did any ProjectionExpression
  over such an item (moto's projection deserialises the set's base64 text as bytes): decoded here.
- Items were refused over moto's 405,000 bytes, not DynamoDB's documented 400 KB (409,600 bytes,
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html): here
  DynamoDB's limit, still counted by moto's own rule (close to DynamoDB's, not identical for numbers).
"""
from __future__ import annotations

import base64
import binascii

from localstack.aws.api import RequestContext, handler
from localstack.services.plugins import aws_provider

ITEM_MAX_BYTES = 400 * 1024


@aws_provider(api="dynamodb", name="moto")
def dynamodb_moto():
    from localstack.aws.api.dynamodb import DynamodbApi
    from localstack.services.moto import MotoFallbackDispatcher, call_moto
    from localstack.services.plugins import Service

    _item_limit_of_dynamodb()
    _binary_sets_projected()

    class MotoDynamoDBProvider(DynamodbApi):
        @handler("Scan", expand=False)
        def scan(self, context: RequestContext, request):
            return _with_binary_sets_as_bytes(call_moto(context))

        @handler("Query", expand=False)
        def query(self, context: RequestContext, request):
            return _with_binary_sets_as_bytes(call_moto(context))

    return Service.for_provider(MotoDynamoDBProvider(), dispatch_table_factory=MotoFallbackDispatcher)


@aws_provider(api="dynamodbstreams", name="moto")
def dynamodbstreams_moto():
    from localstack.aws.api.dynamodbstreams import DynamodbstreamsApi
    from localstack.services.moto import MotoFallbackDispatcher, call_moto
    from localstack.services.plugins import Service

    class MotoDynamoDBStreamsProvider(DynamodbstreamsApi):
        @handler("GetRecords", expand=False)
        def get_records(self, context: RequestContext, request):
            response = call_moto(context)
            for record in response.get("Records", []):
                as_dynamodb_writes_it(record, context.region)
            return response

    return Service.for_provider(MotoDynamoDBStreamsProvider(), dispatch_table_factory=MotoFallbackDispatcher)


def as_dynamodb_writes_it(record: dict, region: str) -> None:
    change = record.get("dynamodb", {})
    for part in ("Keys", "NewImage", "OldImage"):
        if part in change:
            change[part] = {name: _binary_once(value) for name, value in change[part].items()}
    if record.get("eventName") == "INSERT" and not change.get("OldImage"):
        change.pop("OldImage", None)
    if record.get("eventName") == "REMOVE" and not change.get("NewImage"):
        change.pop("NewImage", None)
    record["awsRegion"] = region


def _binary_once(value: dict) -> dict:
    """An attribute value with each binary decoded from the second base64 layer moto added."""
    if "B" in value:
        return {"B": _decoded(value["B"])}
    if "BS" in value:
        return {"BS": [_decoded(b) for b in value["BS"]]}
    if "L" in value:
        return {"L": [_binary_once(v) for v in value["L"]]}
    if "M" in value:
        return {"M": {k: _binary_once(v) for k, v in value["M"].items()}}
    return value


def _with_binary_sets_as_bytes(response: dict) -> dict:
    response["Items"] = [{name: _set_bytes(value) for name, value in item.items()} for item in response.get("Items", [])]
    return response


def _set_bytes(value: dict) -> dict:
    if "BS" in value:
        return {"BS": [_decoded(b) if isinstance(b, str) else b for b in value["BS"]]}
    if "L" in value:
        return {"L": [_set_bytes(v) for v in value["L"]]}
    if "M" in value:
        return {"M": {k: _set_bytes(v) for k, v in value["M"].items()}}
    return value


def _decoded(blob):
    try:
        return base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError, TypeError):
        return blob


def _item_limit_of_dynamodb() -> None:
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict, bytesize

    def __setitem__(self, key, value):  # moto's own rule (dynamo_type.py), DynamoDB's limit
        current = sum(item.size() if type(item) is DynamoType else bytesize(str(item))
                      for item in (list(self.keys()) + list(self.values())))
        new = bytesize(key) + (value.size() if type(value) is DynamoType else bytesize(str(value)))
        if current + new > ITEM_MAX_BYTES:
            raise ItemSizeTooLarge
        dict.__setitem__(self, key, value)

    LimitedSizeDict.__setitem__ = __setitem__


def _binary_sets_projected() -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    to_regular_json = DynamoType.to_regular_json

    def with_binary_sets_as_bytes(self):  # moto decodes a B's base64 there, not a BS's
        value = to_regular_json(self)
        if self.type == "BS":
            value["BS"] = [base64.b64decode(b) if isinstance(b, str) else b for b in value["BS"]]
        return value

    DynamoType.to_regular_json = with_binary_sets_as_bytes

