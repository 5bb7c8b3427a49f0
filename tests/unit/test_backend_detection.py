"""Which emulator answers: positively MiniStack, positively LocalStack, or "unknown" - never
LocalStack because MiniStack's own health path was slow. A fake HTTP server plays each one,
with the health documents their sources give (ministack/app.py _handle_health_request;
LocalStack v4.14.0 localstack-core/localstack/services/internal.py HealthResource.on_get)."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ddblab.core.settings import Settings, UserError
from ddblab.emulator import health as health_module
from ddblab.emulator.health import answering, backend_answering, backend_label, emulator_name, free_port
from ddblab.stack.converge import tables
from ddblab.stack.converge.context import Context
from ddblab.stack.describe import describe
from ddblab.stack.model import Account, Table

SERVICES = {"dynamodb": "available", "lambda": "available"}
MINISTACK = {"services": SERVICES, "auth": "disabled", "edition": "light", "version": "1.5.33",
             "iot_mtls": "disabled", "ready_scripts": {"status": "completed"}}
LOCALSTACK = {"services": {"dynamodb": "running", "lambda": "available"}, "edition": "community", "version": "4.14.0"}
NO_SUCH_BUCKET = (404, "<Error><Code>NoSuchBucket</Code></Error>")  # LocalStack's S3 answers other paths


class FakeEmulator:
    """Answers each path with (status, body), after a delay per path for the first `slow` requests."""

    def __init__(self, routes: dict, delays: dict | None = None, slow: int = 10**6):
        self.routes, self.delays, self.slow = routes, delays or {}, slow
        self.requests = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the name http.server calls
                fake.requests.append(self.path)
                if fake.requests.count(self.path) <= fake.slow:
                    time.sleep(fake.delays.get(self.path, 0))
                status, body = fake.routes.get(self.path, (404, "not found"))
                data = (body if isinstance(body, str) else json.dumps(body)).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up waiting
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def ministack_routes() -> dict:
    return {"/_ministack/health": (200, MINISTACK), "/_localstack/health": (200, MINISTACK)}


def test_emulator_name_ministack_own_health_path_answers_ministack():
    with FakeEmulator(ministack_routes()) as fake:
        assert emulator_name(fake.url) == "ministack"


def test_emulator_name_localstack_health_document_answers_localstack():
    # GIVEN LocalStack: its S3 answers MiniStack's path with an error, its health with edition and version
    with FakeEmulator({"/_ministack/health": NO_SUCH_BUCKET, "/_localstack/health": (200, LOCALSTACK)}) as fake:
        # WHEN / THEN
        assert emulator_name(fake.url) == "localstack"
        # and a definite "no" on MiniStack's path is not asked again
        assert fake.requests.count("/_ministack/health") == 1


def test_backend_answering_tells_localstack_on_the_host_from_localstack_in_docker():
    # GIVEN LocalStack's health document, once as the container gives it and once with the mark
    # the host runtime's ready hook adds (localstack_host/hooks.py)
    on_host = {**LOCALSTACK, "host-runtime": {"dynamodb": "moto", "lambda": "host processes"}}
    for document, expected in ((LOCALSTACK, "localstack"), (on_host, "localstack-host")):
        with FakeEmulator({"/_ministack/health": NO_SUCH_BUCKET, "/_localstack/health": (200, document)}) as fake:
            # THEN the backend says which LocalStack, and messages name it so
            assert backend_answering(fake.url) == expected
            assert answering(fake.url).startswith(expected + (" (" if expected == "localstack-host" else ""))
    # and MiniStack stays MiniStack whatever its health document holds
    with FakeEmulator(ministack_routes()) as fake:
        assert backend_answering(fake.url) == "ministack"


def test_emulator_name_ministack_health_path_too_slow_unknown_not_localstack():
    # GIVEN MiniStack whose own health path answers after the probe gave up (a busy emulator),
    # while /_localstack/health answers at once with MiniStack's document
    with FakeEmulator(ministack_routes(), delays={"/_ministack/health": 1.0}) as fake:
        # WHEN it is asked with a short timeout
        name = emulator_name(fake.url, timeout=0.2, attempts=2)
    # THEN it is not taken for LocalStack (the old answer, which skipped the fault drill)
    assert name == "unknown"


def test_emulator_name_ministack_slow_once_retried_ministack():
    # GIVEN MiniStack slow to answer its first health request only
    with FakeEmulator(ministack_routes(), delays={"/_ministack/health": 1.0}, slow=1) as fake:
        # WHEN / THEN the probe asks again and gets MiniStack's answer
        assert emulator_name(fake.url, timeout=0.3, attempts=3) == "ministack"
        assert fake.requests.count("/_ministack/health") == 2


@pytest.mark.parametrize("document", [
    {"services": SERVICES},  # no edition, no version
    {"services": SERVICES, "edition": "community"},  # no version
    {**MINISTACK},  # MiniStack's own keys
    {**LOCALSTACK, "ready_scripts": {}},  # a MiniStack key among LocalStack's
], ids=["bare", "no-version", "ministack-document", "mixed"])
def test_emulator_name_health_not_positively_localstack_unknown(document):
    with FakeEmulator({"/_ministack/health": NO_SUCH_BUCKET, "/_localstack/health": (200, document)}) as fake:
        assert emulator_name(fake.url) == "unknown"


def test_emulator_name_not_an_emulator_unknown():
    with FakeEmulator({"/_localstack/health": (200, "<html>hello</html>")}) as fake:
        assert emulator_name(fake.url) == "unknown"


def test_emulator_name_nothing_listening_unknown():
    assert emulator_name(f"http://127.0.0.1:{free_port()}", timeout=0.5, attempts=2) == "unknown"


def test_backend_label_unknown_reads_as_unknown_emulator():
    assert backend_label("unknown") == "unknown emulator"
    assert [backend_label(n) for n in ("ministack", "localstack", "aws")] == ["ministack", "localstack", "aws"]


# The callers: each does something safe with "unknown" and says what it found.

def test_status_line_unknown_backend_says_unknown_emulator(monkeypatch):
    from ddblab.emulator import lifecycle
    with FakeEmulator({"/_localstack/health": (200, {"services": SERVICES, "version": "9"})}) as fake:
        ok, line = lifecycle.status_line(Settings.from_env(endpoint_url=fake.url))
    assert ok and line.startswith(f"backend: unknown emulator on {fake.url} (version 9;"), line


def test_up_unknown_backend_with_emulator_asked_uses_it_with_a_note(tmp_path, capsys):
    from ddblab.emulator import lifecycle
    with FakeEmulator({"/_localstack/health": (200, {"services": SERVICES})}) as fake:
        settings = Settings.from_env(endpoint_url=fake.url, emulator="ministack", run_dir=tmp_path)
        assert lifecycle.up(settings) == "unknown"
    out = capsys.readouterr().out
    assert f"backend: unknown emulator already answering (not started by make up) on {fake.url}" in out
    assert "could not tell whether it is ministack" in out


def test_drill_unknown_backend_refused_with_what_was_found(monkeypatch, tmp_path):
    from ddblab.drills import fault_drill
    monkeypatch.setattr(fault_drill, "backend_answering", lambda url: "unknown")
    with pytest.raises(UserError, match="did not answer /_ministack/health as MiniStack does.*EMULATOR=ministack"):
        fault_drill.drill(Settings.from_env(endpoint_url=f"http://127.0.0.1:{free_port()}", run_dir=tmp_path))


class FakeDynamoDB:
    def __init__(self):
        self.updates = []

    def describe_table(self, TableName):
        return {"Table": {"KeySchema": [{"AttributeName": "email", "KeyType": "HASH"}],
                          "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}}}

    def update_table(self, **kwargs):
        self.updates.append(kwargs)


def test_converge_stream_replacement_on_unknown_backend_refused_stream_untouched():
    # GIVEN a table whose stream has the wrong view type, on an emulator of unknown kind
    ctx = Context(describe(Settings(), Account("aws", "us-east-1", "123456789012")), backend="unknown")
    ctx.ddb = FakeDynamoDB()
    # WHEN / THEN the stream is not disabled (on LocalStack it could not be enabled again)
    with pytest.raises(UserError, match="unknown kind.*does not replace a table's stream in place"):
        tables.converge(ctx, Table("t", (("email", "HASH"),), stream="NEW_AND_OLD_IMAGES"))
    assert ctx.ddb.updates == []


def test_probe_gives_up_after_its_attempts(monkeypatch):
    # the retries are for a busy emulator: bounded, and only when nothing answered
    asked = []

    def silent(url, timeout):
        asked.append(url)
        raise OSError("timed out")
    monkeypatch.setattr(health_module, "_probe", silent)
    monkeypatch.setattr(health_module.time, "sleep", lambda s: None)
    assert emulator_name("http://127.0.0.1:1", attempts=3) == "unknown"
    assert len(asked) == 6


def test_doctor_unknown_backend_warns_with_what_it_found_and_no_caveats():
    from ddblab.diagnose import checks
    from ddblab.stack.deployed import Deployed
    # GIVEN an emulator answering the health path with a version but no edition, and not MiniStack's path
    with FakeEmulator({"/_localstack/health": (200, {"services": SERVICES, "version": "9"})}) as fake:
        d = checks.Diagnosis(Deployed(Settings.from_env(endpoint_url=fake.url)))
        [check] = checks.backend(d)
    assert (check.name, check.status) == ("unknown emulator", "warn")
    assert "version 9" in check.detail and "/_ministack/health gave no health document" in check.detail
    assert d.backend == "unknown" and checks.caveats(d) == []
