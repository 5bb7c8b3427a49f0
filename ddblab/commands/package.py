"""Build each function's zip (the converge's reproducible builder), upload it to an S3
bucket on the current endpoint under a key named by its content, and print the stack's
parameters in the form `aws cloudformation create-stack --parameters file://FILE` reads.

    ddblab package --bucket ddblab-code --out .run/cfn-parameters.json
"""
from __future__ import annotations

import json
from pathlib import Path

from ddblab.core.settings import Settings
from ddblab.emulator.health import require_backend
from ddblab.stack.cloudformation import package
from ddblab.stack.model import Names

HELP = "zip and upload the function code to an S3 bucket; print the stack parameters"


def configure(parser) -> None:
    parser.add_argument("--bucket", default="ddblab-code", help="S3 bucket for the zips, created if missing "
                        "(default: %(default)s)")
    parser.add_argument("--out", type=Path, help="write the parameters (JSON) to this file instead of stdout")


def run(args) -> int:
    settings = Settings.from_env()
    require_backend(settings)
    # On an emulator the REST API gets the same fixed id the converge gives it.
    pkg = package(settings.client, args.bucket, settings.prefix, settings.region, settings.stage,
                  api_custom_id=Names(settings.prefix).api_custom_id,
                  parallelization_factor=settings.parallelization_factor)
    text = json.dumps(pkg.as_list(), indent=2) + "\n"
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(f"uploaded to s3://{pkg.bucket} on {settings.endpoint_url}; parameters in {args.out}")
    else:
        print(text, end="")
    return 0
