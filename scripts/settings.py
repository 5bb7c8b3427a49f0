"""Every knob of the scripts, read once from the environment, with safe local defaults."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parent.parent
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0", "host.docker.internal", "localstack", "ministack"}


class UserError(SystemExit):
    """A failure the user can fix: printed as one clear message, no stack trace."""

    def __init__(self, message: str):
        super().__init__(f"error: {message}")


@dataclass(frozen=True)
class Settings:
    endpoint_url: str = "http://localhost:4566"
    region: str = "us-east-1"
    emulator: str = "auto"  # auto | localstack | ministack
    prefix: str = ""  # prepended to every resource name: several stacks on one backend
    stage: str = "dev"
    allow_remote: bool = False
    run_dir: Path = ROOT / ".run"
    localstack_image: str = "localstack/localstack:4.14.0"

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        env = os.environ
        values = dict(
            endpoint_url=env.get("AWS_ENDPOINT_URL", cls.endpoint_url).rstrip("/"),
            region=env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION") or cls.region,
            emulator=env.get("EMULATOR", cls.emulator).lower(),
            prefix=env.get("STACK_PREFIX", cls.prefix),
            stage=env.get("API_STAGE", cls.stage),
            allow_remote=env.get("ALLOW_REMOTE_ENDPOINT", "") in ("1", "true", "yes"),
            run_dir=Path(env.get("RUN_DIR", str(ROOT / ".run"))),
            localstack_image=env.get("LOCALSTACK_IMAGE", cls.localstack_image),
        )
        values.update(overrides)
        settings = cls(**values)
        if settings.emulator not in ("auto", "localstack", "ministack"):
            raise UserError(f"EMULATOR={settings.emulator!r} is not one of auto, localstack, ministack")
        settings.check_local()
        return settings

    @property
    def port(self) -> int:
        return urlparse(self.endpoint_url).port or 4566

    @property
    def is_local(self) -> bool:
        return (urlparse(self.endpoint_url).hostname or "") in LOCAL_HOSTS

    def check_local(self) -> None:
        if not self.is_local and not self.allow_remote:
            raise UserError(
                f"AWS_ENDPOINT_URL={self.endpoint_url} is not a local emulator; these scripts "
                "create and delete resources. Set ALLOW_REMOTE_ENDPOINT=1 if you really mean it.")

    def name(self, base: str) -> str:
        return f"{self.prefix}{base}"

    def client(self, service: str, **config):
        kwargs = {"region_name": self.region, "config": Config(**config) if config else None}
        if self.is_local:
            # Emulators accept any credentials; dummy ones keep a real profile out of it.
            kwargs.update(endpoint_url=self.endpoint_url, aws_access_key_id="test",
                          aws_secret_access_key="test")
        elif self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        return boto3.client(service, **kwargs)


def run_main(main) -> None:
    """Run a script's main so that what a user can cause ends in one line that says what
    happened and what to run: Ctrl-C exits quietly, UserError prints its message, timeouts,
    a lost emulator and AWS errors are summarised (LAB_TRACEBACK=1 shows their traceback).
    Anything else is a bug: its traceback is kept, with a line saying so."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    from scripts.waiting import WaitTimeout
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print()
        sys.exit(130)
    except (ConnectionError, HTTPClientError, ClientError, WaitTimeout) as error:
        if os.environ.get("LAB_TRACEBACK") == "1":
            raise
        if isinstance(error, ClientError):
            info = error.response.get("Error", {})
            message = f"{error.operation_name} failed: {info.get('Code')}: {info.get('Message')} - run: make status"
        elif isinstance(error, WaitTimeout):
            message = f"{error} - look at: make status, make logs"
        else:
            message = f"lost the emulator: {error} - is it still up? run: make status"
        raise UserError(message) from None
    except Exception:
        print("error: this is a bug in ddb-streams-lab, not something you did; the traceback follows",
              file=sys.stderr)
        raise
