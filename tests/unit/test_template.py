"""The CloudFormation template: rendered from the stack description, lint-clean, and free
of any account, region or partition."""
from __future__ import annotations

import re

import yaml
from cfnlint.api import ManualArgs, lint

from ddblab.commands import template as template_command
from ddblab.core.settings import Settings
from ddblab.stack.cloudformation_template import render, to_yaml
from ddblab.stack.describe import describe
from ddblab.stack.model import Account


class Loader(yaml.SafeLoader):
    """Reads the short forms back as {"Tag": value} (!Sub x -> {"Sub": x}), enough to look inside."""


Loader.add_multi_constructor("!", lambda loader, tag, node: {
    tag: loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode) else loader.construct_scalar(node)})


def test_template_rendered_passes_cfn_lint_including_informational():
    # WHEN the template is rendered and linted with every rule (informational ones too)
    matches = lint(to_yaml(render()), config=ManualArgs(regions=["us-east-1", "eu-central-1", "cn-north-1"],
                                                        include_checks=["I"]))
    # THEN nothing is found (the one rule ignored, on one role, carries its reason in Metadata)
    assert [str(m) for m in matches] == []


def test_template_rendered_no_account_region_or_partition_literal():
    text = to_yaml(render())
    assert not re.search(r"arn:aws[:-]", text)
    assert not re.search(r"\b\d{12}\b", text)
    assert not re.search(r"\b(us|eu|ap|sa|ca|me|af|cn)-[a-z]+-\d\b", text)


def test_template_ignored_rule_has_a_reason():
    # cfn-lint takes ignore_checks from a resource's Metadata and from the template's: both are looked at
    template = render()
    for where, part in [("the template", template), *template["Resources"].items()]:
        ignored = part.get("Metadata", {}).get("cfn-lint", {}).get("config", {}).get("ignore_checks")
        if ignored:
            assert part["Metadata"].get("Why"), f"{where} ignores {ignored} without a reason"


def test_template_resources_match_the_stack_description():
    # GIVEN the stack the converge would make (any prefix) and the template read back
    stack = describe(Settings(prefix="p-"), Account("aws", "us-east-1", "123456789012"))
    resources = yaml.load(to_yaml(render()), Loader=Loader)["Resources"]
    by_type = lambda kind: [r["Properties"] for r in resources.values() if r["Type"] == kind]  # noqa: E731 - a one-line helper, local to where it is used
    named = lambda value: value["Sub"].replace("${Prefix}", "p-")  # noqa: E731 - a one-line helper, local to where it is used
    # THEN every table, queue, function, role and mapping of the description is there, as described
    tables = {named(t["TableName"]): t for t in by_type("AWS::DynamoDB::Table")}
    assert set(tables) == {t.name for t in stack.tables}
    for table in stack.tables:
        assert tables[table.name]["KeySchema"] == table.key_schema
        assert tables[table.name].get("StreamSpecification", {}).get("StreamViewType") == table.stream
        assert [i["IndexName"] for i in tables[table.name].get("GlobalSecondaryIndexes", [])] == \
            [i.name for i in table.indexes]
    assert {named(q["QueueName"]) for q in by_type("AWS::SQS::Queue")} == set(stack.queues)
    functions = {named(f["FunctionName"]): f for f in by_type("AWS::Lambda::Function")}
    for fn in stack.functions:
        have = functions[fn.name]
        assert (have["Handler"], have["Runtime"], have["Timeout"], have["MemorySize"], have["Architectures"]) == \
            (fn.handler, fn.runtime, fn.timeout, fn.memory, [fn.architecture])
        assert set(have.get("Environment", {}).get("Variables", {})) == set(fn.env)
    roles = {named(r["RoleName"]): r for r in by_type("AWS::IAM::Role")}
    for fn in stack.functions:
        statements = roles[fn.role]["Policies"][0]["PolicyDocument"]["Statement"]
        assert [sorted(s["Action"]) for s in statements] == [sorted(s["Action"]) for s in fn.policy]
    mappings = by_type("AWS::Lambda::EventSourceMapping")
    assert len(mappings) == len(stack.mappings)
    for mapping in stack.mappings:
        assert {"BatchSize": mapping.batch_size, "StartingPosition": mapping.starting_position,
                "MaximumRetryAttempts": mapping.max_retries, "MaximumRecordAgeInSeconds": mapping.max_record_age,
                "BisectBatchOnFunctionError": mapping.bisect}.items() <= mappings[stack.mappings.index(mapping)].items()
    paths = {r["PathPart"] for r in by_type("AWS::ApiGateway::Resource")}
    assert paths == {p.rsplit("/", 1)[1] for p in stack.api.paths}


def test_template_command_out_writes_the_rendered_template(tmp_path, capsys):
    out = tmp_path / "template.yaml"
    assert template_command.run(type("Args", (), {"out": out})()) == 0
    assert out.read_text() == to_yaml(render())


def test_template_parallelization_factor_a_parameter_every_mapping_takes():
    # WHEN the template is rendered
    template = render()
    # THEN ParallelizationFactor is a parameter of AWS's range, 1 by default (one batch per shard)
    assert {k: template["Parameters"]["ParallelizationFactor"][k] for k in ("Type", "Default", "MinValue", "MaxValue")} == \
        {"Type": "Number", "Default": 1, "MinValue": 1, "MaxValue": 10}
    # AND every stream mapping takes it
    resources = yaml.load(to_yaml(template), Loader=Loader)["Resources"]
    mappings = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    assert mappings and all(m["ParallelizationFactor"] == {"Ref": "ParallelizationFactor"} for m in mappings)
