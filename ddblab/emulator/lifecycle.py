"""Start, stop and check the emulator: LocalStack through docker compose where a Docker
engine answers (or EMULATOR=localstack), MiniStack as a local process otherwise, and
LocalStack's own runtime on the host when asked for (EMULATOR=localstack-host)."""
from __future__ import annotations

import time

from ddblab.core.kinds import AUTO, Backend
from ddblab.core.settings import ROOT, Settings, UserError
from ddblab.emulator import localstack
from ddblab.emulator.health import (
    answering,
    backend_answering,
    backend_label,
    docker_answers,
    health,
    not_an_emulator,
    port_open,
)
from ddblab.emulator.localstack_host import LocalStackHost
from ddblab.emulator.ministack import MiniStack

IN_MEMORY = "the emulator keeps its state in memory, so the previous stack and data are gone"


def up(settings: Settings) -> str:
    """Make sure an emulator answers on the endpoint; returns which one."""
    ministack, host = MiniStack(settings), LocalStackHost(settings)
    document = health(settings.endpoint_url)
    if document is not None:
        name = already_answering(settings, document, ministack, host)
        settings.remember_endpoint()
        return name
    check_can_start(settings, ministack, host)
    choice = settings.emulator
    if choice == AUTO:
        choice = Backend.LOCALSTACK if docker_answers() else Backend.MINISTACK
        print(f"backend: EMULATOR=auto chose {choice} "
              f"({'a Docker engine answers' if choice == Backend.LOCALSTACK else 'no Docker engine answers'})")
    start(settings, choice, ministack, host)
    settings.remember_endpoint()
    return choice


def already_answering(settings: Settings, document: dict, ministack: MiniStack, host: LocalStackHost) -> str:
    """Which emulator answers (said, with whether make up started it); refused when it is not
    the one EMULATOR asks for."""
    name = backend_answering(settings.endpoint_url, document)
    mine = ministack.pid() is not None or localstack.started_here(settings) or host.pid() is not None
    state = "already running" if mine else "already answering (not started by make up)"
    print(f"backend: {backend_label(name)} {state} on {settings.endpoint_url}")
    if name == Backend.UNKNOWN and settings.emulator != AUTO:
        print(f"backend: could not tell whether it is {settings.emulator} (neither health answer was conclusive); "
              "using it as it is")
    elif settings.emulator not in (AUTO, name):
        raise UserError(f"EMULATOR={settings.emulator} was asked for, but {name} is running on "
                        f"{settings.endpoint_url} - run: make down, then EMULATOR={settings.emulator} make up")
    return name


def check_can_start(settings: Settings, ministack: MiniStack, host: LocalStackHost) -> None:
    """Refuse a remote endpoint or a port another program holds; say when one we started died."""
    if not settings.is_local:
        raise UserError(f"no emulator answers on {settings.endpoint_url}, and it is not local: start it yourself")
    if port_open(settings.port):
        another = "use another port, e.g. AWS_ENDPOINT_URL=http://localhost:4567 make up"
        raise UserError(not_an_emulator(settings).replace("point AWS_ENDPOINT_URL at your emulator", another))
    if ministack.crashed():
        print(f"backend: the MiniStack started earlier is gone (it stopped without make down); {IN_MEMORY}")
    if host.crashed():
        print(f"backend: the LocalStack started earlier on the host is gone (it stopped without make down); {IN_MEMORY}")


def start(settings: Settings, choice: str, ministack: MiniStack, host: LocalStackHost) -> None:
    if choice == Backend.LOCALSTACK:
        localstack.start(settings)
        print(f"backend: localstack started on {settings.endpoint_url}")
    elif choice == Backend.LOCALSTACK_HOST:
        started = time.monotonic()
        pid = host.start()
        print(f"backend: localstack-host started: LocalStack 4.14.0's runtime on the host (pid {pid}, log "
              f"{_relative(host.log_file)}), DynamoDB by moto, functions as host processes, on {settings.endpoint_url}, "
              f"healthy in {time.monotonic() - started:.1f} s")
    else:
        started = time.monotonic()
        pid = ministack.start()
        print(f"backend: ministack started (pid {pid}, log {_relative(ministack.log_file)}) "
              f"on {settings.endpoint_url}, healthy in {time.monotonic() - started:.1f} s")


def down(settings: Settings) -> None:
    stopped = []
    if MiniStack(settings).stop():
        stopped.append("ministack")
    if localstack.stop(settings):
        stopped.append("localstack")
    if LocalStackHost(settings).stop():
        stopped.append(Backend.LOCALSTACK_HOST)
    # The endpoint stays remembered: after make down, a command says that nothing answers
    # *there* (and make up starts there again), never quietly falls back to another port.
    for name in stopped:
        print(f"backend: {name} stopped ({IN_MEMORY.replace('are gone', 'went with it')})")
    if not stopped:
        print("backend: nothing started by make up is running")


def _relative(path):
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def status_line(settings: Settings) -> tuple:
    """(ok, one line saying which emulator answers where, or what is wrong and what to run)."""
    document = health(settings.endpoint_url)
    if document is None:
        if settings.is_local and port_open(settings.port):
            return False, f"backend: {not_an_emulator(settings)}"
        return False, f"backend: nothing answers on {settings.endpoint_url} - run: make up"
    running = sorted(k for k, v in document.get("services", {}).items() if v in ("running", "available"))
    return True, (f"backend: {answering(settings.endpoint_url, document)} on {settings.endpoint_url} "
                  f"(version {document.get('version', '?')}; {len(running)} services available)")
