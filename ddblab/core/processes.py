"""A local server run in the background (MiniStack, the microburst proxy): started in a
session of its own with its output in a log file, awaited until it answers, and stopped
with its whole process group. With a pid file it can be stopped by another command."""
from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from ddblab.core.waiting import WaitTimeout, wait_for


class ProcessFailed(RuntimeError):
    """The process died before it answered, or never answered: the message says which."""


class Background:
    def __init__(self, name: str, command: list, log_file: Path, env: dict, cwd: Path, pid_file: Path | None = None):
        self.name, self.command, self.log_file = name, command, Path(log_file)
        self.env, self.cwd, self.pid_file = env, Path(cwd), pid_file
        self._pid: int | None = None

    def pid(self) -> int | None:
        """The running process's pid, from this object or from the pid file."""
        pid = self._pid
        if pid is None and self.pid_file is not None:
            try:
                pid = int(self.pid_file.read_text())
            except (OSError, ValueError):
                return None
        if pid is None or _gone(pid):
            return None
        return pid

    def start(self, answers, timeout: float) -> int:
        """Start it and wait until answers() is truthy; stops it and raises ProcessFailed if not."""
        self.cwd.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       env=self.env, cwd=self.cwd, start_new_session=True)
        self._pid = process.pid
        if self.pid_file is not None:
            self.pid_file.write_text(str(process.pid))

        def ready():
            if process.poll() is not None:
                self._forget()
                raise ProcessFailed(f"{self.name} exited with code {process.returncode}; its log ends:\n  "
                                    + "\n  ".join(self.log_tail()))
            return answers()
        try:
            wait_for(ready, f"{self.name} to answer", timeout=timeout, interval=0.1)
        except WaitTimeout as error:
            self.stop()
            raise ProcessFailed(f"{error}; see {self.log_file}") from None
        return process.pid

    def stop(self, timeout: float = 10.0) -> bool:
        pid = self.pid()
        self._forget()
        if pid is None:
            return False
        try:
            os.killpg(pid, signal.SIGTERM)
            wait_for(lambda: _gone(pid), f"{self.name} (pid {pid}) to stop", timeout=timeout,
                     interval=0.05, max_interval=0.2)
        except ProcessLookupError:
            pass
        except WaitTimeout:
            os.killpg(pid, signal.SIGKILL)
            _gone(pid)
        return True

    def log_tail(self, lines: int = 15) -> list:
        try:
            return self.log_file.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return []

    def _forget(self) -> None:
        self._pid = None
        if self.pid_file is not None:
            self.pid_file.unlink(missing_ok=True)


def _gone(pid: int) -> bool:
    """True once the process has exited; reaps it when it is our child (else it would stay
    a zombie, and look alive, until we exit)."""
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        return reaped == pid
    except ChildProcessError:  # not our child: whoever started it reaps it
        try:
            os.kill(pid, 0)
            return False
        except ProcessLookupError:
            return True


def started_for_port(pid_file: Path, variable: str) -> bool:
    """Whether the live process named by this pid file was started with this environment
    variable (e.g. GATEWAY_PORT=4580): how make down finds an emulator started for another
    port before run files were named by their port. False where /proc cannot tell."""
    try:
        pid = int(pid_file.read_text())
        return variable.encode() in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return False
