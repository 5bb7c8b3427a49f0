"""What doctor and status hold while checking: a Check (one link of the chain, its verdict
and the command that fixes it) and the Diagnosis (the stack as it stands, asked once)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from botocore.exceptions import ClientError

from ddblab.core.aws import find
from ddblab.core.kinds import Backend, QueueKind, Status
from ddblab.diagnose.function_errors import StartError, error_events, ministack_failures, start_error
from ddblab.inspect.queue_contents import peek
from ddblab.stack.deployed import Deployed

BOOTSTRAP = "make bootstrap"


@dataclass(frozen=True)
class Check:
    part: str  # backend, table, stream, mapping, function, role, queue, caveat, probe
    name: str
    status: str  # pass | fail | warn | note (warn and note never fail the run)
    detail: str
    fix: str = ""
    function: str = ""  # the function whose work the check judged, where it is one (the probe's checks)
    awaits_record: bool = False  # the verdict waits for the function's next record (doctor's probe sends one)

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
    _errors: dict = field(default_factory=dict)
    _updated: dict = field(default_factory=dict)

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
            log_file = self.settings.ministack_log if self.backend == Backend.MINISTACK else None
            self._start_errors[function] = start_error(self.lam, function, log_file=log_file)
        return self._start_errors[function]

    @cached_property
    def ministack_failures(self) -> dict:
        return ministack_failures(self.settings.ministack_log) if self.backend == Backend.MINISTACK else {}

    def failure_reason(self, function: str) -> str:
        """Why the function's batches fail, as far as the backend tells: one clause."""
        if (error := self.start_error(function)) is not None:
            return f"the function cannot start: {error}"
        if function in self.ministack_failures:
            return str(self.ministack_failures[function])
        errors = self.errors(function)
        return errors[-1][1] if errors else "no error in its log (make logs ARGS=--all)"

    def errors(self, function: str) -> list:
        """(timestamp ms, clause) of the errors in the function's log of the last 15 minutes."""
        if function not in self._errors:
            self._errors[function] = error_events(self.logs, function)
        return self._errors[function]

    def failed_at(self, function: str) -> float | None:
        """When the function's last failure was logged (seconds since the epoch): the last error
        in its log, or MiniStack's own line about it; None when neither says."""
        times = [ms / 1000 for ms, _ in self.errors(function)[-1:]]
        logged = self.ministack_failures.get(function)
        if logged is not None and logged.at is not None:
            times.append(logged.at)
        return max(times) if times else None

    def updated_at(self, function: str) -> float | None:
        """When the function's code or configuration last changed (its LastModified)."""
        if function not in self._updated:
            config = find(self.lam.get_function_configuration, "ResourceNotFoundException", FunctionName=function)
            self._updated[function] = epoch_of(config.get("LastModified")) if config else None
        return self._updated[function]

    @cached_property
    def dead_letters(self) -> list:
        """The messages waiting in the dead-letter queue (read, left there), oldest first."""
        try:
            return peek(self.live.sqs, self.live.queue_url(QueueKind.DLQ), QueueKind.DLQ)
        except ClientError:
            return []

    def dead_lettered_since_last_error(self, function: str):
        """The newest dead letter of this function when nothing failed in its log after it was
        sent (its last failing batch left the stream for the queue); None otherwise."""
        mine = [m for m in self.dead_letters if m.function == function and m.sent is not None]
        if not mine:
            return None
        newest = max(mine, key=lambda m: m.sent)
        errors = self.errors(function)
        return newest if not errors or errors[-1][0] <= newest.sent * 1000 else None

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


def epoch_of(stamp) -> float | None:
    """A Lambda LastModified (`2026-12-06T21:40:32.123+0000`, or a datetime) in seconds since the epoch."""
    if isinstance(stamp, datetime):
        return stamp.timestamp()
    match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$", str(stamp or ""))
    if not match:
        return None
    zone = (match[3] or "+0000").replace("Z", "+0000").replace(":", "")
    parsed = datetime.strptime(match[1] + zone, "%Y-%m-%dT%H:%M:%S%z")
    return parsed.timestamp() + float(match[2] or 0)
