"""Converge a backend to the stack description, one resource kind at a time, and say what
changed. Every step looks before it creates, so running it any number of times is safe: a
second run reports everything unchanged and keeps every resource id."""
from __future__ import annotations

from ddblab.core.aws import mappings_of
from ddblab.core.kinds import Backend
from ddblab.core.settings import Settings
from ddblab.emulator.health import emulator_name
from ddblab.stack.converge import api, functions, mappings, queues, roles, tables
from ddblab.stack.converge.context import Context
from ddblab.stack.describe import describe
from ddblab.stack.model import Account, Stack
from ddblab.stack.report import Report


def converge_stack(stack: Stack, backend: str, prune: bool = False) -> Report:
    ctx = Context(stack, backend)
    ctx.report.backend = backend
    for table in stack.tables:
        tables.converge(ctx, table)
    for queue in stack.queues:
        queues.converge(ctx, queue)
    for fn in stack.functions:
        roles.converge(ctx, fn)
    created = functions.create_missing(ctx, stack.functions)
    for fn in stack.functions:
        functions.converge(ctx, fn, created=fn.name in created)
    for mapping in stack.mappings:
        mappings.converge(ctx, mapping)
    for table in sorted({m.table for m in stack.mappings}):
        mappings.undescribed(ctx, table, prune)
    api.converge(ctx, stack.api)
    names = stack.names
    ctx.report.outputs.update(users_table=names.users, target_table=names.target,
                              quarantine_queue=ctx.queue_urls[names.quarantine], dlq=ctx.queue_urls[names.dlq])
    ctx.report.outputs.update({f"{c.module}_table": names.function(c.module) for c in stack.consumers if c.view})
    collect_ids(ctx)
    return ctx.report


def converge(settings: Settings, *, prune: bool = False, **describe_args) -> Report:
    """Converge the stack these settings describe (describe_args: see describe()); prune:
    remove the mappings on its streams that call a function it does not describe."""
    stack = describe(settings, Account.of(settings), **describe_args)
    return converge_stack(stack, emulator_name(settings.endpoint_url) if settings.is_local else Backend.AWS, prune)


def collect_ids(ctx: Context) -> None:
    """What identifies each resource on the backend, so two runs can be compared."""
    ids, stack = ctx.report.ids, ctx.stack
    for table in stack.tables:
        t = ctx.ddb.describe_table(TableName=table.name)["Table"]
        ids[("table", table.name)] = (t["TableArn"], t.get("LatestStreamArn"))
    ids.update({("queue", name): url for name, url in ctx.queue_urls.items()})
    ids.update({("role", name): arn for name, arn in ctx.role_arns.items()})
    for fn in stack.functions:
        c = ctx.lam.get_function(FunctionName=fn.name)["Configuration"]
        ids[("function", fn.name)] = (c["FunctionArn"], c.get("RevisionId"), c.get("CodeSha256"))
        ids[("mapping", fn.name)] = tuple(sorted(m["UUID"] for m in mappings_of(ctx.lam, fn.name)))
    ids[("api", stack.api.name)] = ctx.report.outputs["api_id"]


