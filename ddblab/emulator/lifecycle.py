"""Start, stop and check the emulator: LocalStack through docker compose where a Docker
engine answers (or EMULATOR=localstack), MiniStack as a local process otherwise."""
from __future__ import annotations

import time

from ddblab.core.kinds import Backend
from ddblab.core.settings import ROOT, Settings, UserError
from ddblab.emulator import localstack
from ddblab.emulator.health import UNKNOWN, backend_label, docker_answers, emulator_name, health, not_an_emulator, port_open
from ddblab.emulator.ministack import MiniStack

IN_MEMORY = "the emulator keeps its state in memory, so the previous stack and data are gone"


def up(settings: Settings) -> str:
    """Make sure an emulator answers on the endpoint; returns which one."""
    ministack = MiniStack(settings)
    document = health(settings.endpoint_url)
    if document is not None:
        name = emulator_name(settings.endpoint_url)
        mine = ministack.pid() is not None or localstack.started_here(settings)
        state = "already running" if mine else "already answering (not started by make up)"
        print(f"backend: {backend_label(name)} {state} on {settings.endpoint_url}")
        if name == UNKNOWN and settings.emulator != "auto":
            print(f"backend: could not tell whether it is {settings.emulator} (neither health answer was conclusive); "
                  "using it as it is")
        elif settings.emulator not in ("auto", name):
            raise UserError(f"EMULATOR={settings.emulator} was asked for, but {name} is running on "
                            f"{settings.endpoint_url} - run: make down, then EMULATOR={settings.emulator} make up")
        settings.remember_endpoint()
        return name
    if not settings.is_local:
        raise UserError(f"no emulator answers on {settings.endpoint_url}, and it is not local: start it yourself")
    if port_open(settings.port):
        another = "use another port, e.g. AWS_ENDPOINT_URL=http://localhost:4567 make up"
        raise UserError(not_an_emulator(settings).replace("point AWS_ENDPOINT_URL at your emulator", another))
    if ministack.crashed():
        print(f"backend: the MiniStack started earlier is gone (it stopped without make down); {IN_MEMORY}")
    choice = settings.emulator
    if choice == "auto":
        choice = "localstack" if docker_answers() else "ministack"
        print(f"backend: EMULATOR=auto chose {choice} "
              f"({'a Docker engine answers' if choice == 'localstack' else 'no Docker engine answers'})")
    if choice == Backend.LOCALSTACK:
        localstack.start(settings)
        print(f"backend: localstack started on {settings.endpoint_url}")
    else:
        started = time.monotonic()
        pid = ministack.start()
        log = ministack.log_file.relative_to(ROOT) if ministack.log_file.is_relative_to(ROOT) else ministack.log_file
        print(f"backend: ministack started (pid {pid}, log {log}) "
              f"on {settings.endpoint_url}, healthy in {time.monotonic() - started:.1f} s")
    settings.remember_endpoint()
    return choice


def down(settings: Settings) -> None:
    stopped = []
    if MiniStack(settings).stop():
        stopped.append("ministack")
    if localstack.stop(settings):
        stopped.append("localstack")
    # The endpoint stays remembered: after make down, a command says that nothing answers
    # *there* (and make up starts there again), never quietly falls back to another port.
    for name in stopped:
        print(f"backend: {name} stopped ({IN_MEMORY.replace('are gone', 'went with it')})")
    if not stopped:
        print("backend: nothing started by make up is running")


def status_line(settings: Settings) -> tuple:
    """(ok, one line saying which emulator answers where, or what is wrong and what to run)."""
    document = health(settings.endpoint_url)
    if document is None:
        if settings.is_local and port_open(settings.port):
            return False, f"backend: {not_an_emulator(settings)}"
        return False, f"backend: nothing answers on {settings.endpoint_url} - run: make up"
    running = sorted(k for k, v in document.get("services", {}).items() if v in ("running", "available"))
    return True, (f"backend: {backend_label(emulator_name(settings.endpoint_url))} on {settings.endpoint_url} "
                  f"(version {document.get('version', '?')}; {len(running)} services available)")
