"""The init of one execution environment, for Python zip functions: a stand-in for LocalStack's
Go lambda-runtime-init plus AWS's Python runtime interface client, speaking the init protocol
LocalStack 4.14.0 talks to (services/lambda_/invocation/executor_endpoint.py).

Run by the host executor (executor.py) with the *functions'* interpreter, which has the standard
library and boto3 and nothing of LocalStack's: so this file imports the standard library only.

  init -> LocalStack   POST {LOCALSTACK_RUNTIME_ENDPOINT}/status/{id}/ready   once the handler is imported
                       POST .../status/{id}/error                            when it cannot be (and exits)
                       POST .../invocations/{request}/logs | response | error  for each invocation
  LocalStack -> init   POST http://127.0.0.1:<port>/invoke  {"invoke-id", "invoked-function-arn", "payload", ...}
                       answered 202 at once; the result goes back through /response or /error.

The listening socket is made by the executor (an OS-assigned port) and handed over as a file
descriptor (DDBLAB_INIT_FD), so no port is ever guessed. The handler runs with a deadline of the
function's timeout; past it, the invocation ends in Sandbox.Timedout and the runtime starts
afresh (the process re-executes itself on the same socket), as Lambda's does. A restart stops
accepting first and reports the timed-out invocation only once the fresh runtime listens, so no
invocation is ever accepted by a runtime about to go. The process ends by itself when its
parent (LocalStack) is gone.
"""
from __future__ import annotations

import importlib
import io
import json
import os
import queue
import sys
import threading
import time
import traceback
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

ENV_FD = "DDBLAB_INIT_FD"  # the listening socket, inherited from the executor
ENV_PARENT = "DDBLAB_INIT_PARENT"  # LocalStack's pid: the init exits when it is gone
ENV_RESTARTED = "DDBLAB_INIT_RESTARTED"  # set when the runtime restarted itself: do not report ready twice
ENV_PENDING = "DDBLAB_INIT_PENDING"  # what the runtime before a restart left to report: {"path", "body"}
HOT_RELOAD = "LOCALSTACK_HOT_RELOADING_PATHS"  # as LocalStack's docker executor sets it
POLL_SECONDS = 0.2
RELOAD_DEBOUNCE_SECONDS = 0.5


def post(path: str, body: dict | bytes) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(os.environ["LOCALSTACK_RUNTIME_ENDPOINT"] + path, data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30):
        pass


# --- the handler: loaded as the Python runtime loads it, its failures named as the runtime names them

class InitError(Exception):
    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type, self.message = error_type, message

    def payload(self) -> dict:
        return {"errorMessage": self.message, "errorType": self.error_type, "requestId": "", "stackTrace": []}


def load_handler(spec: str):
    """The function named by _HANDLER ("module.function", the module a path under the task root)."""
    try:
        module_name, function_name = spec.rsplit(".", 1)
    except ValueError:
        raise InitError("Runtime.MalformedHandlerName",
                        f"Bad handler '{spec}': not enough values to unpack (expected 2, got 1)") from None
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except SyntaxError as error:
        raise InitError("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {error}") from None
    except ImportError as error:
        raise InitError("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}") from None
    except Exception as error:  # anything else the module raised at import: reported under its own name
        raise InitError(type(error).__name__, str(error)) from None
    handler = getattr(module, function_name, None)
    if handler is None:
        raise InitError("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'")
    return handler


# --- output: everything the process writes goes to the current invocation's log

class Capture(io.TextIOBase):
    """sys.stdout and sys.stderr: each line written goes to the invocation under way (what
    LocalStack stores in CloudWatch Logs) and to the process's own output (the executor keeps it
    for LocalStack's startup diagnostics). Writes between invocations (import time) wait for the
    next one, as Lambda puts init output before the first START."""

    def __init__(self, raw):
        self.raw, self.lock, self.buffer = raw, threading.Lock(), []

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self.lock:
            self.buffer.append(text)
        self.raw.write(text)
        self.raw.flush()
        return len(text)

    def take(self) -> str:
        with self.lock:
            text, self.buffer = "".join(self.buffer), []
        return text


class Context:
    """The context object handlers receive (the attributes and method of the Python runtime's)."""

    def __init__(self, invocation: dict, timeout: float):
        self.aws_request_id = invocation["invoke-id"]
        self.invoked_function_arn = invocation.get("invoked-function-arn", "")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = self.client_context = None
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def error_payload(error: BaseException, request_id: str) -> dict:
    return {"errorMessage": str(error), "errorType": type(error).__name__, "requestId": request_id,
            "stackTrace": traceback.format_list(traceback.extract_tb(error.__traceback__)[1:])}


class Runtime:
    """Invocations arrive on the server's one thread and are run, one at a time, by one worker
    (LocalStack sends one at a time per environment anyway); so once the server has stopped,
    the inbox holds every invocation accepted and not yet answered."""

    def __init__(self, handler, output: Capture, timeout: float, init_error: InitError | None = None):
        self.handler, self.output, self.timeout, self.init_error = handler, output, timeout, init_error
        self.inbox: queue.Queue = queue.Queue()
        self.server: HTTPServer | None = None

    def work(self) -> None:
        while True:
            invocation = self.inbox.get()
            try:
                self.invoke(invocation)
            finally:
                self.inbox.task_done()

    def invoke(self, invocation: dict) -> None:
        request_id = invocation["invoke-id"]
        os.environ["_X_AMZN_TRACE_ID"] = invocation.get("trace-id") or ""
        started = time.monotonic()
        print(f"START RequestId: {request_id} Version: {os.environ.get('AWS_LAMBDA_FUNCTION_VERSION', '$LATEST')}")
        kind, body = self._run(invocation)
        if kind == "timeout":
            print(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {request_id} "
                  f"Task timed out after {self.timeout:.2f} seconds")
        elapsed = (time.monotonic() - started) * 1000
        print(f"END RequestId: {request_id}")
        print(f"REPORT RequestId: {request_id}\tDuration: {elapsed:.2f} ms\tBilled Duration: {int(elapsed) + 1} ms\t"
              f"Memory Size: {os.environ.get('AWS_LAMBDA_FUNCTION_MEMORY_SIZE', '128')} MB")
        post(f"/invocations/{request_id}/logs", {"logs": self.output.take()})
        if kind == "timeout":
            # The handler's thread cannot be stopped: a fresh runtime, as Lambda's, which reports this.
            self.restart({"path": f"/invocations/{request_id}/error", "body": {
                "errorType": "Sandbox.Timedout",
                "errorMessage": f"RequestId: {request_id} Error: Task timed out after {self.timeout:.2f} seconds"}})
        post(f"/invocations/{request_id}/{'response' if kind == 'response' else 'error'}", body)

    def _run(self, invocation: dict) -> tuple:
        outcome: dict = {}

        def call():
            if self.init_error is not None:  # the code broke on a hot reload: every call says why
                outcome["error"] = self.init_error.payload()
                return
            try:
                event = json.loads(invocation.get("payload") or "null")
                result = self.handler(event, Context(invocation, self.timeout))
                outcome["body"] = json.dumps(result).encode()
            except Exception as error:
                payload = error_payload(error, invocation["invoke-id"])
                print(f"[ERROR] {payload['errorType']}: {payload['errorMessage']}\n"
                      + "".join(traceback.format_exception(error)).rstrip(), file=sys.stderr)
                outcome["error"] = payload
        worker = threading.Thread(target=call, daemon=True)
        worker.start()
        worker.join(self.timeout)
        if worker.is_alive():
            return "timeout", None
        if "error" in outcome:
            return "error", outcome["error"]
        return "response", outcome["body"]

    def restart(self, pending: dict | None = None) -> None:
        """Stop accepting, then start afresh on the same socket: after a timeout (pending: its
        error, reported by the fresh runtime), or for a hot reload (once every invocation
        already accepted has been answered)."""
        if self.server is not None:
            self.server.shutdown()  # what arrives now waits in the socket's backlog for the fresh runtime
        if pending is None:
            self.inbox.join()
        else:
            os.environ[ENV_PENDING] = json.dumps(pending)
        restart()


def restart() -> None:
    """A fresh interpreter on the same listening socket."""
    sys.stdout.flush()
    os.environ[ENV_RESTARTED] = "1"
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]] if hasattr(sys, "orig_argv") else
             [sys.executable, *sys.argv])


def serve(runtime: Runtime, listener) -> HTTPServer:
    class Invocations(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            if self.path != "/invoke":
                self.send_response(404)
                self.end_headers()
                return
            invocation = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            runtime.inbox.put(invocation)
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Invocations, bind_and_activate=False)
    server.socket.close()
    server.socket = listener
    runtime.server = server
    threading.Thread(target=runtime.work, daemon=True, name="invocations").start()
    threading.Thread(target=server.serve_forever, daemon=True, name="server").start()
    return server


# --- staying alive only as long as it should

def watch_parent(parent: int) -> None:
    """Exit when the parent is gone (LocalStack killed without stopping its environments)."""
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS * 5)
    os._exit(0)


def snapshot(paths: list) -> dict:
    state = {}
    for root in paths:
        for folder, _, files in os.walk(root):
            for name in files:
                path = os.path.join(folder, name)
                try:
                    state[path] = os.stat(path).st_mtime_ns
                except OSError:
                    pass
    return state


def watch_code(paths: list, runtime: Runtime) -> None:
    """Hot reload: once the code under paths changed and stayed still for the debounce, restart."""
    seen = snapshot(paths)
    while True:
        time.sleep(POLL_SECONDS)
        now = snapshot(paths)
        if now != seen:
            while True:  # wait until the saves are done
                time.sleep(RELOAD_DEBOUNCE_SECONDS)
                settled = snapshot(paths)
                if settled == now:
                    break
                now = settled
            runtime.restart()


def main() -> None:
    import socket

    listener = socket.socket(fileno=int(os.environ[ENV_FD]))
    os.set_inheritable(listener.fileno(), True)  # kept across a restart
    parent = int(os.environ.get(ENV_PARENT) or os.getppid())
    threading.Thread(target=watch_parent, args=(parent,), daemon=True).start()
    output = Capture(sys.__stdout__)
    sys.stdout = sys.stderr = output
    task_root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    sys.path.insert(0, task_root)
    handler, init_error = None, None
    try:
        handler = load_handler(os.environ.get("_HANDLER", ""))
    except InitError as error:
        print(f"[ERROR] {error.error_type}: {error.message}")
        if not os.environ.get(ENV_RESTARTED):
            post(f"/status/{os.environ['LOCALSTACK_RUNTIME_ID']}/error", error.payload())
            sys.exit(1)
        init_error = error  # a hot reload broke the code: each invocation answers why, until the next save
    timeout = float(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT") or 3)
    runtime = Runtime(handler, output, timeout, init_error)
    serve(runtime, listener)
    reload_paths = [p for p in os.environ.get(HOT_RELOAD, "").split(",") if p]
    if reload_paths:
        threading.Thread(target=watch_code, args=(reload_paths, runtime), daemon=True).start()
    pending = os.environ.pop(ENV_PENDING, None)
    if pending:  # what the runtime before the restart left to report, now that this one listens
        left = json.loads(pending)
        post(left["path"], left["body"])
    if not os.environ.get(ENV_RESTARTED):
        post(f"/status/{os.environ['LOCALSTACK_RUNTIME_ID']}/ready", {})
    threading.Event().wait()


if __name__ == "__main__":
    main()
