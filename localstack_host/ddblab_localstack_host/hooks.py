"""Once LocalStack is ready, its health document says what this runtime is ("host-runtime":
DynamoDB by moto, functions as host processes), so tools can label what they measured on it."""
import json
import urllib.request

from localstack import config
from localstack.runtime import hooks

HOST_RUNTIME = {"dynamodb": "moto", "lambda": "host processes", "localstack": "4.14.0 runtime on the host"}


@hooks.on_infra_ready()
def say_what_this_is():
    listen = config.GATEWAY_LISTEN[0]
    request = urllib.request.Request(f"http://{listen.host}:{listen.port}/_localstack/health", method="PUT",
                                     data=json.dumps({"host-runtime": HOST_RUNTIME}).encode())
    urllib.request.urlopen(request, timeout=10).close()
