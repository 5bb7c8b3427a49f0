"""Package the functions and deploy the template to a real AWS account, with your own
credentials and region (the usual AWS_PROFILE / AWS_REGION / aws configure), through
CloudFormation with CAPABILITY_NAMED_IAM. Never run by the tests. It refuses an emulator
endpoint, and does nothing without --yes-deploy-to-aws.

    ddblab deploy-aws --yes-deploy-to-aws
    aws cloudformation delete-stack --stack-name ddb-streams-lab    # to remove it

What it creates costs nothing at rest but storage (on-demand tables, no provisioned
concurrency); see README.md, "To AWS".
"""
from __future__ import annotations

import os

import boto3
from botocore.exceptions import NoCredentialsError

from ddblab.core.settings import EMULATOR_ACCOUNT, Settings, UserError
from ddblab.stack.cloudformation import deploy, package, stack_name

HELP = "package and deploy the template to your AWS account (needs --yes-deploy-to-aws)"


def configure(parser) -> None:
    parser.add_argument("--yes-deploy-to-aws", action="store_true",
                        help="really create or update resources in the AWS account your credentials name")
    parser.add_argument("--stack-name", help="default: ddb-streams-lab, or ddb-streams-lab-<STACK_PREFIX>")
    parser.add_argument("--bucket", help="S3 bucket for the zips, created if missing "
                        "(default: ddblab-code-<account>-<region>)")


def refuse_emulator() -> None:
    """boto3 follows AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_<SERVICE>): this command talks to AWS only."""
    for variable in sorted(v for v in os.environ if v.startswith("AWS_ENDPOINT_URL")):
        raise UserError(f"{variable}={os.environ[variable]} is set: deploy-aws deploys to AWS itself, never to "
                        f"an endpoint - unset it (the emulator path is: make up)")


def run(args) -> int:
    refuse_emulator()
    # The region as the AWS CLI finds it (environment, then the profile); boto3 alone skips AWS_REGION.
    session = boto3.session.Session(region_name=os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION"))
    region = session.region_name
    if not region:
        raise UserError("no AWS region - set AWS_REGION (or AWS_DEFAULT_REGION), or run: aws configure")
    try:
        account = session.client("sts").get_caller_identity()["Account"]
    except NoCredentialsError:
        raise UserError("no AWS credentials - set AWS_PROFILE, or run: aws configure") from None
    if account == EMULATOR_ACCOUNT:
        raise UserError(f"the credentials answer as account {EMULATOR_ACCOUNT}, an emulator's - not deploying")
    settings = Settings.from_env(allow_remote=True)  # for STACK_PREFIX and API_STAGE; boto3 does the talking
    prefix = settings.prefix
    name = args.stack_name or stack_name(prefix)
    bucket = args.bucket or f"ddblab-code-{account}-{region}"
    plan = f"stack {name} in account {account}, region {region}; code in s3://{bucket}"
    if not args.yes_deploy_to_aws:
        raise UserError(f"this would create or update {plan}. It costs nothing at rest but storage; "
                        "to go ahead run: ddblab deploy-aws --yes-deploy-to-aws")
    print(f"deploying {plan}")
    pkg = package(session.client, bucket, prefix, region, settings.stage,
                  parallelization_factor=settings.parallelization_factor)
    result = deploy(session.client, name, pkg)
    print(f"stack {name}: {result.action} in {result.seconds:.0f} s")
    for key, value in result.outputs.items():
        print(f"  {key:<20} {value}")
    print(f"remove it with: aws cloudformation delete-stack --stack-name {name} --region {region}")
    return 0
