"""Functions: created from a reproducible zip; code re-uploaded only when its hash changes,
configuration updated only where it differs."""
from __future__ import annotations

from botocore.exceptions import WaiterError

from ddblab.core.aws import find
from ddblab.core.kinds import Backend
from ddblab.core.settings import UserError
from ddblab.stack.code import build_zip, code_sha256
from ddblab.stack.converge.context import Context
from ddblab.stack.model import Function, QueueUrl


def configuration(ctx: Context, spec: Function) -> dict:
    env = {k: (ctx.queue_urls[v.queue] if isinstance(v, QueueUrl) else v) for k, v in spec.env.items()}
    return dict(Runtime=spec.runtime, Role=ctx.role_arns[spec.name], Handler=spec.handler, Timeout=spec.timeout,
                MemorySize=spec.memory, Environment={"Variables": env})


def wait(ctx: Context, name: str, waiter: str, first_start: bool = False) -> None:
    """Wait until the function is Active (or its update done); a function that fails to
    start is reported with its state and reason, not as a traceback."""
    # LocalStack pulls public.ecr.aws/lambda/python:3.12 while a first function is Pending:
    # on a slow line that takes minutes, so the first start is allowed longer (on an emulator
    # of unknown kind too: it may be LocalStack answering slowly).
    attempts = 600 if first_start and ctx.backend in (Backend.LOCALSTACK, Backend.UNKNOWN) else 120
    # Otherwise a function is ready within a second (MiniStack flips it after 0.5 s): polled each
    # second, every create and update would wait a whole second.
    delay = 1 if attempts == 600 else 0.2
    try:
        ctx.lam.get_waiter(waiter).wait(FunctionName=name, WaiterConfig={"Delay": delay, "MaxAttempts": int(attempts / delay)})
    except WaiterError:
        config = ctx.lam.get_function(FunctionName=name)["Configuration"]
        state = f"State {config.get('State')}: {config.get('StateReason') or '-'}; last update " \
                f"{config.get('LastUpdateStatus')}: {config.get('LastUpdateStatusReason') or '-'}"
        hint = (" LocalStack pulls the runtime image public.ecr.aws/lambda/python:3.12 on the first start "
                "(check `docker compose logs localstack`, your network, and that /var/run/docker.sock is mounted);"
                if ctx.backend == Backend.LOCALSTACK else "")
        if config.get("State") == "Failed":
            # The waiter gives up at once on Failed; LocalStack then answers any code update with
            # a 500 (invocation/lambda_service.py), so the function has to be created again.
            raise UserError(f"function {name} failed to start ({state}).{hint} then delete it "
                            f"(awslocal lambda delete-function --function-name {name}) and run: make bootstrap") from None
        raise UserError(f"function {name} did not become ready after {attempts} s ({state}).{hint} "
                        "then run: make bootstrap") from None


def create(ctx: Context, spec: Function) -> None:
    """Create the function without waiting for it: converge() waits (after creating them all,
    so the functions start side by side)."""
    ctx.lam.create_function(FunctionName=spec.name, Code={"ZipFile": build_zip(spec.module)},
                            Architectures=[spec.architecture], **configuration(ctx, spec))


def create_missing(ctx: Context, specs) -> set:
    """The names of the functions created because they did not exist yet."""
    missing = [spec for spec in specs
               if find(ctx.lam.get_function, "ResourceNotFoundException", FunctionName=spec.name) is None]
    for spec in missing:
        create(ctx, spec)
    return {spec.name for spec in missing}


def converge(ctx: Context, spec: Function, created: bool = False) -> None:
    current = None if created else find(ctx.lam.get_function, "ResourceNotFoundException", FunctionName=spec.name)
    if current is None:
        if not created:
            create(ctx, spec)
        wait(ctx, spec.name, "function_active_v2", first_start=True)
        ctx.report.add("function", spec.name, "created")
        return
    blob = build_zip(spec.module)
    config = configuration(ctx, spec)
    current = current["Configuration"]
    changes = []
    if current.get("CodeSha256") != code_sha256(blob):
        ctx.lam.update_function_code(FunctionName=spec.name, ZipFile=blob)
        wait(ctx, spec.name, "function_updated_v2")
        changes.append("code")
    have = {k: current.get(k) for k in config}
    have["Environment"] = {"Variables": (current.get("Environment") or {}).get("Variables", {})}
    drift = [k for k in config if have[k] != config[k]]
    if drift:
        ctx.lam.update_function_configuration(FunctionName=spec.name, **config)
        wait(ctx, spec.name, "function_updated_v2")
        changes.append("config: " + ", ".join(drift))
    ctx.report.add("function", spec.name, "updated" if changes else "unchanged", "; ".join(changes))
