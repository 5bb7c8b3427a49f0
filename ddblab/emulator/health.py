"""Is an emulator there, which one, and is a port free: the questions every command asks first."""
from __future__ import annotations

import json
import socket
import subprocess
import urllib.error
import urllib.request

from ddblab.core.settings import Settings, UserError

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


def not_an_emulator(settings: Settings) -> str:
    return (f"port {settings.port} is taken by a program that is not an AWS emulator "
            f"({settings.endpoint_url}{HEALTH_PATH} gave no health document) - stop it "
            f"(see: ss -ltnp 'sport = :{settings.port}') or point AWS_ENDPOINT_URL at your emulator")


def require_backend(settings: Settings) -> dict:
    """Fail with what to run when no emulator answers."""
    document = health(settings.endpoint_url)
    if document is None:
        if settings.is_local and port_open(settings.port, settings.host if settings.host != "localhost" else "127.0.0.1"):
            raise UserError(not_an_emulator(settings))
        where = " (the endpoint make up remembered)" if settings.endpoint_origin == "remembered" else ""
        raise UserError(f"no emulator answers on {settings.endpoint_url}{where} - run: make up")
    return document


def require_alive(settings: Settings, grace: float = 3.0) -> None:
    """For long waits: fail within seconds, with what to run, when the emulator went away."""
    import time
    deadline = time.monotonic() + grace
    while health(settings.endpoint_url, timeout=1.0) is None:
        if time.monotonic() >= deadline:
            raise UserError(
                f"the emulator on {settings.endpoint_url} stopped answering; it keeps its state in memory, so "
                "the stack and its data are gone - run: make up (then make seed)")
        time.sleep(0.2)


def docker_answers() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def emulator_name(endpoint_url: str) -> str:
    """Both answer LocalStack's health path; only MiniStack answers its own."""
    return "ministack" if health(endpoint_url, path="/_ministack/health") else "localstack"
