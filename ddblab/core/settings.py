"""Every knob of ddblab, read once from the environment, with safe local defaults.

A reader finds each setting here: the endpoint (and the one `make up` remembered), the
region, which emulator, the stack prefix, the API stage, the run directory, and the
mappings' MAX_RECORD_AGE and MAX_RETRIES.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.config import Config

from ddblab.core.kinds import AUTO, EMULATORS
from ddblab.core.processes import started_for_port

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PORT = 4566  # both emulators' edge port
DEFAULT_ENDPOINT = f"http://localhost:{DEFAULT_PORT}"
EMULATOR_ACCOUNT = "000000000000"  # what both emulators answer to GetCallerIdentity
# Emulators accept any credentials; dummy ones keep a real profile out of it.
EMULATOR_ACCESS_KEY = EMULATOR_SECRET_KEY = "test"  # pragma: allowlist secret - the emulators take any key
MINISTACK = "ministack"  # the stem of the run files of the MiniStack make up starts: ministack.pid, ministack.log
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


def per_port(name: str, port: int) -> str:
    """The name of a run file (pid, log, snapshot folder) of the emulator on this port: the name
    itself on the default port, <name>-<port> on any other (ministack.log, ministack-4580.log),
    so two emulators side by side never share a pid file, a log or a snapshot, and make down
    on one endpoint stops and saves only what runs there."""
    if port == DEFAULT_PORT:
        return name
    stem, dot, extension = name.partition(".")
    return f"{stem}-{port}{dot}{extension}"
# Names that mean "the emulator" inside Docker networks; accepted only when they resolve to
# a loopback or private (compose network) address, never because of the name alone.
EMULATOR_NAMES = {"host.docker.internal", "localstack", "ministack"}
ENDPOINT_FILE = "endpoint"  # in the run directory: the endpoint `make up` used
# The stream mappings' failure settings (BACKENDS.md): how long, and how often, a failing
# batch is retried before it goes to the dead-letter queue. MiniStack honours the record age
# only; LocalStack the retries only; AWS both (the age must be -1 or 60..604800 there).
DEFAULT_MAX_RECORD_AGE = 3600
DEFAULT_MAX_RETRIES = 10


class UserError(Exception):
    """A failure the user can fix. The message says what is wrong and what to run; only the
    CLI's entry point (cli.run) turns it into one line and an exit status, so a test, a web
    page or another tool can catch it like any exception."""


def _resolves_locally(host: str) -> bool:
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback
                                   or ipaddress.ip_address(a.split("%")[0]).is_private for a in addresses)


@dataclass(frozen=True)
class Settings:
    endpoint_url: str = DEFAULT_ENDPOINT
    region: str = "us-east-1"
    emulator: str = AUTO  # auto or one of EMULATORS
    prefix: str = ""  # prepended to every resource name: several stacks on one backend
    stage: str = "dev"
    allow_remote: bool = False
    run_dir: Path = ROOT / ".run"
    localstack_image: str = "localstack/localstack:4.14.0"
    endpoint_origin: str = "default"  # default | environment | remembered | argument
    max_record_age: int = DEFAULT_MAX_RECORD_AGE  # seconds; -1: no limit
    max_retries: int = DEFAULT_MAX_RETRIES  # -1: no limit
    # How many batches of one stream shard a mapping runs at once (AWS: 1-10; records of one
    # key stay in order). MiniStack stores it but polls one batch at a time.
    parallelization_factor: int = 1

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        env = os.environ
        run_dir = Path(overrides.get("run_dir") or env.get("RUN_DIR", str(ROOT / ".run")))
        endpoint, origin = cls.endpoint_url, "default"
        if env.get("AWS_ENDPOINT_URL"):
            endpoint, origin = env["AWS_ENDPOINT_URL"], "environment"
        elif (remembered := remembered_endpoint(run_dir)) and remembered.rstrip("/") != cls.endpoint_url:
            endpoint, origin = remembered, "remembered"
        if "endpoint_url" in overrides:
            origin = "argument"
        values: dict[str, Any] = dict(
            endpoint_url=endpoint.rstrip("/"),
            region=env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION") or cls.region,
            emulator=env.get("EMULATOR", "").strip().lower() or cls.emulator,  # `EMULATOR= make up`: unset
            prefix=env.get("STACK_PREFIX", cls.prefix),
            stage=env.get("API_STAGE", cls.stage),
            allow_remote=env.get("ALLOW_REMOTE_ENDPOINT", "") in ("1", "true", "yes"),
            run_dir=run_dir,
            localstack_image=env.get("LOCALSTACK_IMAGE", cls.localstack_image),
            endpoint_origin=origin,
            max_record_age=whole_number(env, "MAX_RECORD_AGE", DEFAULT_MAX_RECORD_AGE, low=1),
            max_retries=whole_number(env, "MAX_RETRIES", DEFAULT_MAX_RETRIES, low=0, high=10000),
            parallelization_factor=parallelization_factor(env.get("PARALLELIZATION_FACTOR", "1")),
        )
        values.update(overrides)
        values["endpoint_url"] = values["endpoint_url"].rstrip("/")
        settings = cls(**values)
        if settings.emulator not in (AUTO, *EMULATORS):
            raise UserError(f"EMULATOR={settings.emulator!r} is not one of {', '.join((AUTO, *EMULATORS))}")
        settings.check_url()
        settings.check_prefix()
        settings.check_local()
        return settings

    def sub(self, prefix: str, **changes) -> "Settings":
        """The same backend with a stack of its own (names prefixed by this prefix too):
        what the tests, the bench and the fault drill run on."""
        return dataclasses.replace(self, prefix=self.prefix + prefix, **changes)

    @property
    def host(self) -> str:
        return urlparse(self.endpoint_url).hostname or ""

    @property
    def port(self) -> int:
        return urlparse(self.endpoint_url).port or DEFAULT_PORT

    @property
    def is_local(self) -> bool:
        host = self.host
        if host in LOOPBACK_NAMES or host.startswith("127."):
            return True
        return host in EMULATOR_NAMES and _resolves_locally(host)

    def check_prefix(self) -> None:
        """STACK_PREFIX starts every resource name: only what every AWS name accepts."""
        if not re.fullmatch(r"[a-zA-Z0-9_.-]*", self.prefix) or len(self.prefix) > 32:
            raise UserError(f"STACK_PREFIX={self.prefix!r}: use at most 32 letters, digits, '-', '_' or '.' "
                            "(table, function and queue names all start with it), e.g. STACK_PREFIX=dev1-")

    def check_url(self) -> None:
        """An endpoint that is no http(s) URL with a host (`notaurl`, `localhost:4566`) is said
        to be that, not a remote endpoint."""
        parsed = urlparse(self.endpoint_url)
        try:
            parsed.port  # noqa: B018 - a port that is not a number, or out of range, raises here
        except ValueError as error:
            if "out of range" in str(error):
                raise UserError(f"AWS_ENDPOINT_URL={self.endpoint_url!r}: the port is out of range (1-65535), "
                                 "e.g. http://localhost:4566") from None
            parsed = parsed._replace(scheme="")
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            where = {"remembered": f" (remembered in {self.run_dir / ENDPOINT_FILE} by make up)",
                     "argument": " (given to this command)"}.get(self.endpoint_origin, "")
            raise UserError(f"AWS_ENDPOINT_URL={self.endpoint_url!r}{where} is not a URL: give http://localhost:4566")

    def check_local(self) -> None:
        if self.is_local or self.allow_remote:
            return
        why = ""
        if self.host in EMULATOR_NAMES:
            why = f" ({self.host} does not resolve to a loopback or Docker network address)"
        raise UserError(
            f"AWS_ENDPOINT_URL={self.endpoint_url} is not a local emulator{why}; ddblab creates and "
            "deletes resources. Set ALLOW_REMOTE_ENDPOINT=1 if you really mean it.")

    def client(self, service: str, **config) -> Any:
        kwargs: dict[str, Any] = {"region_name": self.region, "config": Config(**config) if config else None}
        if self.is_local:
            kwargs.update(endpoint_url=self.endpoint_url, aws_access_key_id=EMULATOR_ACCESS_KEY,
                          aws_secret_access_key=EMULATOR_SECRET_KEY)
        elif self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        return boto3.client(service, **kwargs)  # type: ignore[call-overload]  # a service named at run time

    def run_name(self, name: str, port: int, pid_file: str, variable: str) -> str:
        """The name of an emulator's run file or folder for this port: per_port's, or `name`
        itself while a process started for this port before run files were named by port
        still runs there. pid_file: where its pid file is, relative to the run directory
        ({} for the name); variable: what its environment holds when it serves this port."""
        numbered = per_port(name, port)
        if numbered != name and not (self.run_dir / pid_file.format(numbered)).exists() and started_for_port(
                self.run_dir / pid_file.format(name), variable):
            return name
        return numbered

    def ministack_stem(self, port: int | None = None) -> str:
        """The stem of the pid file and log of the MiniStack make up starts on this port (by
        default the endpoint's)."""
        port = port or self.port
        return self.run_name(MINISTACK, port, "{}.pid", f"GATEWAY_PORT={port}")

    @property
    def ministack_log(self) -> Path:
        return self.run_dir / f"{self.ministack_stem()}.log"

    def remember_endpoint(self) -> None:
        """Called by `make up`: later commands follow this endpoint unless told otherwise."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / ENDPOINT_FILE).write_text(self.endpoint_url + "\n")


def whole_number(env, name: str, default: int, low: int, high: int = 604800) -> int:
    """An integer setting: -1 (no limit) or low..high; anything else is one clear error."""
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        number = int(text)
    except ValueError:
        number = None
    if number is None or not (number == -1 or low <= number <= high):
        raise UserError(f"{name}={text!r}: give a whole number from {low} to {high}, or -1 for no limit")
    return number
def parallelization_factor(text: str) -> int:
    """Batches of one shard in flight at once: 1 to 10, as AWS takes it (no -1 here); unset or empty, 1."""
    text = text.strip() or "1"
    if not text.isdigit() or not 1 <= int(text) <= 10:
        raise UserError(f"PARALLELIZATION_FACTOR={text!r}: give a whole number from 1 to 10 (what AWS accepts)")
    return int(text)


def remembered_endpoint(run_dir: Path) -> str | None:
    try:
        return (Path(run_dir) / ENDPOINT_FILE).read_text().strip() or None
    except OSError:
        return None
