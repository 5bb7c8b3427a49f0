"""The host executor's init (localstack_host/ddblab_localstack_host/runtime_init.py) against a
stand-in for LocalStack's executor endpoint: the init protocol of LocalStack 4.14.0
(services/lambda_/invocation/executor_endpoint.py) as the init sees it, with no LocalStack.

GIVEN a handler folder and an init process holding a socket it did not choose,
WHEN LocalStack's calls arrive (POST /invoke),
THEN the init answers through /status/<id>/ready|error and /invocations/<id>/logs|response|error.
"""
from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.request import Request, urlopen

import pytest

from ddblab.core.settings import ROOT
from ddblab.core.waiting import wait_for

INIT = ROOT / "localstack_host" / "ddblab_localstack_host" / "runtime_init.py"
RUNTIME_ID = "env1"


class FakeLocalStack:
    """Records every POST the init makes, as (path, parsed body)."""

    def __init__(self):
        self.posts: queue.Queue = queue.Queue()
        posts = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                posts.put((self.path, json.loads(body) if body else None))
                self.send_response(202)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/_localstack_lambda/{RUNTIME_ID}"

    def next(self, timeout: float = 30.0) -> tuple:  # a deadline: generous for a loaded CI machine
        return self.posts.get(timeout=timeout)

    def close(self):
        self.server.shutdown()


@pytest.fixture
def fake():
    server = FakeLocalStack()
    yield server
    server.close()


class Init:
    def __init__(self, task_root: Path, fake: FakeLocalStack, handler: str, env: dict | None = None, parent=None):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        environment = {"PATH": os.environ["PATH"], "_HANDLER": handler, "LAMBDA_TASK_ROOT": str(task_root),
                       "LOCALSTACK_RUNTIME_ENDPOINT": fake.url, "LOCALSTACK_RUNTIME_ID": RUNTIME_ID,
                       "AWS_LAMBDA_FUNCTION_TIMEOUT": "3", "AWS_LAMBDA_FUNCTION_NAME": "fn",
                       "DDBLAB_INIT_FD": str(self.listener.fileno()), **(env or {})}
        command = [sys.executable, "-u", "-s", "-B", str(INIT)]
        if parent:  # a stand-in parent that starts the init and can be killed outright
            command = [sys.executable, "-c", "import subprocess, sys, time; "
                       f"p = subprocess.Popen({command!r}, pass_fds=({self.listener.fileno()},)); "
                       "print(p.pid, flush=True); time.sleep(600)"]
        self.process = subprocess.Popen(command, cwd=task_root, env=environment, pass_fds=(self.listener.fileno(),),
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.listener.close()

    def invoke(self, payload: dict, request_id: str | None = None) -> str:
        request_id = request_id or uuid.uuid4().hex
        body = json.dumps({"invoke-id": request_id, "invoked-function-arn": "arn:aws:lambda:us-east-1:1:function:fn",
                           "payload": json.dumps(payload), "trace-id": "Root=1-abc"}).encode()
        with urlopen(Request(f"http://127.0.0.1:{self.port}/invoke", data=body, method="POST"), timeout=5) as answer:
            assert answer.status == 202
        return request_id

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def write(folder: Path, name: str, source: str) -> Path:
    (folder / name).write_text(source)
    return folder


@pytest.fixture
def started(tmp_path, fake):
    inits = []

    def start(source: str, handler: str = "fn.handler", **kwargs) -> Init:
        write(tmp_path, "fn.py", source)
        init = Init(tmp_path, fake, handler, **kwargs)
        inits.append(init)
        return init
    yield start
    for init in inits:
        init.stop()


def test_init_ready_then_response_with_its_logs(started, fake):
    # GIVEN a handler that prints and returns
    init = started("import os\nprint('loading')\ndef handler(event, context):\n"
                   "    print('got', event['n'], context.function_name, os.environ['_X_AMZN_TRACE_ID'])\n"
                   "    return {'double': event['n'] * 2}\n")
    assert fake.next() == (f"/_localstack_lambda/{RUNTIME_ID}/status/{RUNTIME_ID}/ready", {})
    # WHEN LocalStack invokes it
    request = init.invoke({"n": 21})
    # THEN the logs come first (init output, START, the handler's line, END, REPORT), then the result
    path, logs = fake.next()
    assert path == f"/_localstack_lambda/{RUNTIME_ID}/invocations/{request}/logs"
    lines = logs["logs"].splitlines()
    assert lines[0] == "loading"
    assert lines[1] == f"START RequestId: {request} Version: $LATEST"
    assert lines[2] == "got 21 fn Root=1-abc"
    assert lines[3] == f"END RequestId: {request}"
    assert lines[4].startswith(f"REPORT RequestId: {request}\tDuration: ")
    assert fake.next() == (f"/_localstack_lambda/{RUNTIME_ID}/invocations/{request}/response", {"double": 42})


def test_handler_error_answers_error_with_type_and_message(started, fake):
    init = started("def handler(event, context):\n    raise KeyError('state')\n")
    fake.next()  # ready
    request = init.invoke({})
    _, logs = fake.next()
    assert "[ERROR] KeyError: 'state'" in logs["logs"]
    path, error = fake.next()
    assert path.endswith(f"/invocations/{request}/error")
    assert error["errorType"] == "KeyError"
    assert error["errorMessage"] == "'state'"
    assert error["requestId"] == request
    assert any("raise KeyError('state')" in frame for frame in error["stackTrace"])


@pytest.mark.parametrize("source, handler, error_type, message", [
    ("import no_such_module_here\n", "fn.handler", "Runtime.ImportModuleError",
     "Unable to import module 'fn': No module named 'no_such_module_here'"),
    ("def handler(event, context)\n    return 1\n", "fn.handler", "Runtime.UserCodeSyntaxError",
     "Syntax error in module 'fn': expected ':' (fn.py, line 1)"),
    ("def other(event, context):\n    return 1\n", "fn.handler", "Runtime.HandlerNotFound",
     "Handler 'handler' missing on module 'fn'"),
    ("def handler(event, context):\n    return 1\n", "fnhandler", "Runtime.MalformedHandlerName",
     "Bad handler 'fnhandler': not enough values to unpack (expected 2, got 1)"),
    ("raise RuntimeError('no config')\n", "fn.handler", "RuntimeError", "no config"),
])
def test_code_that_cannot_load_reports_status_error_as_the_runtime_names_it(started, fake, source, handler,
                                                                              error_type, message):
    init = started(source, handler=handler)
    path, body = fake.next()
    assert path == f"/_localstack_lambda/{RUNTIME_ID}/status/{RUNTIME_ID}/error"
    assert body == {"errorMessage": message, "errorType": error_type, "requestId": "", "stackTrace": []}
    assert init.process.wait(30) == 1


def test_timeout_ends_the_invocation_and_the_runtime_answers_again(started, fake):
    # GIVEN a function with a 1 s timeout whose handler sleeps when asked to
    init = started("import time\ndef handler(event, context):\n    time.sleep(event['sleep'])\n"
                   "    return context.get_remaining_time_in_millis() > 0\n",
                   env={"AWS_LAMBDA_FUNCTION_TIMEOUT": "1"})
    fake.next()  # ready
    # WHEN one invocation runs past it
    slow = init.invoke({"sleep": 30})
    _, logs = fake.next()
    assert "Task timed out after 1.00 seconds" in logs["logs"]
    assert fake.next() == (f"/_localstack_lambda/{RUNTIME_ID}/invocations/{slow}/error", {
        "errorType": "Sandbox.Timedout", "errorMessage": f"RequestId: {slow} Error: Task timed out after 1.00 seconds"})
    # THEN a fresh runtime answers the next one on the same socket, without a second ready
    quick = wait_for(lambda: _invoke_when_listening(init, {"sleep": 0}), "the restarted runtime to listen", timeout=30)
    path, _ = fake.next()
    assert path.endswith(f"/invocations/{quick}/logs")
    assert fake.next() == (f"/_localstack_lambda/{RUNTIME_ID}/invocations/{quick}/response", True)


def _invoke_when_listening(init: Init, payload: dict) -> str | None:
    try:
        return init.invoke(payload)
    except OSError:
        return None


def test_function_environment_reaches_the_handler_and_localstack_packages_do_not(started, fake):
    init = started("import os, sys\ndef handler(event, context):\n"
                   "    return [os.environ.get('AWS_ENDPOINT_URL'), os.environ['LAMBDA_TASK_ROOT'] in sys.path]\n",
                   env={"AWS_ENDPOINT_URL": "http://elsewhere:1234"})
    fake.next()
    request = init.invoke({})
    fake.next()
    assert fake.next() == (f"/_localstack_lambda/{RUNTIME_ID}/invocations/{request}/response",
                           ["http://elsewhere:1234", True])


def test_init_exits_when_its_parent_is_killed(started, fake):
    # GIVEN an init whose parent (LocalStack's stand-in) dies without stopping it
    init = started("def handler(event, context):\n    return 1\n", parent=True)
    child = int(init.process.stdout.readline())
    fake.next()  # ready
    # WHEN the parent is killed outright
    init.process.kill()
    init.process.wait()
    # THEN the init process ends by itself
    wait_for(lambda: not _alive(child), f"init process {child} to exit after its parent died", timeout=30)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_hot_reload_restarts_on_a_saved_file(started, fake, tmp_path):
    init = started("def handler(event, context):\n    return 'v1'\n",
                   env={"LOCALSTACK_HOT_RELOADING_PATHS": str(tmp_path)})
    fake.next()
    write(tmp_path, "fn.py", "def handler(event, context):\n    return 'v2'\n")

    def answers_v2():
        request = _invoke_when_listening(init, {})
        if request is None:
            return None
        fake.next()  # logs
        return fake.next()[1] == "v2"
    wait_for(answers_v2, "the reloaded handler to answer v2", timeout=15, interval=0.3)
