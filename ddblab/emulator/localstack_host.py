"""LocalStack 4.14.0's own runtime on the host, with no Docker (EMULATOR=localstack-host).

For users who cannot run Docker (corporate laptops, CI runners). What it is, and how far it is
from LocalStack in its container: the Lambda service, the stream pollers, API Gateway,
CloudFormation, SQS, IAM, STS, Logs and S3 are LocalStack's own code; DynamoDB and its streams
are served by moto (LocalStack's DynamoDB Local is a Java download that is not open source), and
functions run as host processes (localstack_host/, a `host` runtime executor) on an interpreter
of their own with boto3, not in the Lambda runtime image.

What `make up` does for it, each step once and then reused:
- Python 3.13 (4.14.0 needs it): LOCALSTACK_PYTHON, a python3.13 on PATH or in pyenv, or one
  built from Debian's source package into a cache outside the clone (about 3 minutes on 2 cores);
- LocalStack's virtualenv from the committed lock, plus the project's localstack_host package;
- the functions' virtualenv (Python 3.12 where there is one, as the functions' runtime says), boto3;
- LocalStack on loopback, its pid, log, temporary files and filesystem root in the run directory.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ddblab.core.kinds import Backend
from ddblab.core.processes import Background, ProcessFailed
from ddblab.core.settings import ROOT, Settings, UserError
from ddblab.emulator.health import free_port, health, is_host_runtime

NAME = Backend.LOCALSTACK_HOST.value
PACKAGE = ROOT / "localstack_host"
LOCK = PACKAGE / "requirements-localstack-4.14.0-py313.txt"
VENVS = ROOT / ".run" / NAME  # shared by make up and the tests' own instances
SERVICES = "dynamodb,dynamodbstreams,lambda,sqs,iam,sts,logs,apigateway,cloudformation,s3"
START_TIMEOUT = 90.0
# Where a Python built here is kept: outside the clone, so every clone on the machine reuses it.
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ddb-streams-lab"
NEEDED_MODULES = ("ssl", "sqlite3", "ctypes", "zlib", "lzma", "bz2", "readline")
BUILD_PACKAGES = ("apt-get install build-essential libssl-dev libsqlite3-dev libffi-dev zlib1g-dev liblzma-dev "
                  "libbz2-dev libreadline-dev")
DEBIAN_SOURCE = "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main"


# --- the interpreters

def _version(python: str) -> tuple | None:
    try:
        answer = subprocess.run([python, "-c", "import sys; print(*sys.version_info[:2])"],
                                capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    parts = answer.stdout.split()
    return tuple(int(p) for p in parts) if answer.returncode == 0 and len(parts) == 2 else None


def _candidates(minor: int) -> list:
    found: list[str | Path | None] = [shutil.which(f"python3.{minor}")]
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    found += sorted(pyenv.glob(f"3.{minor}.*/bin/python3.{minor}"), reverse=True)
    found.append(CACHE / f"python3.{minor}" / "bin" / f"python3.{minor}")
    return [str(p) for p in found if p]


def find_python(minor: int) -> str | None:
    """A Python 3.<minor> that runs (a pyenv shim for a version not selected does not)."""
    for python in _candidates(minor):
        if Path(python).exists() and _version(python) == (3, minor):
            return python
    return None


def localstack_python() -> str:
    wanted = os.environ.get("LOCALSTACK_PYTHON")
    if wanted:
        version = _version(wanted)
        if version is None or version < (3, 13):
            raise UserError(f"LOCALSTACK_PYTHON={wanted} is not a Python 3.13 that runs (LocalStack 4.14.0 needs 3.13) "
                            "- unset it to let make up find or build one")
        return wanted
    return find_python(13) or build_python()


def build_python() -> str:
    """Python 3.13 from Debian's source package (trixie), built into the cache, once per machine."""
    prefix = CACHE / "python3.13"
    work = CACHE / "build-python3.13"
    missing = [tool for tool in ("apt-get", "gcc", "make", "tar") if shutil.which(tool) is None]
    if missing:
        raise UserError(f"no Python 3.13 found (LocalStack 4.14.0 needs it), and this machine has no {', '.join(missing)} "
                        "to build one from Debian's source package - install Python 3.13 (e.g. pyenv install 3.13) "
                        "and run: LOCALSTACK_PYTHON=/path/to/python3.13 EMULATOR=localstack-host make up")
    print(f"localstack-host: no Python 3.13 found (LocalStack 4.14.0 needs it); building one from Debian's source "
          f"package into {prefix} - once per machine, about 3 minutes on 2 cores", flush=True)
    shutil.rmtree(work, ignore_errors=True)
    (work / "apt" / "lists" / "partial").mkdir(parents=True)
    (work / "apt" / "cache" / "archives" / "partial").mkdir(parents=True)
    (work / "apt" / "sources.list").write_text(DEBIAN_SOURCE + "\n")
    apt = ["apt-get", "-q", "-o", f"Dir::Etc::sourcelist={work / 'apt' / 'sources.list'}", "-o", "Dir::Etc::sourceparts=-",
           "-o", f"Dir::State::Lists={work / 'apt' / 'lists'}", "-o", f"Dir::Cache={work / 'apt' / 'cache'}"]
    log = work / "build.log"
    steps = [
        ("fetching the source package list", apt + ["update"], work),
        ("downloading python3.13's source package", apt + ["source", "--download-only", "python3.13"], work),
    ]
    for what, command, cwd in steps:
        _step(what, command, cwd, log)
    tarball = next((p for p in work.glob("python3.13_*.orig.tar.*") if not p.name.endswith(".asc")), None)
    if tarball is None:
        raise UserError(f"Debian's python3.13 source package has no .orig tarball in {work} - see {log}")
    _step(f"unpacking {tarball.name}", ["tar", "xf", tarball.name], work, log)
    source = next(p for p in work.iterdir() if p.is_dir() and p.name.lower().startswith("python-3.13"))
    jobs = str(os.cpu_count() or 2)
    _step("configuring", ["./configure", f"--prefix={prefix}", "--with-ensurepip=install"], source, log)
    _step(f"compiling (make -j{jobs})", ["make", f"-j{jobs}"], source, log)
    _step("installing", ["make", "install"], source, log)
    shutil.rmtree(work, ignore_errors=True)
    python = prefix / "bin" / "python3.13"
    if _version(str(python)) != (3, 13):
        raise UserError(f"the Python built into {prefix} does not run - remove {prefix} and run make up again")
    modules = subprocess.run([str(python), "-c", f"import {', '.join(NEEDED_MODULES)}"], capture_output=True, text=True)
    if modules.returncode != 0:
        shutil.rmtree(prefix, ignore_errors=True)
        why = modules.stderr.strip().splitlines()[-1]
        raise UserError(f"the Python 3.13 built here lacks a module LocalStack needs ({why}): "
                        f"install the headers it builds with ({BUILD_PACKAGES}) and run make up again")
    return str(python)


def _step(what: str, command: list, cwd: Path, log: Path) -> None:
    started = time.monotonic()
    print(f"  {what} ...", end="", flush=True)
    with open(log, "ab") as out:
        code = subprocess.run(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).returncode
    print(f" {time.monotonic() - started:.0f} s", flush=True)
    if code != 0:
        tail = "\n    ".join(log.read_text(errors="replace").splitlines()[-10:])
        raise UserError(f"building Python 3.13 failed while {what} (exit {code}); {log} ends:\n    {tail}\n"
                        "  or point LOCALSTACK_PYTHON at a Python 3.13 of your own")


# --- the two virtualenvs

def _uv() -> list | None:
    for uv in (Path(sys.executable).parent / "uv", shutil.which("uv")):
        if uv and Path(uv).exists():
            return [str(uv)]
    return None


def _fingerprint(*parts) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else str(part).encode())
    return digest.hexdigest()[:16]


def _package_files() -> list:
    """What the installed package is built from (not what an install leaves beside it: build/, egg-info)."""
    return sorted([PACKAGE / "pyproject.toml", *(PACKAGE / "ddblab_localstack_host").glob("*.py")])


def _pins(*names: str) -> list:
    """The lock's own pins of these packages (the functions get the boto3 LocalStack was released with)."""
    pins = {line.split("==")[0].lower(): line.strip() for line in LOCK.read_text().splitlines() if "==" in line}
    return [pins[name] for name in names]


def _venv(path: Path, python: str, requirements: list, stamp: str, what: str) -> Path:
    """A virtualenv at path with what the requirements say; rebuilt only when the stamp changed."""
    marker = path / ".ddblab-stamp"
    if marker.exists() and marker.read_text() == stamp and (path / "bin" / "python").exists():
        return path / "bin" / "python"
    started = time.monotonic()
    print(f"localstack-host: installing {what} into {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}",
          flush=True)
    shutil.rmtree(path, ignore_errors=True)
    uv = _uv()
    if uv:
        commands = [uv + ["venv", "-q", "--python", python, str(path)],
                    uv + ["pip", "install", "-q", "--python", str(path / "bin" / "python"), *requirements]]
    else:
        commands = [[python, "-m", "venv", str(path)],
                    [str(path / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", *requirements]]
    for command in commands:
        answer = subprocess.run(command, capture_output=True, text=True)
        if answer.returncode != 0:
            shutil.rmtree(path, ignore_errors=True)
            tail = "\n  ".join((answer.stderr or answer.stdout).strip().splitlines()[-8:])
            raise UserError(f"could not install {what} ({' '.join(command[:3])} ... failed):\n  {tail}")
    marker.write_text(stamp)
    print(f"localstack-host: {what} installed in {time.monotonic() - started:.0f} s", flush=True)
    return path / "bin" / "python"


def prepare() -> tuple:
    """(LocalStack's python, the functions' python), installing what is missing."""
    python = localstack_python()
    package_stamp = _fingerprint(python, LOCK.read_bytes(), *(p.read_bytes() for p in _package_files()))
    localstack = _venv(VENVS / "venv", python, ["-r", str(LOCK), str(PACKAGE)], package_stamp,
                       "LocalStack 4.14.0 (from the lock) and the host executor")
    functions_base = find_python(12) or python
    boto = _pins("boto3", "botocore")
    functions = _venv(VENVS / "functions", functions_base, boto, _fingerprint(functions_base, *boto),
                      "the functions' interpreter (boto3, nothing of LocalStack's)")
    return localstack, functions


# --- the running emulator

INIT_HOOKS = ROOT / "scripts" / "ready.d"  # what docker-compose.yml mounts at /etc/localstack/init/ready.d


# LocalStack's stream pollers (lambda_/event_source_mapping/esm_worker.py) wait
# LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC, 1 s by default, after every poll, a busy one
# too, and a poll reads one batch of one shard (pollers/stream_poller.py, whose own comment
# says it "limits the throughput to at most batch size per poll interval"): a change waited up
# to 1 s before its function saw it. AWS polls each shard 4 times a second ("Polling and
# batching streams" in the Lambda guide's DynamoDB page); so do these. docker-compose.yml
# sets the same.
STREAM_POLLING = {"LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC": "0.25"}


class LocalStackHost:
    """init_hooks: run the project's LocalStack init hooks (scripts/ready.d), as `docker compose up`
    does; make up converges from outside instead, so it leaves them out."""

    def __init__(self, settings: Settings, port: int | None = None, init_hooks: bool = False):
        self.port = port or settings.port
        self.init_hooks = init_hooks
        self.home = settings.run_dir / settings.run_name(NAME, self.port, "{}/localstack.pid",
                                                         f"GATEWAY_LISTEN=127.0.0.1:{self.port}")
        self.log_file = self.home / "localstack.log"
        self.pid_file = self.home / "localstack.pid"
        self._process: Background | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self, functions_python: Path) -> dict:
        ports = free_port()
        env = {name: value for name, value in os.environ.items()
               if not name.startswith(("AWS_", "LOCALSTACK_", "PYTHON")) and name not in ("DEBUG", "SERVICES", "EMULATOR")}
        env.update({
            "GATEWAY_LISTEN": f"127.0.0.1:{self.port}",
            "LOCALSTACK_HOST": f"127.0.0.1:{self.port}",
            "SERVICES": SERVICES,
            "PERSISTENCE": "0",
            "FILESYSTEM_ROOT": str(self.home / "fs"),
            "TMPDIR": str(self.home / "tmp"),
            # These machines may carry /.dockerenv: without this LocalStack assumes the container's layout.
            "OVERRIDE_IN_DOCKER": "0",
            "DNS_ADDRESS": "0",
            "DISABLE_EVENTS": "1",
            "SKIP_SSL_CERT_DOWNLOAD": "1",
            "LOCALSTACK_CLI": "0",
            "EXTERNAL_SERVICE_PORTS_START": str(ports),
            "EXTERNAL_SERVICE_PORTS_END": str(ports + 1),
            "PROVIDER_OVERRIDE_DYNAMODB": "moto",
            "PROVIDER_OVERRIDE_DYNAMODBSTREAMS": "moto",
            "LAMBDA_RUNTIME_EXECUTOR": "host",
            "DDBLAB_LAMBDA_PYTHON": str(functions_python),
            "DDBLAB_ROOT": str(ROOT),  # where the init hook finds the project (the container mounts it)
            **STREAM_POLLING,
            # Function output in the log, the rest at warnings (see the README's LocalStack log recipe).
            "DEBUG": "1",
            "LOG_LEVEL_OVERRIDES": "root=WARNING,localstack=WARNING,localstack.request=WARNING,"
                                   "localstack.services.lambda_.invocation.version_manager=DEBUG,plux=WARNING",
        })
        return env

    def _background(self, env: dict | None = None, command: list | None = None) -> Background:
        return Background("LocalStack (host)", command or [], self.log_file, env or {}, self.home, pid_file=self.pid_file)

    def pid(self) -> int | None:
        return self._background().pid()

    def crashed(self) -> bool:
        return self.pid_file.exists() and self.pid() is None

    def start(self, timeout: float = START_TIMEOUT) -> int:
        localstack_python, functions_python = prepare()
        for folder in ("fs", "tmp"):
            shutil.rmtree(self.home / folder, ignore_errors=True)  # state is in memory: a start is a fresh start
            (self.home / folder).mkdir(parents=True, exist_ok=True)
        if self.init_hooks:  # LocalStack's init root in host mode: <FILESYSTEM_ROOT>/etc/localstack/init
            shutil.copytree(INIT_HOOKS, self.home / "fs" / "etc" / "localstack" / "init" / "ready.d")
        self.log_file.unlink(missing_ok=True)
        self._process = self._background(self.environment(functions_python),
                                         [str(localstack_python), "-m", "ddblab_localstack_host.launch"])
        try:
            return self._process.start(lambda: is_host_runtime(health(self.url, timeout=1)), timeout)
        except ProcessFailed as error:
            raise UserError(str(error)) from None

    def stop(self, timeout: float = 30.0) -> bool:
        """LocalStack stops its functions' processes itself on a clean stop (SIGTERM); the
        process group goes with it, and anything left ends when it sees its parent gone."""
        return (self._process or self._background()).stop(timeout)

