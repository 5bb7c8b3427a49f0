"""What doctor and status hold while checking: a Check (one link of the chain, its verdict
and the command that fixes it) and the Diagnosis (the stack as it stands, asked once)."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from ddblab.core.aws import find
from ddblab.core.kinds import Backend, Status
from ddblab.diagnose.function_errors import StartError, ministack_failures, recent_errors, start_error
from ddblab.stack.deployed import Deployed

BOOTSTRAP = "make bootstrap"


@dataclass(frozen=True)
class Check:
    part: str  # backend, table, stream, mapping, function, role, queue, caveat, probe
    name: str
    status: str  # pass | fail | warn | note (warn and note never fail the run)
    detail: str
    fix: str = ""

    @property
    def failed(self) -> bool:
        return self.status == Status.FAIL


@dataclass
class Diagnosis:
    """The stack of these settings as it stands, and what doctor and status learn about it
    (shared, so each function is invoked once however many checks ask about it)."""
    live: Deployed
    backend: str = ""
    _start_errors: dict = field(default_factory=dict)

    @property
    def settings(self):
        return self.live.settings

    @cached_property
    def spec(self):
        return self.live.stack

    @cached_property
    def lam(self):
        return self.live.client("lambda")

    @cached_property
    def logs(self):
        return self.live.client("logs")

    def start_error(self, function: str) -> StartError | None:
        if function not in self._start_errors:
            log_file = self.settings.run_dir / "ministack.log" if self.backend == Backend.MINISTACK else None
            self._start_errors[function] = start_error(self.lam, function, log_file=log_file)
        return self._start_errors[function]

    @cached_property
    def ministack_failures(self) -> dict:
        return ministack_failures(self.settings.run_dir / "ministack.log") if self.backend == Backend.MINISTACK else {}

    def failure_reason(self, function: str) -> str:
        """Why the function's batches fail, as far as the backend tells."""
        if (error := self.start_error(function)) is not None:
            return f"the function cannot start: {error}"
        if function in self.ministack_failures:
            return f"the last batch failed: {self.ministack_failures[function]}"
        errors = recent_errors(self.logs, function, limit=1)
        return f"its log says: {errors[-1]}" if errors else "no error in its log (make logs ARGS=--all)"

    def fix_for_function(self, function: str) -> str:
        module = self.spec.function(function).module
        if self.start_error(function) is not None:
            return f"fix handlers/{module}.py if the error is there, then: {BOOTSTRAP} (redeploys it)"
        return f"make logs ARGS='--function {module} --since 15m'"

    @cached_property
    def users_table(self) -> dict | None:
        answer = find(self.live.dynamodb.describe_table, "ResourceNotFoundException", TableName=self.spec.names.users)
        return answer["Table"] if answer else None

    @property
    def stream_arn(self) -> str | None:
        return (self.users_table or {}).get("LatestStreamArn")
