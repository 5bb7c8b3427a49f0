"""LocalStack 4.14.0's own runtime on the host, with no Docker: the pieces it lacks here.

- executor.py: a `host` Lambda runtime executor (functions as local processes);
- runtime_init.py: the init each of those processes runs (standard library only);
- providers.py: DynamoDB and DynamoDB Streams served by moto (DynamoDB Local cannot be fetched here);
- launch.py: LocalStack's entry point, bound to the configured host.
Installed into LocalStack's own virtualenv by `EMULATOR=localstack-host make up`.
"""
