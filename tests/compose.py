"""docker-compose.yml read as compose reads it: the LocalStack service and its environment
with `${VAR:-default}` resolved, so the tests check the file and testcontainers starts
LocalStack with the same settings as `make up`."""
from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

COMPOSE_FILE = Path(__file__).resolve().parents[1] / "docker-compose.yml"
_VARIABLE = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


def compose_file() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def resolve(value, env=None) -> str:
    """`${NAME:-default}` as compose resolves it: the variable when set and not empty, else the default."""
    env = os.environ if env is None else env
    return _VARIABLE.sub(lambda m: env.get(m.group(1)) or (m.group(2) or ""), str(value))


def localstack_environment(env=None) -> dict:
    return {name: resolve(value, env) for name, value in compose_file()["services"]["localstack"]["environment"].items()}
