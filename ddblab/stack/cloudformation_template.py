"""The stack description rendered as one CloudFormation template, for AWS (and proven on the
emulator's CloudFormation by tests/integration/test_cloudformation.py).

Nothing is written twice: describe() is asked for the stack with a prefix of "${Prefix}" and
an account made of CloudFormation's pseudo parameters, so every name and ARN it returns is
already a Fn::Sub string (`${Prefix}users`, `arn:${AWS::Partition}:dynamodb:...`). Names of
the stack's own resources inside those strings become references to them (`${UsersTable}`),
so CloudFormation orders creation and deletion by them. No account, region or partition is
a literal anywhere.
"""
from __future__ import annotations

import dataclasses
import re

import yaml

from ddblab.core.settings import Settings
from ddblab.stack.converge.queues import RETENTION_SECONDS
from ddblab.stack.converge.roles import TRUST_POLICY
from ddblab.stack.converge.tables import index_definition
from ddblab.stack.describe import describe
from ddblab.stack.model import Account, Function, Names, QueueUrl, Stack

PREFIX = "${Prefix}"
PSEUDO_ACCOUNT = Account(partition="${AWS::Partition}", region="${AWS::Region}", account_id="${AWS::AccountId}")
PREFIX_PATTERN = "^[A-Za-z0-9_-]{0,32}$"  # valid in every name the stack makes (tables, queues, roles, functions)
# A lab's data is reproducible, and "delete the stack, everything is gone" is what a user expects.
DELETE = {"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"}
# Actions IAM does not list but an emulator asks for: why the policy names them (cfn-lint W3037).
UNLISTED_ACTIONS = {
    "sqs:SendMessageBatch": "AWS authorizes SendMessageBatch as sqs:SendMessage; MiniStack under AUTH=true asks "
                            "for sqs:SendMessageBatch itself, and IAM accepts the unknown name in a policy",
}


# -- the short forms (!Ref, !GetAtt, !Sub, !If) as YAML tags ------------------------------------
class Ref(str):
    pass


class GetAtt(str):
    pass


class Sub(str):
    pass


class If(list):
    pass


class Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data):  # the same statement twice is written twice, not as an alias
        return True


Dumper.add_representer(Ref, lambda d, v: d.represent_scalar("!Ref", str(v)))
Dumper.add_representer(GetAtt, lambda d, v: d.represent_scalar("!GetAtt", str(v)))
Dumper.add_representer(Sub, lambda d, v: d.represent_scalar("!Sub", str(v)))
Dumper.add_representer(If, lambda d, v: d.represent_sequence("!If", list(v), flow_style=False))


def value(text: str):
    """A string of the description as CloudFormation reads it: a plain string, a !Ref or
    !GetAtt when it is exactly one reference, a !Sub otherwise."""
    if "${" not in text:
        return text
    whole = re.fullmatch(r"\$\{([A-Za-z0-9]+)(?:\.([A-Za-z.]+))?\}", text)
    if whole and not whole.group(1).startswith("AWS"):
        return GetAtt(f"{whole.group(1)}.{whole.group(2)}") if whole.group(2) else Ref(whole.group(1))
    return Sub(text)


# -- logical ids ----------------------------------------------------------------------------------
def logical(name: str, kind: str = "") -> str:
    """`${Prefix}users_by_location` -> UsersByLocationTable (kind "Table")."""
    base = name.removeprefix(PREFIX).removeprefix("/aws/lambda/" + PREFIX)
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", base) if part) + kind


def path_id(path: str) -> str:
    """/users/{email} -> UsersEmail."""
    return logical(path)


class References:
    """The names of the stack's own resources, replaced by references inside a string: a
    table's name by its Ref, a queue's by its QueueName, a log group's by its Ref."""

    def __init__(self, stack: Stack):
        self.by_name = {t.name: f"${{{logical(t.name, 'Table')}}}" for t in stack.tables}
        self.by_name.update({q: f"${{{logical(q, 'Queue')}.QueueName}}" for q in stack.queues})
        self.by_name.update({f.log_group: f"${{{logical(f.name, 'LogGroup')}}}" for f in stack.functions})
        self.queue_urls = {q: f"${{{logical(q, 'Queue')}}}" for q in stack.queues}  # a queue's Ref is its URL
        # Longest first, and only whole names: `${Prefix}users` is not inside `${Prefix}users_by_location`.
        names = sorted(self.by_name, key=len, reverse=True)
        self.pattern = re.compile("(" + "|".join(map(re.escape, names)) + r")(?![A-Za-z0-9_.-])")

    def __call__(self, item):
        if isinstance(item, QueueUrl):
            return value(self.queue_urls[item.queue])
        if isinstance(item, str):
            return value(self.pattern.sub(lambda m: self.by_name[m.group(1)], item))
        if isinstance(item, list):
            return [self(i) for i in item]
        if isinstance(item, dict):
            return {k: self(v) for k, v in item.items()}
        return item


# -- the resources, kind by kind ----------------------------------------------------------------
def tables(stack: Stack) -> dict:
    resources = {}
    for table in stack.tables:
        properties = {"TableName": value(table.name), "BillingMode": "PAY_PER_REQUEST",
                      "AttributeDefinitions": table.attributes, "KeySchema": table.key_schema}
        if table.indexes:
            properties["GlobalSecondaryIndexes"] = [index_definition(index) for index in table.indexes]
        if table.stream:  # CloudFormation's StreamSpecification has no StreamEnabled: a view type enables it
            properties["StreamSpecification"] = {"StreamViewType": table.stream}
        resources[logical(table.name, "Table")] = {"Type": "AWS::DynamoDB::Table", **DELETE, "Properties": properties}
    return resources


def queues(stack: Stack) -> dict:
    return {logical(q, "Queue"): {"Type": "AWS::SQS::Queue", **DELETE, "Properties": {
        "QueueName": value(q), "MessageRetentionPeriod": RETENTION_SECONDS}} for q in stack.queues}


def role(fn: Function, refs: References) -> dict:
    unlisted = sorted({a for s in fn.policy for a in s["Action"] if a in UNLISTED_ACTIONS})
    resource = {"Type": "AWS::IAM::Role", "Properties": {
        "RoleName": value(fn.role),
        "AssumeRolePolicyDocument": TRUST_POLICY,
        "Policies": [{"PolicyName": Names.POLICY, "PolicyDocument": {
            "Version": "2012-10-17", "Statement": [refs(statement) for statement in fn.policy]}}]}}
    if unlisted:
        resource["Metadata"] = {"cfn-lint": {"config": {"ignore_checks": ["W3037"]}},
                                "Why": {a: UNLISTED_ACTIONS[a] for a in unlisted}}
    return resource


def function(fn: Function, refs: References) -> dict:
    properties = {
        "FunctionName": value(fn.name), "Runtime": fn.runtime, "Handler": fn.handler, "Timeout": fn.timeout,
        "MemorySize": fn.memory, "Architectures": [fn.architecture], "Role": GetAtt(f"{logical(fn.name, 'Role')}.Arn"),
        "Code": {"S3Bucket": Ref("CodeBucket"), "S3Key": Ref(code_key_parameter(fn))},
    }
    if fn.env:
        properties["Environment"] = {"Variables": {k: refs(v) for k, v in fn.env.items()}}
    # The group first: a function that runs before its group exists makes Lambda create it,
    # and the stack's own create then fails with AlreadyExists on AWS.
    return {"Type": "AWS::Lambda::Function", "DependsOn": logical(fn.name, "LogGroup"), "Properties": properties}


def functions(stack: Stack, refs: References) -> dict:
    resources = {}
    for fn in stack.functions:
        resources[logical(fn.name, "LogGroup")] = {"Type": "AWS::Logs::LogGroup", **DELETE,
                                                   "Properties": {"LogGroupName": value(fn.log_group)}}
        resources[logical(fn.name, "Role")] = role(fn, refs)
        resources[logical(fn.name, "Function")] = function(fn, refs)
    return resources


def mappings(stack: Stack) -> dict:
    return {logical(m.function, "Mapping"): {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
        "FunctionName": Ref(logical(m.function, "Function")),
        "EventSourceArn": GetAtt(f"{logical(m.table, 'Table')}.StreamArn"),
        "StartingPosition": m.starting_position, "BatchSize": m.batch_size, "MaximumRetryAttempts": m.max_retries,
        "MaximumRecordAgeInSeconds": m.max_record_age, "BisectBatchOnFunctionError": m.bisect, "Enabled": True,
        "ParallelizationFactor": Ref("ParallelizationFactor"),
        "DestinationConfig": {"OnFailure": {"Destination": GetAtt(f"{logical(stack.names.dlq, 'Queue')}.Arn")}},
    }} for m in stack.mappings}


def api(stack: Stack) -> dict:
    spec, rest = stack.api, "RestApi"
    function_id = logical(spec.function, "Function")
    resources = {rest: {"Type": "AWS::ApiGateway::RestApi", "Properties": {
        "Name": value(spec.name), "Description": "users API (ddb-streams-lab)",
        "EndpointConfiguration": {"Types": ["REGIONAL"]},
        # A fixed id on the emulators (LocalStack's _custom_id_, MiniStack's ms-custom-id), as converge sets it.
        "Tags": If(["HasApiCustomId", [{"Key": "ms-custom-id", "Value": Ref("ApiCustomId")},
                                       {"Key": "_custom_id_", "Value": Ref("ApiCustomId")}], Ref("AWS::NoValue")]),
    }}}
    methods = []
    uri = Sub(stack.integration_uri(f"${{{function_id}.Arn}}"))
    for path in spec.paths:
        parent, _, part = path.rpartition("/")
        if parent and parent not in spec.paths:
            raise ValueError(f"API path {path}: its parent {parent} is not one of the API's paths")
        resources[path_id(path) + "Resource"] = {"Type": "AWS::ApiGateway::Resource", "Properties": {
            "RestApiId": Ref(rest), "PathPart": part,
            "ParentId": Ref(path_id(parent) + "Resource") if parent else GetAtt(f"{rest}.RootResourceId")}}
        methods.append(path_id(path) + "Method")
        resources[methods[-1]] = {"Type": "AWS::ApiGateway::Method", "Properties": {
            "RestApiId": Ref(rest), "ResourceId": Ref(path_id(path) + "Resource"), "HttpMethod": "ANY",
            "AuthorizationType": "NONE",
            "Integration": {"Type": "AWS_PROXY", "IntegrationHttpMethod": "POST", "Uri": uri}}}
    resources[f"{function_id}InvokePermission"] = {"Type": "AWS::Lambda::Permission", "Properties": {
        "FunctionName": GetAtt(f"{function_id}.Arn"), "Action": "lambda:InvokeFunction",
        "Principal": "apigateway.amazonaws.com", "SourceArn": Sub(stack.invoke_permission_source(f"${{{rest}}}"))}}
    # A Deployment is immutable: CloudFormation does not redeploy when a method changes. The
    # description names the routes, so a change of paths changes it and gives a new deployment.
    resources["Deployment"] = {"Type": "AWS::ApiGateway::Deployment", "DependsOn": methods, "Properties": {
        "RestApiId": Ref(rest), "Description": "routes " + " ".join(f"ANY {p}" for p in spec.paths)}}
    resources["Stage"] = {"Type": "AWS::ApiGateway::Stage", "Properties": {
        "RestApiId": Ref(rest), "DeploymentId": Ref("Deployment"), "StageName": Ref("StageName")}}
    return resources


# -- parameters and outputs ---------------------------------------------------------------------
def code_key_parameter(fn: Function) -> str:
    return logical(fn.name) + "CodeKey"


def parameters(stack: Stack) -> dict:
    params = {
        "Prefix": {"Type": "String", "Default": "", "AllowedPattern": PREFIX_PATTERN,
                   "Description": "Prepended to every resource name, so several stacks can share an account and "
                                  "region (letters, digits, '_' and '-'; at most 32)."},
        "StageName": {"Type": "String", "Default": Settings.stage, "AllowedPattern": "^[A-Za-z0-9_]{1,64}$",
                      "Description": "API Gateway stage."},
        "ApiCustomId": {"Type": "String", "Default": "", "AllowedPattern": "^[a-z0-9]{0,30}$",
                        "Description": "Emulators only: a fixed REST API id, so the API URL survives a restart. "
                                       "Leave empty on AWS."},
        "CodeBucket": {"Type": "String", "Description": "S3 bucket holding the function zips (the stack's region)."},
        "ParallelizationFactor": {"Type": "Number", "Default": 1, "MinValue": 1, "MaxValue": 10,
                                  "Description": "Batches of one stream shard each mapping runs at once; each user's "
                                                 "records stay in order (the fold is per user)."},
    }
    for fn in stack.functions:
        params[code_key_parameter(fn)] = {"Type": "String", "Description": f"S3 key of the {fn.module} zip "
                                          "(ddblab package: a new key whenever the code changes)."}
    return params


def outputs(stack: Stack) -> dict:
    names = stack.names
    streamed = next(t for t in stack.tables if t.stream)
    return {
        "ApiUrl": {"Description": "the API on AWS (an emulator serves <endpoint>/_aws/execute-api/<ApiId>/<stage>"
                                  f"{stack.api.resource_path})",
                   "Value": Sub(f"https://${{RestApi}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/${{Stage}}"
                                f"{stack.api.resource_path}")},
        "ApiId": {"Value": Ref("RestApi")},
        "UsersTable": {"Value": Ref(logical(names.users, "Table"))},
        "TargetTable": {"Value": Ref(logical(names.target, "Table"))},
        "StreamArn": {"Value": GetAtt(f"{logical(streamed.name, 'Table')}.StreamArn")},
        "QuarantineQueueUrl": {"Value": Ref(logical(names.quarantine, "Queue"))},
        "DeadLetterQueueUrl": {"Value": Ref(logical(names.dlq, "Queue"))},
        # the tables of the consumers that keep one of their own (describe.CONSUMERS)
        **{logical(t.name, "Table"): {"Value": Ref(logical(t.name, "Table"))} for t in stack.tables
           if t.name not in (names.users, names.target)},
    }


# -- the template ---------------------------------------------------------------------------------
def template_stack() -> Stack:
    """The stack description with CloudFormation's placeholders for prefix and account."""
    return describe(dataclasses.replace(Settings(), prefix=PREFIX), PSEUDO_ACCOUNT)


def render(stack: Stack | None = None) -> dict:
    stack = stack or template_stack()
    refs = References(stack)
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"ddb-streams-lab: users table and stream, {' and '.join(c.module for c in stack.consumers)} "
                       f"on {len(stack.mappings)} stream mappings, users_by_location, quarantine and dead-letter "
                       "queues, the users REST API. Rendered from ddblab/stack/describe.py by `ddblab template`; "
                       "deploy with CAPABILITY_NAMED_IAM.",
        "Parameters": parameters(stack),
        "Conditions": {"HasApiCustomId": {"Fn::Not": [{"Fn::Equals": [Ref("ApiCustomId"), ""]}]}},
        "Resources": {**tables(stack), **queues(stack), **functions(stack, refs), **mappings(stack), **api(stack)},
        "Outputs": outputs(stack),
    }


def to_yaml(template: dict) -> str:
    return yaml.dump(template, Dumper=Dumper, sort_keys=False, width=120, default_flow_style=False)


def code_key_parameters() -> dict:
    """Function name (under the given prefix, see package) -> its code key parameter."""
    return {fn.module: code_key_parameter(fn) for fn in template_stack().functions}
