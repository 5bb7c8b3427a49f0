"""Is an emulator there, which one, and is a port free: the questions every command asks first."""
from __future__ import annotations

import http.client
import json
import socket
import subprocess
import time
import urllib.error
import urllib.request

from ddblab.core.kinds import Backend
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


MINISTACK_HEALTH_PATH = "/_ministack/health"
# MiniStack answers HEALTH_PATH too, with the same document as its own path
# (ministack/app.py, _handle_health_request: services, auth, edition "light", version,
# iot_mtls, ready_scripts). LocalStack 4.14 answers it with its services, "edition" (the
# image's marker file: "community", "pro", ...) and "version", plus whatever was PUT into
# its state (localstack-core/localstack/services/internal.py, HealthResource.on_get and
# utils/analytics/metadata.py, get_localstack_edition), and nothing on MiniStack's path.
MINISTACK_ONLY_KEYS = frozenset({"auth", "iot_mtls", "ready_scripts"})


def _probe(url: str, timeout: float) -> dict | None:
    """The health document at url; None for a definite answer that is not one (a 404, an
    S3 error page); OSError when nothing answered in time, which is worth asking again."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            document = json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError:
        return None
    except urllib.error.URLError as e:
        raise OSError(str(e.reason)) from None
    except OSError:  # a timeout or a dropped connection (RemoteDisconnected is both kinds)
        raise
    except (http.client.HTTPException, ValueError):
        return None
    return document if isinstance(document, dict) and "services" in document else None


def _ask(url: str, timeout: float, attempts: int) -> dict | None:
    """_probe, asked again when nothing answered (a busy emulator); None in the end."""
    for attempt in range(attempts):
        try:
            return _probe(url, timeout)
        except OSError:
            if attempt + 1 < attempts:
                time.sleep(0.5)
    return None


def is_localstack(document: dict) -> bool:
    """LocalStack's health document, positively: edition and version, none of MiniStack's keys."""
    return (isinstance(document.get("edition"), str) and isinstance(document.get("version"), str)
            and not MINISTACK_ONLY_KEYS & document.keys())


def emulator_name(endpoint_url: str, timeout: float = 5.0, attempts: int = 3) -> Backend:
    """"ministack" when MiniStack's own health path answers, "localstack" when LocalStack's
    health answer is positively LocalStack's, otherwise "unknown" (slow, gone, or another
    emulator): callers never mistake one for the other because a probe timed out."""
    if _ask(endpoint_url + MINISTACK_HEALTH_PATH, timeout, attempts) is not None:
        return Backend.MINISTACK
    document = _ask(endpoint_url + HEALTH_PATH, timeout, attempts)
    return Backend.LOCALSTACK if document is not None and is_localstack(document) else Backend.UNKNOWN


def backend_label(name: str) -> str:
    """How messages name a backend: "unknown" reads as "unknown emulator"."""
    return "unknown emulator" if name == Backend.UNKNOWN else str(name)


HOST_RUNTIME_KEY = "host-runtime"  # what localstack_host's ready hook puts into LocalStack's health document
HOST_RUNTIME_LABEL = "localstack-host (LocalStack 4.14.0's runtime on the host; DynamoDB by moto, functions as host processes)"


def is_host_runtime(document: dict | None) -> bool:
    """The health document of LocalStack run on the host by EMULATOR=localstack-host."""
    return document is not None and isinstance(document.get(HOST_RUNTIME_KEY), dict)


def backend_answering(endpoint_url: str, document: dict | None = None, name: str | None = None) -> str:
    """Which backend answers on this endpoint: emulator_name's answer, with LocalStack's runtime
    on the host (EMULATOR=localstack-host) told apart from LocalStack in Docker. document: the
    endpoint's health, if already read; name: emulator_name's answer, if already asked (it probes
    up to twice). The one place that tells the two LocalStacks apart."""
    name = name or emulator_name(endpoint_url)
    if name == Backend.LOCALSTACK and is_host_runtime(document if document is not None else health(endpoint_url)):
        return Backend.LOCALSTACK_HOST
    return name


def answering(endpoint_url: str, document: dict | None = None) -> str:
    """How messages name the backend answering on this endpoint (document: its health, if read)."""
    name = backend_answering(endpoint_url, document)
    return HOST_RUNTIME_LABEL if name == Backend.LOCALSTACK_HOST else backend_label(name)
