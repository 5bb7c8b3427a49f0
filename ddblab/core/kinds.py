"""The closed sets ddblab compares against, each a (str, Enum): which backend answers, a
check's verdict, which queue a message sits in. A member compares, hashes and prints as its
string, so it goes into f-strings, JSON and argparse choices unchanged; a typo in a member
name fails at import, where a typo in a string literal would only fail to match."""
from __future__ import annotations

from enum import Enum


class Choice(str, Enum):
    def __str__(self) -> str:
        return self.value


class Backend(Choice):
    """What answers on the endpoint (emulator_name) or what EMULATOR asks for."""
    MINISTACK = "ministack"
    LOCALSTACK = "localstack"
    LOCALSTACK_HOST = "localstack-host"  # LocalStack run on this machine, not in Docker
    AWS = "aws"
    UNKNOWN = "unknown"  # an emulator that answers the health path but is neither of ours


AUTO = "auto"  # EMULATOR=auto: LocalStack when Docker answers, MiniStack otherwise
EMULATORS = (Backend.LOCALSTACK, Backend.MINISTACK, Backend.LOCALSTACK_HOST)  # what EMULATOR may name besides auto


class Status(Choice):
    """A check's verdict: warn and note never fail the run."""
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    NOTE = "note"


class QueueKind(Choice):
    """The two queues a record can end in: quarantine (replicate could not place it) and
    dlq (the mapping's on-failure destination: where a batch was, not its records)."""
    QUARANTINE = "quarantine"
    DLQ = "dlq"
