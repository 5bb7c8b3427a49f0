"""Roles: one per function, trusted by Lambda, with its least-privilege inline policy."""
from __future__ import annotations

import json
from urllib.parse import unquote

from ddblab.core.aws import find
from ddblab.stack.converge.context import Context
from ddblab.stack.model import Function, Names

TRUST_POLICY = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def policy_document(spec: Function) -> dict:
    return {"Version": "2012-10-17", "Statement": spec.policy}


def converge(ctx: Context, spec: Function) -> None:
    action = "unchanged"
    role = find(ctx.iam.get_role, "NoSuchEntity", RoleName=spec.role)
    if role is None:
        role = ctx.iam.create_role(RoleName=spec.role, AssumeRolePolicyDocument=json.dumps(TRUST_POLICY))
        action = "created"
    ctx.role_arns[spec.name] = role["Role"]["Arn"]
    current = find(ctx.iam.get_role_policy, "NoSuchEntity", RoleName=spec.role, PolicyName=Names.POLICY)
    document = current["PolicyDocument"] if current else None
    if isinstance(document, str):  # some backends answer URL-encoded JSON, as IAM does
        document = json.loads(unquote(document))
    wanted = policy_document(spec)
    if document != wanted:
        ctx.iam.put_role_policy(RoleName=spec.role, PolicyName=Names.POLICY, PolicyDocument=json.dumps(wanted))
        action = "created" if action == "created" else "updated"
    ctx.report.add("role", spec.role, action)
