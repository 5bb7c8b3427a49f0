"""What went wrong inside a function: whether it starts at all (an import or syntax error),
and the errors in its recent log.

A handler that fails on import shows on AWS and LocalStack as a "[ERROR] Runtime.Import
ModuleError" line in its log; MiniStack writes only START/END/REPORT there and puts
"Worker init failed: <error>" in its own log file and in the invoke result
(ministack/core/lambda_runtime.py, services/lambda_svc.py `_execute_function_warm`). So the
one way that works on every backend is to ask: invoke the function with an empty batch
(the stream functions do nothing with it, users_api answers 400) and read the error.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import ClientError

from ddblab.core.aws import error_code, log_events
from ddblab.stack.code import handler_module
from ddblab.stack.model import Names

log_lines = handler_module("log_lines")  # the keys of the handlers' failure lines
EMPTY_BATCH: dict[str, list] = {"Records": []}
# Errors that mean the code never ran: AWS's runtime names, and MiniStack's wording.
INIT_ERRORS = re.compile(r"Runtime\.(ImportModuleError|UserCodeSyntaxError|HandlerNotFound|MalformedHandlerName)"
                         r"|Worker init failed|Worker process exited immediately|No JSON init response")
# Lines of a function's own log that report a failure.
ERROR_LINE = re.compile(r"\[ERROR\]|Traceback|errorMessage|Task timed out|Runtime\.\w+Error|Worker init failed|"
                        + "|".join((log_lines.REPLICATE_FAILED, log_lines.USERS_API_ERROR)))


@dataclass(frozen=True)
class StartError:
    """The function cannot run its handler: why, as the runtime put it."""
    function: str
    kind: str  # errorType
    message: str
    at: float | None = None  # when it was logged (seconds since the epoch), where the log says

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}" if self.kind else self.message


def start_error(lam, function: str, tries: int = 3, log_file=None) -> StartError | None:
    """Invoke the function with an empty batch; the error if its code cannot be loaded
    (None when it runs, or when it fails for a reason that is not about starting).
    MiniStack sometimes loses the reason in a race ("Worker process exited immediately.
    stderr: " with nothing after it): ask again, a few times, for the real one, and then
    look in MiniStack's own log (log_file), which keeps it."""
    for _ in range(tries):
        error = _start_error(lam, function)
        if error is None or not _reason_lost(error):
            return error
    if log_file is not None:
        return ministack_failures(log_file).get(function, error)
    return error


def _reason_lost(error: StartError) -> bool:
    return error.message.rstrip().endswith("stderr:")


def _start_error(lam, function: str) -> StartError | None:
    try:
        answer = lam.invoke(FunctionName=function, Payload=json.dumps(EMPTY_BATCH).encode())
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return None  # missing is its own check
        return StartError(function, error_code(error), str(error))
    if not answer.get("FunctionError"):
        return None
    try:
        body = json.loads(answer["Payload"].read() or b"{}")
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {"errorMessage": str(body)}
    kind, message = str(body.get("errorType") or ""), str(body.get("errorMessage") or "")
    if INIT_ERRORS.search(f"{kind} {message}"):
        return StartError(function, kind, message)
    return None


TRACEBACK = "Traceback (most recent call last):"


def _clauses(lines):
    """(stamp, clause) for each error among (stamp, line) pairs: a traceback becomes its last
    line (the exception and its message), never its first; frames are dropped."""
    in_traceback = False
    for stamp, line in lines:
        line = line.rstrip()
        if not line.strip():
            continue
        if TRACEBACK in line:
            in_traceback = True
        elif in_traceback:
            if not (line[:1].isspace() or line.startswith(("During handling", "The above exception"))):
                in_traceback = False
                yield stamp, line.strip()[:300]
        elif ERROR_LINE.search(line):
            yield stamp, line.strip()[:300]


def error_clauses(texts: list) -> list:
    """The errors in these log messages, one clause each."""
    return [clause for _, clause in _clauses((0, line) for text in texts for line in str(text).splitlines())]


def error_events(logs, function: str, since_seconds: int = 900) -> list:
    """(timestamp ms, clause) of each error in the function's recent log, oldest first."""
    events = sorted(log_events(logs, Names.log_group(function), int((time.time() - since_seconds) * 1000)),
                    key=lambda e: e["timestamp"])
    return list(_clauses((e["timestamp"], line) for e in events for line in e["message"].splitlines()))


def recent_errors(logs, function: str, since_seconds: int = 900, limit: int = 3) -> list:
    """The last few errors of the function's log, one clause each (newest last)."""
    return [clause for _, clause in error_events(logs, function, since_seconds)][-limit:]


MINISTACK_TIME = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)[ ,]")
MINISTACK_FAILURES = (
    re.compile(r"ESM: Lambda (?P<function>\S+) failed processing DynamoDB stream batch from \S+ "
               r"\(errorType=(?P<kind>[^ ]*) errorMessage=(?P<message>.*)\)$"),
    re.compile(r"Warm worker execution error for (?P<function>[^:\s]+): (?P<kind>)(?P<message>Worker init failed: .*)$"),
)


def ministack_failures(log_file: Path, max_bytes: int = 2_000_000) -> dict:
    """function -> the last batch failure MiniStack logged for it (its own log file, when
    make up started it): the reason a mapping's LastProcessingResult is FAILED."""
    try:
        with open(log_file, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - max_bytes))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return {}
    found = {}
    for line in text.splitlines():
        for pattern in MINISTACK_FAILURES:
            match = pattern.search(line)
            if match:
                found[match["function"]] = StartError(match["function"], match["kind"], match["message"],
                                                      logged_at(line))
    return found


def logged_at(line: str) -> float | None:
    """The time a MiniStack log line starts with (`2026-12-06 21:40:32 INFO ...`, local time)."""
    stamp = MINISTACK_TIME.match(line)
    return time.mktime(time.strptime(stamp[1], "%Y-%m-%d %H:%M:%S")) if stamp else None
