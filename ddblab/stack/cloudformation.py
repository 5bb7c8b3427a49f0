"""The template's way to a backend: package the function zips, create or update the stack,
wait, check what CloudFormation made, delete. Works on any CloudFormation (AWS, the
emulators'): `client` is a factory, settings.client on an emulator, boto3.client on AWS.

Two things the emulators' CloudFormation does not do as AWS does, and what is done here:
MiniStack 1.5.33 overwrites a table, queue, role or function
that already exists under the same name (AWS fails the create), so a create first checks
no name is taken; and it answers CREATE_COMPLETE for a function whose code object is
missing (the function then answers with a mock), so every deploy ends by comparing each
function's CodeSha256 with the zip that was uploaded.
"""
from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from ddblab.core.aws import find, queue_url, rest_api_ids
from ddblab.core.settings import Settings, UserError
from ddblab.core.waiting import wait_for
from ddblab.stack.cloudformation_template import PSEUDO_ACCOUNT, code_key_parameters, render, to_yaml
from ddblab.stack.code import build_zip, code_sha256
from ddblab.stack.describe import describe
from ddblab.stack.model import Names

CAPABILITIES = ["CAPABILITY_NAMED_IAM"]  # role names derive from the prefix


@dataclass
class Package:
    """What `package` uploaded: the stack parameters, and each function's code hash."""
    bucket: str
    parameters: dict  # ParameterKey -> value
    code: dict = field(default_factory=dict)  # function name -> CodeSha256 of its zip

    def as_list(self) -> list:
        """As create_stack takes them, and as `aws cloudformation create-stack --parameters file://` reads them."""
        return [{"ParameterKey": k, "ParameterValue": v} for k, v in self.parameters.items()]


def stack_name(prefix: str) -> str:
    """CloudFormation stack names are letters, digits and '-', starting with a letter."""
    cleaned = re.sub(r"[^A-Za-z0-9-]", "-", prefix).strip("-")
    return f"ddb-streams-lab-{cleaned}" if cleaned else "ddb-streams-lab"


def ensure_bucket(s3, bucket: str, region: str) -> None:
    if find(s3.head_bucket, "404", "NoSuchBucket", "NotFound", Bucket=bucket) is not None:
        return
    args: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":  # the one region S3 refuses a LocationConstraint for
        args["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**args)


def package(client, bucket: str, prefix: str, region: str, stage: str = "dev", api_custom_id: str = "",
            files: dict | None = None, parallelization_factor: int = 1) -> Package:
    """Build each function's zip (the converge's builder) and upload it under a key named by
    its content: a code change is a new key, so an update sees a changed S3Key (CloudFormation
    never re-reads an unchanged one), and unchanged code is not uploaded again.
    files: {module: {name in zip: path}} replaces a function's sources (the update test)."""
    s3, names = client("s3"), Names(prefix)
    ensure_bucket(s3, bucket, region)
    result = Package(bucket, {"Prefix": prefix, "StageName": stage, "ApiCustomId": api_custom_id,
                              "CodeBucket": bucket, "ParallelizationFactor": str(parallelization_factor)})
    for module, parameter in code_key_parameters().items():
        blob = build_zip(module, (files or {}).get(module))
        key = f"{prefix}functions/{module}-{hashlib.sha256(blob).hexdigest()[:16]}.zip"
        if find(s3.head_object, "404", "NoSuchKey", "NotFound", Bucket=bucket, Key=key) is None:
            s3.put_object(Bucket=bucket, Key=key, Body=blob)
        result.parameters[parameter] = key
        result.code[names.function(module)] = code_sha256(blob)
    return result


def stack_status(cfn, name: str) -> str | None:
    try:
        return cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise


def recent_events(cfn, name: str, limit: int = 15) -> str:
    events = cfn.describe_stack_events(StackName=name)["StackEvents"][:limit]
    return "\n".join(f"  {e['LogicalResourceId']:<30} {e['ResourceStatus']:<22} {e.get('ResourceStatusReason', '')}"
                     for e in reversed(events))


def wait_stack(cfn, name: str, goal: str, timeout: float = 1800) -> str:
    """Until the stack leaves *_IN_PROGRESS (MiniStack: at the first look; AWS: minutes);
    a stack that ends elsewhere than goal is reported with its last events."""
    def settled():
        status = stack_status(cfn, name)
        if status is None:
            return "DELETE_COMPLETE" if goal == "DELETE_COMPLETE" else "GONE"
        return None if status.endswith("_IN_PROGRESS") else status
    status = wait_for(settled, f"stack {name} to reach {goal}", timeout=timeout, interval=0.2, max_interval=10)
    if status != goal:
        events = recent_events(cfn, name) if status != "GONE" else ""
        raise UserError(f"stack {name} ended {status}, not {goal}; its last events:\n{events}")
    return status


def names_taken(client, prefix: str) -> list:
    """The stack's resource names that something already holds. AWS fails such a create;
    MiniStack's CloudFormation silently replaces the resource (a table's items, a queue's
    messages are lost) and its delete_stack then removes it: look before creating."""
    spec = describe(Settings(prefix=prefix), PSEUDO_ACCOUNT)  # only its names are read
    names = spec.names
    ddb, sqs, lam, iam, logs, apigw = (client(s) for s in ("dynamodb", "sqs", "lambda", "iam", "logs", "apigateway"))
    taken = [f"table {t.name}" for t in spec.tables
             if find(ddb.describe_table, "ResourceNotFoundException", TableName=t.name)]
    taken += [f"queue {q}" for q in spec.queues if queue_url(sqs, q)]
    for fn in (f.name for f in spec.functions):
        if find(lam.get_function, "ResourceNotFoundException", FunctionName=fn):
            taken.append(f"function {fn}")
        if find(iam.get_role, "NoSuchEntity", RoleName=Names.role(fn)):
            taken.append(f"role {Names.role(fn)}")
        group = Names.log_group(fn)
        if any(g["logGroupName"] == group for g in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]):
            taken.append(f"log group {group}")
    taken += [f"REST API {names.api}" for _ in rest_api_ids(apigw, names.api)]
    return taken


def verify_code(client, pkg: Package) -> None:
    """Each function runs the zip that was uploaded: MiniStack creates a function whose
    code object is missing with CodeSha256 'cfn-deployed' and answers every call with a mock."""
    lam = client("lambda")
    for function, sha in pkg.code.items():
        have = lam.get_function_configuration(FunctionName=function)["CodeSha256"]
        if have != sha:
            raise UserError(f"function {function} has code {have}, not the uploaded zip's {sha} "
                            f"(is its zip in s3://{pkg.bucket} readable?)")


@dataclass
class Deployment:
    name: str
    action: str  # created | updated | unchanged
    seconds: float
    outputs: dict


def deploy(client, name: str, pkg: Package, template: str | None = None, timeout: float = 1800) -> Deployment:
    """Create the stack, or update it; wait; check the code; the outputs."""
    cfn, started = client("cloudformation"), time.monotonic()
    args = dict(StackName=name, TemplateBody=template or to_yaml(render()), Parameters=pkg.as_list(),
                Capabilities=CAPABILITIES)
    status = stack_status(cfn, name)
    if status is None:
        taken = names_taken(client, pkg.parameters["Prefix"])
        if taken:
            raise UserError(f"refusing to create stack {name}: these names are in use: {', '.join(taken)} - "
                            "use another STACK_PREFIX (the converge and the stack spell names alike), or remove them")
        cfn.create_stack(**args)
        action = "created"
        wait_stack(cfn, name, "CREATE_COMPLETE", timeout)
    else:
        try:
            cfn.update_stack(**args)
            action = "updated"
        except ClientError as error:
            if "No updates are to be performed" not in str(error):
                raise
            action = "unchanged"
        else:
            wait_stack(cfn, name, "UPDATE_COMPLETE", timeout)
    verify_code(client, pkg)
    return Deployment(name, action, time.monotonic() - started, stack_outputs(cfn, name))


def stack_outputs(cfn, name: str) -> dict:
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def delete(client, name: str, timeout: float = 1800) -> float:
    cfn, started = client("cloudformation"), time.monotonic()
    cfn.delete_stack(StackName=name)
    wait_stack(cfn, name, "DELETE_COMPLETE", timeout)
    return time.monotonic() - started
