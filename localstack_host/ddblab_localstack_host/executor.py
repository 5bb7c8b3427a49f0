"""A LocalStack Lambda runtime executor that runs each execution environment as a host process
(LocalStack 4.14.0 ships only `docker`): LAMBDA_RUNTIME_EXECUTOR=host.

Each environment is one process of runtime_init.py, run by the functions' interpreter
(DDBLAB_LAMBDA_PYTHON: a virtualenv with boto3 and nothing of LocalStack's, as a Lambda runtime
has), in the function's unzipped code folder. Its listening socket is opened here on a port the
OS assigns and handed to the process; LocalStack's own ExecutorEndpoint does the rest of the
protocol. Every process this executor starts is ended by stop(), by LocalStack's exit (atexit),
and, should LocalStack be killed outright, by the process itself (it watches its parent).

Internal LocalStack APIs (RuntimeExecutor, ExecutorEndpoint): pinned to 4.14.0 by the lock.
"""
from __future__ import annotations

import atexit
import json
import logging
import os
import socket
import subprocess
import sys
import threading
from collections import deque
from pathlib import Path

from localstack import config
from localstack.services.lambda_.invocation.executor_endpoint import ExecutorEndpoint, StatusErrorException
from localstack.services.lambda_.invocation.runtime_executor import RuntimeExecutor
from plux import Plugin

from ddblab_localstack_host import runtime_init

LOG = logging.getLogger(__name__)
INIT_SCRIPT = Path(runtime_init.__file__)
LOG_LINES_KEPT = 2000  # what get_logs() gives LocalStack when a start fails: the last lines
STOP_GRACE_SECONDS = 2.0
# What a function process inherits from LocalStack's environment: enough to run, nothing of
# LocalStack's own settings (the rest comes from LocalStack's env_vars, the function's last).
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")

_running: set = set()  # the processes of every live environment, for the exit hook
_running_lock = threading.Lock()


def _end_all() -> None:
    with _running_lock:
        processes = list(_running)
    for process in processes:
        _end(process)


def _end(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    with _running_lock:
        _running.discard(process)


atexit.register(_end_all)


def functions_python() -> str:
    return os.environ.get("DDBLAB_LAMBDA_PYTHON") or sys.executable


class HostRuntimeExecutorPlugin(Plugin):
    namespace = "localstack.lambda.runtime_executor"
    name = "host"

    def load(self, *args, **kwargs):
        return HostRuntimeExecutor


class HostRuntimeExecutor(RuntimeExecutor):
    def __init__(self, id, function_version):
        super().__init__(id=id, function_version=function_version)
        self.executor_endpoint = ExecutorEndpoint(self.id, container_address="127.0.0.1")
        self.process: subprocess.Popen | None = None
        self.logs: deque = deque(maxlen=LOG_LINES_KEPT)

    def start(self, env_vars: dict) -> None:
        self.executor_endpoint.start()
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        self.executor_endpoint.container_port = listener.getsockname()[1]
        try:
            self.process = subprocess.Popen(
                [functions_python(), "-u", "-s", "-B", str(INIT_SCRIPT)], cwd=self.task_root(),
                env=self.environment(env_vars, listener), stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, pass_fds=(listener.fileno(),))
        finally:
            listener.close()  # the process holds its own copy
        with _running_lock:
            _running.add(self.process)
        threading.Thread(target=self._follow, args=(self.process,), daemon=True, name=f"lambda-host-{self.id}").start()
        self.executor_endpoint.wait_for_startup()

    def task_root(self) -> str:
        return str(self.function_version.config.code.get_unzipped_code_location())

    def environment(self, env_vars: dict, listener: socket.socket) -> dict:
        env = {name: os.environ[name] for name in INHERITED if name in os.environ}
        env.update({
            "PYTHONUNBUFFERED": "1",
            runtime_init.ENV_FD: str(listener.fileno()),
            runtime_init.ENV_PARENT: str(os.getpid()),
        })
        if self.function_version.config.code.is_hot_reloading():
            env[runtime_init.HOT_RELOAD] = self.task_root()
        # LocalStack's variables (AWS_ENDPOINT_URL among them) with the function's own applied
        # last, as LocalStack builds them: a function can point itself elsewhere.
        env.update({name: str(value) for name, value in env_vars.items()})
        env["LAMBDA_TASK_ROOT"] = self.task_root()  # LocalStack says /var/task, the container's path
        return env

    def _follow(self, process: subprocess.Popen) -> None:
        """Keep its output; if it dies before it said ready, fail the start with its last words."""
        for line in process.stdout:
            self.logs.append(line.decode(errors="replace"))
        process.wait()
        future = self.executor_endpoint.startup_future
        if future is not None and not future.done():
            payload = {"errorType": "Runtime.ExitError",
                       "errorMessage": f"RequestId: Error: Runtime exited with error: exit status {process.returncode}",
                       "output": "".join(list(self.logs)[-20:])}
            future.set_exception(StatusErrorException("Environment startup failed", json.dumps(payload).encode()))

    def stop(self) -> None:
        if self.process is not None:
            _end(self.process)
        try:
            self.executor_endpoint.shutdown()
        except Exception as error:  # noqa: BLE001 - already shut down: nothing left to do
            LOG.debug("executor endpoint %s: %s", self.id, error)

    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        return "127.0.0.1"

    def get_runtime_endpoint(self) -> str:
        return f"http://127.0.0.1:{config.GATEWAY_LISTEN[0].port}{self.executor_endpoint.get_endpoint_prefix()}"

    def invoke(self, payload: dict):
        return self.executor_endpoint.invoke(payload)

    def get_logs(self) -> str:
        return "".join(self.logs)

    @classmethod
    def prepare_version(cls, function_version) -> None:
        if function_version.config.code:
            function_version.config.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version) -> None:
        pass

    @classmethod
    def validate_environment(cls) -> bool:
        return True
