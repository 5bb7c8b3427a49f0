"""The tables in a browser: dynamodb-admin (npm), the tool local DynamoDB users already
know, installed into the project (node_modules/, from package-lock.json) on first use and
pointed at the emulator; it listens on loopback only."""
from __future__ import annotations

import os
import shutil
import subprocess

from ddblab.core.settings import EMULATOR_ACCESS_KEY, EMULATOR_SECRET_KEY, ROOT, Settings, UserError

BIN = ROOT / "node_modules" / ".bin" / "dynamodb-admin"
DEFAULT_PORT = 8001


def require_node() -> str:
    npm = shutil.which("npm")
    if not shutil.which("node") or not npm:
        raise UserError("make ui needs Node.js and npm (dynamodb-admin is an npm package): install them, e.g. "
                        "apt-get install nodejs npm, or from https://nodejs.org - everything else works without them")
    return npm


INSTALL_TIMEOUT = 600  # npm ci of dynamodb-admin takes well under a minute on a reachable registry


def install(quiet: bool = False) -> None:
    """npm ci into the project the first time (the lock file pins every package)."""
    if BIN.exists():
        return
    npm = require_node()
    if not quiet:
        print("installing dynamodb-admin into node_modules/ (first use only)")
    command = [npm, "ci" if (ROOT / "package-lock.json").exists() else "install", "--no-audit", "--no-fund", "--silent"]
    try:
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise UserError(f"{' '.join(command[:2])} did not finish in {INSTALL_TIMEOUT} s - check that the npm registry "
                        "is reachable (npm config get registry), then run make ui again") from None
    if result.returncode != 0 or not BIN.exists():
        raise UserError(f"{' '.join(command[:2])} failed: {(result.stderr or result.stdout).strip()[-500:]} - "
                        "check that the npm registry is reachable, then run make ui again")


def command(settings: Settings, port: int) -> tuple:
    """(argv, env) of a dynamodb-admin for this emulator on 127.0.0.1:port."""
    env = {**os.environ, "AWS_REGION": settings.region, "AWS_ACCESS_KEY_ID": EMULATOR_ACCESS_KEY,
           "AWS_SECRET_ACCESS_KEY": EMULATOR_SECRET_KEY,
           "NODE_NO_WARNINGS": "1"}  # the SDK's Node version notice is not ours to act on
    argv = [str(BIN), "--host", "127.0.0.1", "--port", str(port), "--dynamo-endpoint", settings.endpoint_url,
            "--skip-default-credentials"]
    return argv, env


def start(settings: Settings, port: int, log=None) -> subprocess.Popen:
    argv, env = command(settings, port)
    return subprocess.Popen(argv, env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
