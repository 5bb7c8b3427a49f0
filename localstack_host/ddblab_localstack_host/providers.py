"""DynamoDB and DynamoDB Streams served by moto (bundled with LocalStack as moto-ext, Apache-2.0),
instead of DynamoDB Local, a Java jar LocalStack downloads at first use from AWS's CDN (out of
reach on machines that reach only package registries, and not open source).
Chosen with PROVIDER_OVERRIDE_DYNAMODB=moto and PROVIDER_OVERRIDE_DYNAMODBSTREAMS=moto."""
from localstack.services.plugins import aws_provider


@aws_provider(api="dynamodb", name="moto")
def dynamodb_moto():
    from localstack.aws.api.dynamodb import DynamodbApi
    from localstack.services.moto import MotoFallbackDispatcher
    from localstack.services.plugins import Service

    class MotoDynamoDBProvider(DynamodbApi):
        pass

    return Service.for_provider(MotoDynamoDBProvider(), dispatch_table_factory=MotoFallbackDispatcher)


@aws_provider(api="dynamodbstreams", name="moto")
def dynamodbstreams_moto():
    from localstack.aws.api.dynamodbstreams import DynamodbstreamsApi
    from localstack.services.moto import MotoFallbackDispatcher
    from localstack.services.plugins import Service

    class MotoDynamoDBStreamsProvider(DynamodbstreamsApi):
        pass

    return Service.for_provider(MotoDynamoDBStreamsProvider(), dispatch_table_factory=MotoFallbackDispatcher)
