"""Real fault injection between a function and the emulator, with microburst.

microburst (PyPI, in the dev virtualenv) is an AWS-protocol-aware HTTP proxy: it answers
with the exact error envelope DynamoDB sends (``__type`` namespaced, x-amz-json-1.0, the
modeled status), so botocore's own retry logic runs as it would against AWS. This module
starts one as a local process in front of an emulator and drives its control API:

    with FaultProxy(settings.endpoint_url, settings.run_dir) as proxy:
        converge(settings, replicate_env={"AWS_ENDPOINT_URL": proxy.url})   # only replicate goes through it
        proxy.throttle_target_writes("users_by_location", 0.25)
        ...                                                # write users, wait for the target
        print(proxy.counts())       # {"ProvisionedThroughputExceededException": 41, ...}

What microburst can and cannot do for the replicate function (0.10.0, read from its code):
- error:   any modeled code, any status, before the request is forwarded (nothing written).
- reset / timeout_ms / latency: transport faults before the forward (nothing written).
- response.abort_frac / abort_bytes: forward (the write IS applied), then cut the
  connection mid-body - the "ack lost" case (no drill uses it yet).
- It cannot produce a partial-success BatchWriteItem (a 200 whose UnprocessedItems names
  some of the request's items): there is no response-body rewrite, and an ``error:`` rule
  answers before forwarding with fixed ``fields`` that cannot echo the request's items.
- ``resource:`` never matches BatchWriteItem (microburst takes DynamoDB's resource from
  TableName, which BatchWriteItem has not); the rules here match the request body with
  JMESPath instead: ``RequestItems."<table>"``.
Rules are tried in order and the first one whose probability draw succeeds fires, so a
mix of faults at a total rate r is a chain of rules with conditional probabilities.

Stdlib only for the control calls. Bind and talk to 127.0.0.1 only: the control API is
unauthenticated.
"""
from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from ddblab.core.processes import Background, ProcessFailed
from ddblab.emulator.health import free_port

CONTROL = "/_microburst"

# (label, error) - the default mix for throttle_target_writes: the two throttling codes
# botocore's standard retry mode treats as throttling, and a 500 it treats as transient.
DEFAULT_WRITE_FAULTS = (
    ("ProvisionedThroughputExceededException", {"code": "ProvisionedThroughputExceededException"}, 0.4),
    ("ThrottlingException", {"code": "ThrottlingException"}, 0.3),
    ("InternalServerError", {"code": "InternalServerError", "status": 500}, 0.3),
)


class FaultProxyError(RuntimeError):
    """The proxy would not start, died, or refused a control call."""


def chained_probabilities(rate: float, weights) -> list:
    """Per-rule probabilities so that, tried in order (first draw that succeeds wins),
    rule i fires on a fraction rate * w_i / sum(w) of the requests."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be within [0, 1], got {rate}")
    total = float(sum(weights))
    out, used = [], 0.0
    for w in weights:
        share = rate * w / total
        left = 1.0 - used
        out.append(min(1.0, share / left) if left > 0 else 0.0)
        used += share
    return out


def table_body_match(table: str) -> str:
    """JMESPath that is truthy when a BatchWriteItem request writes to `table`."""
    return 'RequestItems."%s"' % table.replace("\\", "\\\\").replace('"', '\\"')


class FaultProxy:
    """One microburst process in front of `upstream`, on a free loopback port.

    Its output goes to <run_dir>/<tag>.log; start() waits for /_microburst/health and
    reports the log's tail if the process dies. Usable as a context manager (stop() kills
    the whole process group it started, and only that).
    """

    def __init__(self, upstream: str, run_dir: Path, port: int | None = None, tag: str = "microburst",
                 python: str | None = None):
        self.upstream = upstream.rstrip("/")
        self.port = port or free_port()
        self.log_file = Path(run_dir) / f"{tag}.log"
        self.labels: dict = {}  # rule id -> label, for counts()
        env = dict(os.environ)
        for name in ("AWS_ENDPOINT_URL", "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
            env.pop(name, None)
        command = [python or sys.executable, "-m", "microburst", "--upstream", self.upstream,
                   "--host", "127.0.0.1", "--port", str(self.port), "--no-resign"]
        self.process = Background("microburst", command, self.log_file, env, Path(run_dir))

    @property
    def url(self) -> str:
        """Where clients (e.g. a function's AWS_ENDPOINT_URL) should send their calls."""
        return f"http://127.0.0.1:{self.port}"

    # -- process ------------------------------------------------------------------------
    def start(self, timeout: float = 20.0) -> int:
        running = self.process.pid()
        if running:
            return running

        def answers():
            try:
                document = self._call("GET", "/health", timeout=1.0)
            except (OSError, FaultProxyError):
                return False
            return isinstance(document, dict) and document.get("status") == "ok"
        try:
            return self.process.start(answers, timeout)
        except ProcessFailed as error:
            raise FaultProxyError(str(error)) from None

    def stop(self, timeout: float = 5.0) -> bool:
        return self.process.stop(timeout)

    def __enter__(self) -> "FaultProxy":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- control API --------------------------------------------------------------------
    def _call(self, method: str, path: str, body=None, timeout: float = 5.0):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}{CONTROL}{path}", data=data, method=method,
            headers={"Content-Type": "application/json"} if data is not None else {})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
        try:
            with opener.open(request, timeout=timeout) as answer:
                raw = answer.read()
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")[:500]
            raise FaultProxyError(f"microburst {method} {CONTROL}{path} -> {error.code}: {detail}") from None
        return json.loads(raw) if raw else None

    def health(self) -> dict:
        return self._call("GET", "/health")

    def rules(self) -> list:
        return self._call("GET", "/rules")

    def add_rules(self, rules: list, label: str | None = None) -> list:
        """Append rules (microburst's DSL, as dicts); returns their ids."""
        created = self._call("PATCH", "/rules", rules)
        ids = [rule["id"] for rule in created]
        for rule_id in ids:
            self.labels[rule_id] = label or f"rule {rule_id}"
        return ids

    def stats(self) -> dict:
        return self._call("GET", "/stats")

    def counts(self) -> dict:
        """Faults fired since start, per label given when the rules were added (survives
        rule removal and the fired log's eviction), plus 'total' and 'requests'."""
        stats = self.stats()
        out: dict = {}
        for entry in stats.get("by_rule", []):
            label = self.labels.get(entry["id"], f"rule {entry['id']}")
            out[label] = out.get(label, 0) + entry["fired"]
        out["total"] = stats["requests"]["faulted"]
        out["requests"] = stats["requests"]["total"]
        return out

    # -- the faults the drills use ------------------------------------------------------
    def throttle_target_writes(self, table: str, rate: float, faults=DEFAULT_WRITE_FAULTS) -> list:
        """Make a fraction `rate` of DynamoDB BatchWriteItem calls that write to `table` fail
        before reaching the emulator, split over `faults` ((label, error, weight), ...):
        by default ProvisionedThroughputExceededException 400 : ThrottlingException 400 :
        InternalServerError 500 = 4:3:3. Returns the rule ids."""
        probabilities = chained_probabilities(rate, [weight for _, _, weight in faults])
        ids = []
        for (label, error, _), probability in zip(faults, probabilities, strict=True):
            ids += self.add_rules([{
                "service": "dynamodb", "operation": "BatchWriteItem", "body": table_body_match(table),
                "probability": probability, "error": {"message": f"injected by microburst: {label}", **error},
            }], label=label)
        return ids
