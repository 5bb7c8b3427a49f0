"""LocalStack through Docker Compose (docker-compose.yml at the project root)."""
from __future__ import annotations

import os
import subprocess

from ddblab.core.settings import DEFAULT_PORT, ROOT, Settings, UserError
from ddblab.core.waiting import wait_for
from ddblab.emulator.health import docker_answers, health

MARKER = "backend"  # in the run directory: compose was started by make up, "localstack <port>"


def compose(*args: str, capture: bool = False, port: int | None = None) -> subprocess.CompletedProcess:
    """docker compose in the project; port: the one docker-compose.yml publishes (its
    LOCALSTACK_PORT): the endpoint's, whatever the shell exported."""
    env = None if port is None else {**os.environ, "LOCALSTACK_PORT": str(port)}
    return subprocess.run(["docker", "compose", *args], cwd=ROOT, capture_output=capture, text=True, env=env)


def start(settings: Settings) -> None:
    running = started_on(settings)
    if running is not None and running != settings.port:
        # docker-compose.yml has one localstack service: a second make up would move it.
        raise UserError(f"LocalStack in Docker already runs for this checkout on port {running} (one per checkout) - "
                        f"stop it first (AWS_ENDPOINT_URL=http://localhost:{running} make down), or run a second "
                        "emulator with EMULATOR=ministack or EMULATOR=localstack-host")
    if not docker_answers():
        raise UserError("EMULATOR=localstack needs a Docker engine and none answers (docker info failed) - "
                        "start Docker, or run with EMULATOR=localstack-host (LocalStack's own runtime on the host, no Docker) "
                        "or EMULATOR=ministack")
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0:
        raise UserError("the docker compose plugin (Compose v2) is not installed - install it, "
                        "or run with EMULATOR=ministack")
    # Written first, so that make down can stop a start that failed halfway.
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    (settings.run_dir / MARKER).write_text(f"localstack {settings.port}")
    if compose("up", "-d", "--wait", "localstack", port=settings.port).returncode != 0:
        raise UserError(failure_reason(settings) + " - then: make down; make up")
    wait_for(lambda: health(settings.endpoint_url), f"LocalStack on {settings.endpoint_url}", timeout=120)


def failure_reason(settings: Settings) -> str:
    """Why compose up failed, from the container's state and log, not a guess."""
    state = compose("ps", "--all", "--format", "{{.State}} {{.ExitCode}}", "localstack", capture=True).stdout.strip()
    log = compose("logs", "--tail", "20", "localstack", capture=True).stdout
    if state.endswith(" 55") or "auth token" in log.lower() or "LOCALSTACK_AUTH_TOKEN" in log:
        return (f"LocalStack ({settings.localstack_image}) refused to start without an auth token: images newer "
                "than 4.14.0 need LOCALSTACK_AUTH_TOKEN in your environment (a free Hobby token works), or "
                "unset LOCALSTACK_IMAGE to use 4.14.0")
    if "port is already allocated" in log or "address already in use" in log:
        return f"port {settings.port} is taken on the Docker host - free it, or use AWS_ENDPOINT_URL=http://localhost:4567"
    tail = "\n  ".join(log.strip().splitlines()[-8:])
    return f"docker compose up failed (container: {state or 'not created'}); its log ends:\n  {tail}"


def started_on(settings: Settings) -> int | None:
    """The port of the LocalStack make up started in Docker from this checkout, if it did."""
    try:
        words = (settings.run_dir / MARKER).read_text().split()
    except OSError:
        return None
    return int(words[1]) if len(words) > 1 and words[1].isdigit() else DEFAULT_PORT  # older markers: "localstack"


def started_here(settings: Settings) -> bool:
    """make up started LocalStack in Docker from this checkout, on this endpoint's port."""
    return started_on(settings) == settings.port


def stop(settings: Settings) -> bool:
    marker = settings.run_dir / MARKER
    if not started_here(settings):
        return False
    # A clean stop (not a forced removal) lets LocalStack remove its Lambda containers.
    compose("stop", "--timeout", "30", "localstack")
    compose("down", "--remove-orphans")
    marker.unlink()
    return True
