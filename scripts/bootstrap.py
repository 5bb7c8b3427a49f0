"""Converge a backend to the stack in scripts/stack.py, and say what changed.

Every step looks before it creates, so running this any number of times is safe: a second
run reports everything unchanged and keeps every resource id. Usable alone against any
AWS_ENDPOINT_URL:  python -m scripts.bootstrap
"""
from __future__ import annotations

import argparse
import hashlib
import base64
import io
import json
import time
import zipfile
from urllib.parse import unquote
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from scripts import stack as stackmod
from scripts.backend import emulator_name, require_backend
from scripts.settings import ROOT, Settings, UserError, run_main
from scripts.waiting import wait_for

HANDLERS = ROOT / "handlers"
SHARED_MODULES = ("projection",)
TRUST_POLICY = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


@dataclass
class Report:
    rows: list = field(default_factory=list)  # (kind, name, action, detail)
    outputs: dict = field(default_factory=dict)
    ids: dict = field(default_factory=dict)  # (kind, name) -> the id the backend gave it

    def add(self, kind: str, name: str, action: str, detail: str = "") -> None:
        self.rows.append((kind, name, action, detail))

    @property
    def changed(self) -> list:
        return [row for row in self.rows if row[2] != "unchanged"]


def _code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def build_zip(module: str, files: dict | None = None) -> bytes:
    """A byte-for-byte reproducible zip (fixed timestamps and order), so its hash only
    changes when the code does and unchanged code is never re-uploaded. files maps names in
    the zip to source paths; by default the handler module and the shared modules."""
    files = files or {f"{name}.py": HANDLERS / f"{name}.py" for name in {module, *SHARED_MODULES}}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name].read_bytes())
    return buffer.getvalue()


def code_sha256(blob: bytes) -> str:
    return base64.b64encode(hashlib.sha256(blob).digest()).decode()


class Converger:
    def __init__(self, stack: stackmod.Stack, report: Report | None = None):
        self.stack = stack
        self.settings = stack.settings
        self.report = report or Report()
        c = self.settings.client
        self.ddb, self.sqs, self.iam = c("dynamodb"), c("sqs"), c("iam")
        self.lam, self.apigw = c("lambda"), c("apigateway")
        self.queue_urls: dict = {}
        self.role_arns: dict = {}

    # -- tables -------------------------------------------------------------------------
    def table(self, spec: stackmod.Table) -> None:
        try:
            current = self.ddb.describe_table(TableName=spec.name)["Table"]
        except ClientError as error:
            if _code(error) != "ResourceNotFoundException":
                raise
            args = dict(
                TableName=spec.name, BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=spec.attributes,
                KeySchema=[{"AttributeName": a, "KeyType": t} for a, t in spec.key])
            if spec.stream:
                args["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": spec.stream}
            if spec.indexes:
                args["GlobalSecondaryIndexes"] = [{
                    "IndexName": index, "Projection": {"ProjectionType": "ALL"},
                    "KeySchema": [{"AttributeName": a, "KeyType": t} for a, t in key]}
                    for index, key in spec.indexes]
            self.ddb.create_table(**args)
            self.ddb.get_waiter("table_exists").wait(TableName=spec.name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 150})
            self.report.add("table", spec.name, "created")
            return
        key = tuple((k["AttributeName"], k["KeyType"]) for k in current["KeySchema"])
        if key != spec.key:
            raise UserError(
                f"table {spec.name} exists with key {key}, expected {spec.key}; "
                "a key cannot be changed in place - delete the table, or restart the emulator "
                "(make down up: MiniStack and LocalStack keep no state), then run make up")
        stream = current.get("StreamSpecification") or {}
        if spec.stream and (not stream.get("StreamEnabled") or stream.get("StreamViewType") != spec.stream):
            if stream.get("StreamEnabled"):  # a stream's view type cannot change: replace the stream
                self.ddb.update_table(TableName=spec.name, StreamSpecification={"StreamEnabled": False})
            self.ddb.update_table(TableName=spec.name, StreamSpecification={
                "StreamEnabled": True, "StreamViewType": spec.stream})
            self.report.add("table", spec.name, "updated", f"stream {spec.stream}")
            return
        have = {i["IndexName"] for i in current.get("GlobalSecondaryIndexes", [])}
        missing = [(index, key) for index, key in spec.indexes if index not in have]
        for index, key in missing:
            self.ddb.update_table(
                TableName=spec.name, AttributeDefinitions=spec.attributes,
                GlobalSecondaryIndexUpdates=[{"Create": {
                    "IndexName": index, "Projection": {"ProjectionType": "ALL"},
                    "KeySchema": [{"AttributeName": a, "KeyType": t} for a, t in key]}}])
        self.report.add("table", spec.name, "updated" if missing else "unchanged",
                        f"index {', '.join(i for i, _ in missing)}" if missing else "")

    def stream_arn(self, table: str) -> str:
        arn = self.ddb.describe_table(TableName=table)["Table"].get("LatestStreamArn")
        if not arn:
            raise UserError(f"table {table} has no stream")
        return arn

    # -- queues -------------------------------------------------------------------------
    def queue(self, name: str) -> None:
        try:
            url = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
            action = "unchanged"
        except ClientError as error:
            if "NonExistentQueue" not in _code(error) and _code(error) != "QueueDoesNotExist":
                raise
            url = self.sqs.create_queue(QueueName=name, Attributes={"MessageRetentionPeriod": "1209600"})["QueueUrl"]
            action = "created"
        self.queue_urls[name] = url
        self.report.add("queue", name, action)

    def queue_arn(self, name: str) -> str:
        return self.sqs.get_queue_attributes(
            QueueUrl=self.queue_urls[name], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    # -- roles --------------------------------------------------------------------------
    def role(self, spec: stackmod.Function) -> None:
        name = f"{spec.name}-role"
        policy = {"Version": "2012-10-17", "Statement": spec.policy}
        action = "unchanged"
        try:
            self.role_arns[spec.name] = self.iam.get_role(RoleName=name)["Role"]["Arn"]
        except ClientError as error:
            if _code(error) != "NoSuchEntity":
                raise
            self.role_arns[spec.name] = self.iam.create_role(
                RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST_POLICY))["Role"]["Arn"]
            action = "created"
        try:
            document = self.iam.get_role_policy(RoleName=name, PolicyName="least-privilege")["PolicyDocument"]
            if isinstance(document, str):  # some backends answer URL-encoded JSON, as IAM does
                document = json.loads(unquote(document))
        except ClientError as error:
            if _code(error) != "NoSuchEntity":
                raise
            document = None
        if document != policy:
            self.iam.put_role_policy(RoleName=name, PolicyName="least-privilege", PolicyDocument=json.dumps(policy))
            action = "created" if action == "created" else "updated"
        self.report.add("role", name, action)

    # -- functions ----------------------------------------------------------------------
    def function(self, spec: stackmod.Function) -> None:
        blob = build_zip(spec.module)
        env = {k: (self.queue_urls[v.queue] if isinstance(v, stackmod.QueueUrl) else v) for k, v in spec.env.items()}
        config = dict(
            Runtime=stackmod.RUNTIME, Role=self.role_arns[spec.name], Handler=f"{spec.module}.handler",
            Timeout=spec.timeout, MemorySize=spec.memory, Environment={"Variables": env})
        try:
            current = self.lam.get_function(FunctionName=spec.name)["Configuration"]
        except ClientError as error:
            if _code(error) != "ResourceNotFoundException":
                raise
            self.lam.create_function(FunctionName=spec.name, Code={"ZipFile": blob}, **config)
            self._wait_function(spec.name, "function_active_v2")
            self.report.add("function", spec.name, "created")
            return
        changes = []
        if current.get("CodeSha256") != code_sha256(blob):
            self.lam.update_function_code(FunctionName=spec.name, ZipFile=blob)
            self._wait_function(spec.name, "function_updated_v2")
            changes.append("code")
        have = {k: current.get(k) for k in config}
        have["Environment"] = {"Variables": (current.get("Environment") or {}).get("Variables", {})}
        drift = [k for k in config if have[k] != config[k]]
        if drift:
            self.lam.update_function_configuration(FunctionName=spec.name, **config)
            self._wait_function(spec.name, "function_updated_v2")
            changes.append("config: " + ", ".join(drift))
        self.report.add("function", spec.name, "updated" if changes else "unchanged", "; ".join(changes))

    def _wait_function(self, name: str, waiter: str) -> None:
        self.lam.get_waiter(waiter).wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})

    # -- mappings -----------------------------------------------------------------------
    def mapping(self, spec: stackmod.Mapping) -> None:
        stream = self.stream_arn(spec.table)
        table_streams = f":table/{spec.table}/stream/"
        wanted = dict(
            BatchSize=spec.batch_size, MaximumRetryAttempts=spec.max_retries,
            MaximumRecordAgeInSeconds=spec.max_record_age, BisectBatchOnFunctionError=spec.bisect,
            DestinationConfig={"OnFailure": {"Destination": self.queue_arn(self.stack.names["dlq"])}})
        existing = self._paged(self.lam, "list_event_source_mappings", "EventSourceMappings", FunctionName=spec.function)
        keep = None
        for m in existing:
            if m["EventSourceArn"] == stream and keep is None:
                keep = m
            elif m["EventSourceArn"] == stream or table_streams in m["EventSourceArn"]:
                # A duplicate (MiniStack creates one silently) or a mapping on a stream
                # that was replaced: either would replay or miss records.
                self.lam.delete_event_source_mapping(UUID=m["UUID"])
                why = "duplicate" if m["EventSourceArn"] == stream else "stale stream"
                self.report.add("mapping", f"{spec.function} <- {spec.table}", "removed", f"{why} {m['UUID']}")
        if keep is None:
            keep = self.lam.create_event_source_mapping(
                FunctionName=spec.function, EventSourceArn=stream, StartingPosition="TRIM_HORIZON", Enabled=True, **wanted)
            action, detail = "created", keep["UUID"]
        else:
            have = {k: keep.get(k) for k in wanted}
            have["DestinationConfig"] = {"OnFailure": (keep.get("DestinationConfig") or {}).get("OnFailure", {})}
            drift = [k for k in wanted if have[k] != wanted[k]]
            if keep.get("State") in ("Disabled", "Disabling"):
                drift.append("Enabled")  # someone disabled it: the stack wants it running
            if drift:
                self.lam.update_event_source_mapping(UUID=keep["UUID"], Enabled=True, **wanted)
            action, detail = ("updated", ", ".join(drift)) if drift else ("unchanged", keep["UUID"])
        uuid = keep["UUID"]
        wait_for(lambda: self.lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled",
                 f"mapping {uuid} ({spec.function}) to be Enabled", timeout=60)
        self.report.add("mapping", f"{spec.function} <- {spec.table}", action, detail)
        self.report.outputs.setdefault("stream", stream)

    @staticmethod
    def _paged(client, operation: str, key: str, **kwargs) -> list:
        return [item for page in client.get_paginator(operation).paginate(**kwargs) for item in page[key]]

    # -- API ----------------------------------------------------------------------------
    def api(self, spec: stackmod.Api) -> None:
        apis = [a for a in self._paged(self.apigw, "get_rest_apis", "items") if a["name"] == spec.name]
        changed = []
        if apis:
            api_id, action = apis[0]["id"], "unchanged"
        else:
            api_id = self.apigw.create_rest_api(
                name=spec.name, description="users API (ddb-streams-lab)", endpointConfiguration={"types": ["REGIONAL"]})["id"]
            action = "created"
        function_arn = self.lam.get_function(FunctionName=spec.function)["Configuration"]["FunctionArn"]
        uri = (f"arn:aws:apigateway:{self.settings.region}:lambda:path/2015-03-31/functions/"
               f"{function_arn}/invocations")
        resources = {r["path"]: r for r in self._paged(self.apigw, "get_resources", "items", restApiId=api_id)}
        for path in spec.paths:
            if path not in resources:
                parent_path, _, part = path.rpartition("/")
                parent = resources[parent_path or "/"]
                resources[path] = self.apigw.create_resource(restApiId=api_id, parentId=parent["id"], pathPart=part)
                changed.append(f"resource {path}")
            resource_id = resources[path]["id"]
            try:
                integration = self.apigw.get_integration(restApiId=api_id, resourceId=resource_id, httpMethod="ANY")
            except ClientError as error:
                if _code(error) != "NotFoundException":
                    raise
                integration = None
            if integration is None or integration.get("uri") != uri or integration.get("type") != "AWS_PROXY":
                try:
                    self.apigw.put_method(restApiId=api_id, resourceId=resource_id, httpMethod="ANY", authorizationType="NONE")
                except ClientError as error:
                    if _code(error) != "ConflictException":
                        raise
                self.apigw.put_integration(
                    restApiId=api_id, resourceId=resource_id, httpMethod="ANY", type="AWS_PROXY",
                    integrationHttpMethod="POST", uri=uri)
                changed.append(f"ANY {path}")
        try:
            self.lam.add_permission(
                FunctionName=spec.function, StatementId=f"apigateway-{api_id}", Action="lambda:InvokeFunction",
                Principal="apigateway.amazonaws.com", SourceArn=self.stack.arn("execute-api", f"{api_id}/*/*"))
            changed.append("invoke permission")
        except ClientError as error:
            if _code(error) != "ResourceConflictException":
                raise
        stages = {s["stageName"] for s in self.apigw.get_stages(restApiId=api_id).get("item", [])}
        if changed or self.settings.stage not in stages:
            self.apigw.create_deployment(restApiId=api_id, stageName=self.settings.stage)
            changed.append(f"deployed to {self.settings.stage}")
        if changed and action == "unchanged":
            action = "updated"
        self.report.add("api", spec.name, action, "; ".join(changed) if action == "updated" else api_id)
        self.report.outputs["api_id"] = api_id
        self.report.outputs["api_url"] = f"{self.settings.endpoint_url}/_aws/execute-api/{api_id}/{self.settings.stage}/users"

    # -- all ----------------------------------------------------------------------------
    def converge(self) -> Report:
        s = self.stack
        for table in s.tables:
            self.table(table)
        for queue in s.queues:
            self.queue(queue)
        for fn in s.functions:
            self.role(fn)
        for fn in s.functions:
            self.function(fn)
        for mapping in s.mappings:
            self.mapping(mapping)
        self.api(s.api)
        self.report.outputs.update(
            users_table=s.names["users"], target_table=s.names["target"],
            quarantine_queue=self.queue_urls[s.names["quarantine"]], dlq=self.queue_urls[s.names["dlq"]])
        self.collect_ids()
        return self.report

    def collect_ids(self) -> None:
        """What identifies each resource on the backend, so two runs can be compared."""
        ids, s = self.report.ids, self.stack
        for table in s.tables:
            t = self.ddb.describe_table(TableName=table.name)["Table"]
            ids[("table", table.name)] = (t["TableArn"], t.get("LatestStreamArn"))
        ids.update({("queue", name): url for name, url in self.queue_urls.items()})
        ids.update({("role", name): arn for name, arn in self.role_arns.items()})
        for fn in s.functions:
            c = self.lam.get_function(FunctionName=fn.name)["Configuration"]
            ids[("function", fn.name)] = (c["FunctionArn"], c.get("RevisionId"), c.get("CodeSha256"))
            ids[("mapping", fn.name)] = tuple(sorted(m["UUID"] for m in self._paged(
                self.lam, "list_event_source_mappings", "EventSourceMappings", FunctionName=fn.name)))
        ids[("api", s.api.name)] = self.report.outputs["api_id"]


def converge(settings: Settings, **describe_args) -> Report:
    return Converger(stackmod.describe(settings, **describe_args)).converge()


def print_report(report: Report, settings: Settings) -> None:
    from rich.table import Table

    from scripts.output import console
    styles = {"created": "green", "updated": "yellow", "removed": "red", "unchanged": "dim"}
    console.print(f"stack on {emulator_name(settings.endpoint_url)} at {settings.endpoint_url}"
                  + (f" (prefix {settings.prefix!r})" if settings.prefix else ""), highlight=False)
    table = Table()
    for column in ("kind", "name", "action", "detail"):
        table.add_column(column)
    for kind, name, action, detail in report.rows:
        table.add_row(kind, name, f"[{styles[action]}]{action}[/]", detail)
    console.print(table)
    o = report.outputs
    for label, value in (("API", f"POST {o['api_url']}"), ("tables", f"{o['users_table']} -> {o['target_table']}"),
                         ("users stream", o["stream"]), ("quarantine", o["quarantine_queue"]),
                         ("dead letters", o["dlq"])):
        console.print(f"[bold]{label:<15}[/] {value}", soft_wrap=True)
    summary = ", ".join(f"{n} {a}" for a in ("created", "updated", "removed")
                        if (n := sum(1 for r in report.rows if r[2] == a))) or "everything unchanged"
    console.print(f"[bold]{'converged':<15}[/] {summary}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the outputs as JSON only")
    args = parser.parse_args()
    settings = Settings.from_env()
    require_backend(settings)
    started = time.monotonic()
    report = converge(settings)
    if args.json:
        print(json.dumps(report.outputs, indent=2))
    else:
        print_report(report, settings)
        print(f"({time.monotonic() - started:.1f} s)")
    return 0


def remove(settings: Settings) -> Report:
    """Delete everything the stack describes (used for the drill and bench stacks)."""
    spec = stackmod.describe(settings)
    report = Report()
    c = settings.client
    lam, ddb, sqs, iam, apigw = c("lambda"), c("dynamodb"), c("sqs"), c("iam"), c("apigateway")

    def gone(kind, name, call, *missing):
        try:
            call()
            report.add(kind, name, "removed")
        except ClientError as error:
            if _code(error) not in missing:
                raise
    for api in [a for p in apigw.get_paginator("get_rest_apis").paginate() for a in p["items"] if a["name"] == spec.api.name]:
        gone("api", spec.api.name, lambda: apigw.delete_rest_api(restApiId=api["id"]), "NotFoundException")
    for fn in spec.functions:
        try:
            mappings = lam.list_event_source_mappings(FunctionName=fn.name)["EventSourceMappings"]
        except ClientError:
            mappings = []
        for m in mappings:
            gone("mapping", m["UUID"], lambda: lam.delete_event_source_mapping(UUID=m["UUID"]), "ResourceNotFoundException")
        gone("function", fn.name, lambda: lam.delete_function(FunctionName=fn.name), "ResourceNotFoundException")
        role = f"{fn.name}-role"
        gone("role policy", role, lambda: iam.delete_role_policy(RoleName=role, PolicyName="least-privilege"), "NoSuchEntity")
        gone("role", role, lambda: iam.delete_role(RoleName=role), "NoSuchEntity")
    for table in spec.tables:
        gone("table", table.name, lambda: ddb.delete_table(TableName=table.name), "ResourceNotFoundException")
    for queue in spec.queues:
        try:
            url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        except ClientError:
            continue
        gone("queue", queue, lambda: sqs.delete_queue(QueueUrl=url), "AWS.SimpleQueueService.NonExistentQueue")
    return report


if __name__ == "__main__":
    run_main(main)
