"""The CloudFormation template, deployed through the emulator's CloudFormation: the pipeline
works on the stack it builds, an update with changed code takes effect, a delete leaves
nothing; and the template builds what the converge builds, so the two cannot drift apart.

Each stack has a prefix of its own (test-cfn-..., never a name the converge uses: MiniStack's
CloudFormation would silently take over a same-name table or queue).
"""
from __future__ import annotations

import json
import re
import uuid
from urllib.parse import unquote

import pytest

from ddblab.core.aws import mappings_of, paged, queue_url
from ddblab.core.waiting import wait_for
from ddblab.stack import cloudformation as cfn
from ddblab.stack.code import HANDLERS, sources
from ddblab.stack.describe import describe
from ddblab.stack.model import Names
from tests.integration.helpers import http, target_rows, user_item


def package(settings, files=None) -> cfn.Package:
    return cfn.package(settings.client, f"{settings.prefix}code", settings.prefix, settings.region, settings.stage,
                       api_custom_id=Names(settings.prefix).api_custom_id, files=files)


@pytest.fixture
def template_stack(backend_settings, request):
    """Deploys the template under a prefix of its own; yields (settings, package, deployment);
    deletes the stack afterwards if the test did not."""
    settings = backend_settings.sub(request.param)
    assert cfn.names_taken(settings.client, settings.prefix) == [], "the emulator already holds this stack's names"
    pkg = package(settings)
    name = cfn.stack_name(settings.prefix)
    deployment = cfn.deploy(settings.client, name, pkg)
    try:
        yield settings, pkg, deployment
    finally:
        if cfn.stack_status(settings.client("cloudformation"), name) is not None:
            cfn.delete(settings.client, name)


def changed_audit(tmp_path, marker: str) -> dict:
    """audit's sources with a handler that also answers `build`: new code, a new zip, a new key."""
    changed = tmp_path / "audit.py"
    changed.write_text((HANDLERS / "audit.py").read_text() + (
        "\n\n_handler = handler\n\n\ndef handler(event, context):\n"
        f"    return {{**_handler(event, context), 'build': {marker!r}}}\n"))
    return {**sources("audit"), "audit.py": changed}


@pytest.mark.parametrize("template_stack", ["cfn-"], indirect=True)
def test_template_stack_pipeline_works_update_takes_effect_delete_leaves_nothing(template_stack, tmp_path):
    settings, pkg, created = template_stack
    out, names = created.outputs, Names(settings.prefix)
    ddb, sqs, logs, lam = (settings.client(s) for s in ("dynamodb", "sqs", "logs", "lambda"))
    assert created.action == "created"
    assert (out["UsersTable"], out["TargetTable"]) == (names.users, names.target)
    assert out["ApiId"] == names.api_custom_id

    # WHEN a user is posted through the stack's API THEN it lands in users and is replicated
    email = f"cfn-{uuid.uuid4().hex[:12]}@example.com"
    api_url = describe(settings).api_url(out["ApiId"])
    status, body = http("POST", api_url, {"email": email, "state": "Ohio", "city": "Dayton", "zipcode": "45401"})
    assert status == 201, body
    assert ddb.get_item(TableName=names.users, Key={"email": {"S": email}}).get("Item")
    wait_for(lambda: ddb.get_item(TableName=names.target, Key={"state": {"S": "Ohio"},
                                                                "city_email": {"S": f"Dayton#{email}"}}).get("Item"),
             f"{email} in {names.target}", timeout=30)
    # AND audit wrote its line to its own log group
    wait_for(lambda: [e for e in logs.filter_log_events(logGroupName=Names.log_group(names.audit))["events"]
                      if email in e["message"]], f"an audit line for {email}", timeout=30)

    # WHEN an item replicate cannot place is written THEN it goes to the stack's quarantine queue
    poison = f"poison-{uuid.uuid4().hex[:12]}@example.com"
    ddb.put_item(TableName=names.users, Item={"email": {"S": poison}, "state": {"S": "Ohio"}})

    def quarantined():
        messages = sqs.receive_message(QueueUrl=out["QuarantineQueueUrl"], MaxNumberOfMessages=10,
                                       VisibilityTimeout=0, WaitTimeSeconds=1).get("Messages", [])
        return [m for m in messages if poison in m["Body"]]
    assert "city" in json.loads(wait_for(quarantined, f"{poison} in the quarantine queue", timeout=30)[0]["Body"])["reason"]

    # WHEN the stack is updated with changed audit code (a new key)
    marker = uuid.uuid4().hex[:8]
    changed = package(settings, files={"audit": changed_audit(tmp_path, marker)})
    assert changed.parameters["AuditCodeKey"] != pkg.parameters["AuditCodeKey"]
    updated = cfn.deploy(settings.client, created.name, changed)
    # THEN it is UPDATE_COMPLETE (deploy waits for it), the new code answers, the pipeline still flows
    assert updated.action == "updated"
    answer = json.loads(lam.invoke(FunctionName=names.audit, Payload=b'{"Records": []}')["Payload"].read())
    assert answer == {"audited": 0, "build": marker}
    moved = f"after-update-{uuid.uuid4().hex[:8]}@example.com"
    ddb.put_item(TableName=names.users, Item=user_item(moved, state="Utah", city="Provo"))
    wait_for(lambda: target_rows(type("Live", (), {"dynamodb": ddb, "names": names})(), moved),
             f"{moved} replicated after the update", timeout=30)

    # WHEN the stack is deleted THEN none of its names is held any more
    deleted = cfn.delete(settings.client, created.name)
    print(f"stack {created.name}: create {created.seconds:.1f} s, update {updated.seconds:.1f} s, delete {deleted:.1f} s")
    assert cfn.names_taken(settings.client, settings.prefix) == []
    assert [m for m in lam.list_event_source_mappings()["EventSourceMappings"] if m["EventSourceArn"] == out["StreamArn"]] == []


# -- the template and the converge build the same stack ---------------------------------------------
def snapshot(settings) -> dict:
    """What a stack holds, read back from the backend, with its prefix written <p> and
    backend-made parts (stream labels, queue URL hosts) reduced to what they name."""
    names, spec = Names(settings.prefix), describe(settings)
    ddb, sqs, lam, iam, apigw = (settings.client(s) for s in ("dynamodb", "sqs", "lambda", "iam", "apigateway"))
    held = {"tables": {}, "queues": {}, "functions": {}, "roles": {}, "mappings": {}}
    for table in spec.tables:
        t = ddb.describe_table(TableName=table.name)["Table"]
        held["tables"][table.name] = {
            "key": t["KeySchema"], "attributes": sorted(t["AttributeDefinitions"], key=lambda a: a["AttributeName"]),
            "stream": t.get("StreamSpecification"), "billing": (t.get("BillingModeSummary") or {}).get("BillingMode"),
            "indexes": sorted(({k: g[k] for k in ("IndexName", "KeySchema", "Projection")}
                               for g in t.get("GlobalSecondaryIndexes", [])), key=lambda g: g["IndexName"])}
    for queue in spec.queues:
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url(sqs, queue), AttributeNames=["All"])["Attributes"]
        held["queues"][queue] = {k: attributes[k] for k in ("MessageRetentionPeriod", "QueueArn")}
    for fn in spec.functions:
        c = lam.get_function_configuration(FunctionName=fn.name)
        env = {k: v.rsplit("/", 1)[-1] if v.startswith("http") else v  # a queue URL: its host differs by who asked
               for k, v in (c.get("Environment") or {}).get("Variables", {}).items()}
        held["functions"][fn.name] = {k: c.get(k) for k in ("Runtime", "Handler", "Timeout", "MemorySize",
                                                            "Architectures", "Role", "FunctionArn")} | {"env": env}
        role = iam.get_role(RoleName=fn.role)["Role"]
        document = iam.get_role_policy(RoleName=fn.role, PolicyName=Names.POLICY)["PolicyDocument"]
        document = json.loads(unquote(document)) if isinstance(document, str) else document
        trust = role["AssumeRolePolicyDocument"]
        held["roles"][fn.role] = {"trust": json.loads(unquote(trust)) if isinstance(trust, str) else trust,
                                  "policies": iam.list_role_policies(RoleName=fn.role)["PolicyNames"],
                                  "statements": normalised(document["Statement"])}
        held["mappings"][fn.name] = [{k: m.get(k) for k in (
            "EventSourceArn", "StartingPosition", "BatchSize", "MaximumRetryAttempts", "MaximumRecordAgeInSeconds",
            "BisectBatchOnFunctionError", "ParallelizationFactor", "DestinationConfig", "State")}
            for m in mappings_of(lam, fn.name)]
    api_id = next(a["id"] for a in paged(apigw, "get_rest_apis", "items") if a["name"] == names.api)
    held["api"] = {r["path"]: {m: {k: apigw.get_integration(restApiId=api_id, resourceId=r["id"], httpMethod=m).get(k)
                                   for k in ("type", "httpMethod", "uri")} for m in r.get("resourceMethods", {})}
                   for r in paged(apigw, "get_resources", "items", restApiId=api_id)}
    text = json.dumps(held, sort_keys=True)
    text = re.sub(r"/stream/[^\"/]+\"", '/stream/<label>"', text)
    return json.loads(text.replace(settings.prefix, "<p>"))


def normalised(statements: list) -> list:
    """Statements as sets: the order of actions and resources means nothing to IAM."""
    def one(s):
        listed = lambda v: sorted(v) if isinstance(v, list) else [v]  # noqa: E731 - a one-line helper, local to where it is used
        return {**s, "Action": listed(s["Action"]), "Resource": listed(s["Resource"])}
    return sorted((one(s) for s in statements), key=lambda s: json.dumps(s, sort_keys=True))


@pytest.mark.parametrize("template_stack", ["cfn-same-"], indirect=True)
def test_template_and_converge_build_the_same_stack(template_stack, converged, backend_settings):
    # GIVEN the stack the converge built (session prefix) and the one the template built (its own)
    settings, _, _ = template_stack
    # WHEN both are read back from the backend, prefixes aside
    by_converge, by_template = snapshot(backend_settings), snapshot(settings)
    # THEN names, keys, stream, indexes, queues, functions, policies, mappings and routes are the same
    for part in by_converge:
        assert by_template[part] == by_converge[part], part
