"""Print the stack as one CloudFormation template (YAML), rendered from the stack
description: the same tables, queues, roles, functions, mappings and API the converge makes.
No account, region or partition is written in; names derive from the Prefix parameter.

    ddblab template                      # to stdout
    ddblab template --out template.yaml
"""
from __future__ import annotations

from pathlib import Path

from ddblab.stack.cloudformation_template import render, to_yaml

HELP = "print the stack as a CloudFormation template (YAML), or write it with --out"


def configure(parser) -> None:
    parser.add_argument("--out", type=Path, help="write the template to this file instead of stdout")


def run(args) -> int:
    text = to_yaml(render())
    if args.out:
        args.out.write_text(text)
        print(f"wrote {args.out} ({len(text.splitlines())} lines)")
    else:
        print(text, end="")
    return 0
