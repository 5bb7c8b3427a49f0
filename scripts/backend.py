"""Start, stop and check the emulator: LocalStack through docker compose, or MiniStack as
a local process from the project's virtualenv (pid and log in the run directory).

    python -m scripts.backend up|down|status
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from scripts.settings import ROOT, Settings, UserError, run_main
from scripts.processes import Background, ProcessFailed
from scripts.waiting import wait_for

HEALTH_PATH = "/_localstack/health"  # both emulators answer it


def health(endpoint_url: str, timeout: float = 2.0, path: str = HEALTH_PATH) -> dict | None:
    """The emulator's health document, or None when nothing (or no emulator) answers."""
    try:
        with urllib.request.urlopen(endpoint_url + path, timeout=timeout) as answer:
            document = json.loads(answer.read() or b"{}")
            return document if isinstance(document, dict) and "services" in document else None
    except (OSError, ValueError, urllib.error.URLError):
        return None


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_backend(settings: Settings) -> dict:
    """Fail with what to run when no emulator answers."""
    document = health(settings.endpoint_url)
    if document is None:
        if settings.is_local and port_open(settings.port):
            raise UserError(
                f"something answers on port {settings.port} but it is not an AWS emulator "
                f"({settings.endpoint_url}{HEALTH_PATH} gave no health document) - stop it or "
                "point AWS_ENDPOINT_URL at your emulator")
        raise UserError(f"no emulator answers on {settings.endpoint_url} - run: make up")
    return document


def docker_answers() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def emulator_name(endpoint_url: str) -> str:
    """Both answer LocalStack's health path; only MiniStack answers its own."""
    return "ministack" if health(endpoint_url, path="/_ministack/health") else "localstack"


class MiniStack:
    """MiniStack as a process of its own session: it outlives the command that started it,
    and `make down` finds it again through its pid file."""

    def __init__(self, settings: Settings, port: int | None = None, tag: str = "ministack", env: dict | None = None):
        self.port = port or settings.port
        self.log_file = settings.run_dir / f"{tag}.log"
        # env, e.g. {"AUTH": "true"}: IAM enforcement for function credentials
        process_env = dict(os.environ, GATEWAY_PORT=str(self.port), BIND_HOST="127.0.0.1", **(env or {}))
        process_env.pop("AWS_ENDPOINT_URL", None)
        self.process = Background("MiniStack", [sys.executable, "-m", "ministack"], self.log_file, process_env,
                                  settings.run_dir, pid_file=settings.run_dir / f"{tag}.pid")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pid(self) -> int | None:
        return self.process.pid()

    def start(self, timeout: float = 30.0) -> int:
        try:
            return self.process.start(lambda: health(self.url, timeout=1), timeout)
        except ProcessFailed as error:
            raise UserError(str(error)) from None

    def stop(self, timeout: float = 10.0) -> bool:
        return self.process.stop(timeout)


def compose(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "compose", *args], cwd=ROOT)


def up(settings: Settings) -> str:
    """Make sure an emulator answers on the endpoint; returns which one."""
    ministack = MiniStack(settings)
    document = health(settings.endpoint_url)
    if document is not None:
        name = emulator_name(settings.endpoint_url)
        started_here = ministack.pid() is not None or (settings.run_dir / "backend").exists()
        how = "already running" if started_here else "already answering (not started by make up)"
        print(f"backend: {name} {how} on {settings.endpoint_url}")
        if settings.emulator not in ("auto", name):
            raise UserError(f"EMULATOR={settings.emulator} was asked for, but {name} is running on "
                            f"{settings.endpoint_url} - run: make down, then EMULATOR={settings.emulator} make up")
        return name
    if not settings.is_local:
        raise UserError(f"no emulator answers on {settings.endpoint_url}, and it is not local: start it yourself")
    if port_open(settings.port):
        raise UserError(
            f"port {settings.port} is taken by a program that is not an AWS emulator - stop it "
            f"(see: ss -ltnp 'sport = :{settings.port}') or use another port, e.g. "
            f"AWS_ENDPOINT_URL=http://localhost:4567 make up")
    choice = settings.emulator
    if choice == "auto":
        choice = "localstack" if docker_answers() else "ministack"
        print(f"backend: EMULATOR=auto chose {choice} "
              f"({'a Docker engine answers' if choice == 'localstack' else 'no Docker engine answers'})")
    if choice == "localstack":
        if not docker_answers():
            raise UserError("EMULATOR=localstack needs a Docker engine and none answers (docker info failed) - "
                            "start Docker, or run with EMULATOR=ministack")
        if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0:
            raise UserError("the docker compose plugin (Compose v2) is not installed - install it, "
                            "or run with EMULATOR=ministack")
        env_port = str(settings.port)
        os.environ.setdefault("LOCALSTACK_PORT", env_port)
        if compose("up", "-d", "--wait", "localstack").returncode != 0:
            raise UserError("docker compose up failed (see above); a newer LOCALSTACK_IMAGE than 4.14.0 "
                            "needs LOCALSTACK_AUTH_TOKEN in your environment")
        settings.run_dir.mkdir(parents=True, exist_ok=True)
        (settings.run_dir / "backend").write_text("localstack")
        wait_for(lambda: health(settings.endpoint_url), f"LocalStack on {settings.endpoint_url}", timeout=120)
    else:
        started = time.monotonic()
        pid = ministack.start()
        log = ministack.log_file.relative_to(ROOT) if ministack.log_file.is_relative_to(ROOT) else ministack.log_file
        print(f"backend: ministack started (pid {pid}, log {log}) "
              f"on {settings.endpoint_url}, healthy in {time.monotonic() - started:.1f} s")
    return choice


def down(settings: Settings) -> None:
    stopped = False
    if MiniStack(settings).stop():
        print("backend: ministack stopped")
        stopped = True
    marker = settings.run_dir / "backend"
    if marker.exists():
        compose("down", "--remove-orphans")
        marker.unlink()
        print("backend: localstack stopped")
        stopped = True
    if not stopped:
        print("backend: nothing started by make up is running")


def status(settings: Settings) -> int:
    document = health(settings.endpoint_url)
    if document is None:
        print(f"backend: nothing answers on {settings.endpoint_url} - run: make up")
        return 1
    running = sorted(k for k, v in document.get("services", {}).items() if v in ("running", "available"))
    print(f"backend: {emulator_name(settings.endpoint_url)} on {settings.endpoint_url} "
          f"(version {document.get('version', '?')}; {len(running)} services available)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description="start, stop or check the emulator")
    parser.add_argument("action", choices=("up", "down", "status"))
    action = parser.parse_args().action
    settings = Settings.from_env()
    if action == "up":
        up(settings)
    elif action == "down":
        down(settings)
    else:
        return status(settings)
    return 0


if __name__ == "__main__":
    run_main(main)
