"""MiniStack as a process of its own session, from the project's virtualenv: it outlives the
command that started it, and `make down` finds it again through its pid file."""
from __future__ import annotations

import os
import sys

from ddblab.core.processes import Background, ProcessFailed
from ddblab.core.settings import Settings, UserError
from ddblab.emulator.health import health


class MiniStack:
    def __init__(self, settings: Settings, port: int | None = None, tag: str | None = None, env: dict | None = None):
        self.port = port or settings.port
        tag = tag or settings.ministack_stem(self.port)
        self.log_file = settings.run_dir / f"{tag}.log"
        # env, e.g. {"AUTH": "true"}: IAM enforcement for function credentials. Bound to
        # loopback: the emulator takes any credentials, so it must not be reachable from outside.
        process_env = dict(os.environ, GATEWAY_PORT=str(self.port), BIND_HOST="127.0.0.1", **(env or {}))
        process_env.pop("AWS_ENDPOINT_URL", None)
        self.pid_file = settings.run_dir / f"{tag}.pid"
        self.process = Background("MiniStack", [sys.executable, "-m", "ministack"], self.log_file, process_env,
                                  settings.run_dir, pid_file=self.pid_file)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pid(self) -> int | None:
        return self.process.pid()

    def crashed(self) -> bool:
        """A pid file is left but its process is gone: it died without make down."""
        return self.pid_file.exists() and self.pid() is None

    def start(self, timeout: float = 30.0) -> int:
        try:
            return self.process.start(lambda: health(self.url, timeout=1), timeout)
        except ProcessFailed as error:
            raise UserError(str(error)) from None

    def stop(self, timeout: float = 10.0) -> bool:
        return self.process.stop(timeout)
