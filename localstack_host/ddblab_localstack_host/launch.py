"""LocalStack's runtime entry point (`python -m localstack.runtime.main`), with one fix,

- 4.14.0's twisted gateway ignores the host part of GATEWAY_LISTEN for IPv4 and binds 0.0.0.0
  (runtime/server/twisted.py:41-42, "TODO: interface = host?"): here it binds the configured
  host, so an emulator that takes any credentials is reachable from this machine only;
and LocalStack's `localstack` CLI is not needed (its 4.14.0 wheel lacks the host-mode path).
"""
import sys

import localstack.runtime.server.twisted as twisted_server
from localstack import config
from twisted.internet import endpoints


class _Endpoints:
    TCP6ServerEndpoint = endpoints.TCP6ServerEndpoint

    @staticmethod
    def TCP4ServerEndpoint(reactor, port, *args, **kwargs):  # noqa: N802 - twisted's name
        host = next((listen.host for listen in config.GATEWAY_LISTEN if listen.port == port), "127.0.0.1")
        kwargs.setdefault("interface", host)
        return endpoints.TCP4ServerEndpoint(reactor, port, *args, **kwargs)


twisted_server.endpoints = _Endpoints


def main() -> int:
    from localstack.runtime.main import main as localstack_main

    return localstack_main()


if __name__ == "__main__":
    sys.exit(main())
