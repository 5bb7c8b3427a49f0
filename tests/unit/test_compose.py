"""docker-compose.yml says what the LocalStack reading (notes in the comments there) asks for:
no Docker engine runs here, so the file itself is what can be checked."""
from __future__ import annotations

from ddblab.core.settings import ROOT
from tests.compose import compose_file, localstack_environment

FUNCTION_LOGGER = "localstack.services.lambda_.invocation.version_manager"


def test_compose_function_output_in_container_log_and_little_else():
    # GIVEN the environment compose gives LocalStack, with nothing set in the shell
    env = localstack_environment({})
    # THEN DEBUG is on (the log handler drops DEBUG otherwise) and the overrides turn
    # everything down but the function lines, in UPPERCASE levels (lowercase stops LocalStack)
    assert env["DEBUG"] == "1"
    overrides = dict(pair.split("=") for pair in env["LOG_LEVEL_OVERRIDES"].split(","))
    assert overrides[FUNCTION_LOGGER] == "DEBUG"
    assert {overrides[name] for name in ("root", "localstack", "localstack.request")} == {"WARNING"}
    assert all(level.isupper() for level in overrides.values())
    assert "LS_LOG" not in env  # it would override DEBUG (logging/setup.py)


def test_compose_debug_not_taken_from_users_shell():
    # GIVEN an unrelated DEBUG in the user's shell, WHEN compose resolves the file,
    # THEN LocalStack's DEBUG follows only LOCALSTACK_DEBUG
    assert localstack_environment({"DEBUG": "0"})["DEBUG"] == "1"
    assert localstack_environment({"DEBUG": "1", "LOCALSTACK_DEBUG": "0"})["DEBUG"] == "0"


def test_compose_volume_for_var_lib_localstack_architecture_and_services():
    service = compose_file()["services"]["localstack"]
    env = localstack_environment({})
    # kinesis-local installs into /var/lib/localstack/lib: a named volume keeps it across make down up
    volumes = [v.split(":") for v in service["volumes"]]
    [(volume, _)] = [(host, path) for host, path, *_ in volumes if path == "/var/lib/localstack"]
    assert volume in compose_file()["volumes"]
    assert env["LAMBDA_IGNORE_ARCHITECTURE"] == "1"
    assert "cloudformation" in env["SERVICES"].split(",")
    assert {"dynamodb", "dynamodbstreams", "lambda", "sqs", "iam", "sts", "apigateway", "logs"} <= set(env["SERVICES"].split(","))


def test_compose_ports_on_loopback_only():
    for name, service in compose_file()["services"].items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_compose_auth_token_passed_through_never_stored():
    assert localstack_environment({})["LOCALSTACK_AUTH_TOKEN"] == ""
    assert localstack_environment({"LOCALSTACK_AUTH_TOKEN": "ls-abc"})["LOCALSTACK_AUTH_TOKEN"] == "ls-abc"


def test_compose_mounts_the_init_hook_and_the_repository_it_converges():
    # GIVEN the LocalStack service, WHEN `docker compose up` starts it,
    # THEN scripts/ready.d is LocalStack's ready.d and the repository sits where the hook looks
    service = compose_file()["services"]["localstack"]
    mounts = {path: (host, mode) for host, path, *mode in (v.split(":") for v in service["volumes"])}
    assert mounts["/etc/localstack/init/ready.d"] == ("./scripts/ready.d", ["ro"])
    assert mounts["/opt/ddb-streams-lab"] == ("./", ["ro"])
    hook = (ROOT / "scripts" / "ready.d" / "ddblab_converge.py").read_text()
    assert 'os.environ.get("DDBLAB_ROOT", "/opt/ddb-streams-lab")' in hook
    # and healthy only once the ready.d scripts have run, so make up's converge never races the hook's
    assert "/_localstack/init/ready" in " ".join(service["healthcheck"]["test"])


def test_compose_polls_streams_as_often_as_the_host_runtime_and_aws():
    # AWS polls each shard 4 times a second; LocalStack's default waits 1 s after every poll.
    # The container and the host runtime are the same LocalStack: they must poll alike.
    from ddblab.emulator.localstack_host import STREAM_POLLING
    assert localstack_environment({})["LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC"] == "0.25"
    assert STREAM_POLLING == {"LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC": "0.25"}
