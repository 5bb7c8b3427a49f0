"""Hot reload: from a file saved under handlers/ to the deployed functions that run it.

A saved file is compiled first; one that does not compile is reported with its line and
never deployed, so the running function keeps its last good code. Only the functions that
zip the file are updated (a shared module, projection.py, is in every function's zip).

Two ways to put the new code in place:
- zip (every backend): update_function_code with the reproducible zip, then wait until the
  update is done. MiniStack runs the new code on the next invocation.
- LocalStack's hot reload (`hot_reload=True`): each function is switched once to code
  served from a directory on the host - `S3Bucket="hot-reload"`, `S3Key=<absolute host
  path>` (LocalStack 4.14.0 `services/lambda_/invocation/lambda_service.py` L730-776,
  BUCKET_MARKER_LOCAL in `config.py` L982-984). The executor bind-mounts that directory
  read-only at /var/task (`invocation/docker_runtime_executor.py` L322-333) and the
  runtime restarts ~0.5-0.7 s after a file in it changes (inotify, 500 ms debounce). That
  is faster than a zip update, which starts a new version in a new container
  (`lambda_service.py` L500-588). The directory is a staging copy (.run/hot-reload/<fn>),
  never handlers/ itself: LocalStack would otherwise run a file that does not compile the
  moment it is saved. Its path is a host path, resolved by the Docker daemon, so this
  needs a local daemon (not a remote DOCKER_HOST).
"""
from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from ddblab.core.settings import UserError
from ddblab.core.waiting import wait_for
from ddblab.stack.code import HANDLERS, SHARED_MODULES, build_zip, check_compiles, code_sha256, module_of, sources
from ddblab.stack.model import Function

HOT_RELOAD_BUCKET = "hot-reload"  # LocalStack's BUCKET_MARKER_LOCAL default
STALE_WORKER_WINDOW = 0.1  # seconds; see Reloader._zip


@dataclass(frozen=True)
class Reload:
    """What one save did: the functions updated (or left alone), or why it was refused."""
    files: tuple
    updated: tuple = ()
    unchanged: tuple = ()
    refused: str = ""
    seconds: float = 0.0

    def line(self) -> str:
        stamp = time.strftime("%H:%M:%S")
        saved = ", ".join(self.files)
        if self.refused:
            return f"{stamp} {self.refused}"
        if not self.updated and not self.unchanged:
            return f"{stamp} {saved}: {not_deployed(self.files)}"
        done = f"{', '.join(self.updated)} updated" if self.updated else "no code changed"
        same = f" ({', '.join(self.unchanged)} unchanged)" if self.unchanged and self.updated else ""
        return f"{stamp} {saved} -> {done}{same} in {self.seconds:.2f} s"


def not_deployed(files: tuple) -> str:
    """Why a saved handler deployed nothing, and what to run."""
    from ddblab.stack.consumers import declared_now
    stems = [Path(f).stem for f in files]
    if any(stem in declared_now() for stem in stems):
        return "in the stack description, but its function is not deployed yet - run: make bootstrap"
    return (f"used by no function - a new consumer? add the line Consumer(\"{stems[0]}\"), to "
            "ddblab/stack/consumers.py (or start from the template: make consumer NAME=...), then: make bootstrap")


def affected(functions, modules: set) -> list:
    """The functions whose zip holds one of these modules (names without .py)."""
    if modules & set(SHARED_MODULES):
        return list(functions)
    return [fn for fn in functions if fn.module in modules]


class Reloader:
    def __init__(self, lam, functions, handlers: Path = HANDLERS, hot_reload_dir: Path | None = None,
                 wait_active: bool = True):
        self.lam = lam
        # MiniStack 1.5.33 runs a $LATEST update on the very next invocation: the update drops
        # the warm worker at once, and its Pending -> Active flip is a fixed 0.5 s timer that
        # invoke does not wait for (services/lambda_svc.py, _update_function_code and
        # _LAMBDA_STATE_TRANSITION_DELAY). Waiting for Active there only adds 0.5 s; LocalStack
        # and AWS serve the old version until the new one is Active, so there it is awaited.
        self.wait_active = wait_active
        self.functions = tuple(functions)
        self.handlers = Path(handlers)
        self.hot_reload_dir = Path(hot_reload_dir).resolve() if hot_reload_dir else None
        self.switched: set = set()  # functions serving code from their staging directory

    def files(self, fn: Function) -> dict:
        return sources(fn.module, self.handlers)

    def start(self) -> Reload:
        """Bring every function up to date with handlers/ (edits made while no one watched),
        and on LocalStack switch it to hot reload."""
        return self._deploy(self.functions, tuple(sorted(f"{m}.py" for m in {fn.module for fn in self.functions})))

    def saved(self, paths) -> Reload:
        """React to saved files (paths anywhere; only handlers/*.py and handlers/<package>/*.py count)."""
        modules = {Path(p): module_of(Path(p), self.handlers) for p in paths}
        paths = [p for p, module in modules.items() if module is not None]
        present = [p for p in paths if p.exists()]
        names = tuple(sorted(str(p.resolve().relative_to(self.handlers.resolve())) for p in paths))
        try:
            check_compiles({p.name: p for p in present})
        except UserError as error:
            return Reload(names, refused=str(error))
        return self._deploy(affected(self.functions, {modules[p] for p in paths}), names)

    def _deploy(self, functions, names: tuple) -> Reload:
        started = time.monotonic()
        updated: list[str] = []
        unchanged: list[str] = []
        try:
            for fn in functions:
                changed = self._hot(fn) if self.hot_reload_dir else self._zip(fn)
                (updated if changed else unchanged).append(fn.name)
        except UserError as error:
            return Reload(names, refused=str(error))
        return Reload(names, tuple(updated), tuple(unchanged), seconds=time.monotonic() - started)

    def _zip(self, fn: Function) -> bool:
        blob = build_zip(fn.module, self.files(fn))
        if self.lam.get_function_configuration(FunctionName=fn.name).get("CodeSha256") == code_sha256(blob):
            return False
        self.lam.update_function_code(FunctionName=fn.name, ZipFile=blob)
        if self.wait_active:
            self._wait_updated(fn.name)
        else:
            # MiniStack 1.5.33 keys its warm workers by function and qualifier, not by code
            # (core/lambda_runtime.py, _worker_key and acquire_worker): an invocation that read
            # the old code just before the update can spawn a worker with it just after the
            # update dropped the old one, and that worker then serves the old code until the
            # next update (seen here: while the stream keeps invoking, one save in ~15 never
            # took effect). A second update a moment later drops such a worker; invocations
            # racing with it read the new code, so the race cannot leave old code behind twice.
            time.sleep(STALE_WORKER_WINDOW)
            self.lam.update_function_code(FunctionName=fn.name, ZipFile=blob)
        return True

    def _hot(self, fn: Function) -> bool:
        files = self.files(fn)
        check_compiles(files)
        assert self.hot_reload_dir is not None  # _deploy calls _hot only with one
        stage = self.hot_reload_dir / fn.name
        stage.mkdir(parents=True, exist_ok=True)
        changed = False
        for name, source in files.items():
            target = stage / name  # a package's files in a directory of their own
            target.parent.mkdir(parents=True, exist_ok=True)
            data = Path(source).read_bytes()
            if not target.exists() or target.read_bytes() != data:
                temporary = target.with_name(f".{target.name}.tmp")
                temporary.write_bytes(data)
                temporary.replace(target)  # whole files only: the runtime never sees half a save
                changed = True
        if fn.name in self.switched:
            return changed  # the runtime sees the new files and restarts by itself
        self.lam.update_function_code(FunctionName=fn.name, S3Bucket=HOT_RELOAD_BUCKET, S3Key=str(stage))
        self._wait_updated(fn.name)
        self.switched.add(fn.name)
        return True

    def stop(self) -> None:
        """Leaving hot reload: back to zips, so the functions no longer depend on .run/."""
        for name in sorted(self.switched):
            fn = next(f for f in self.functions if f.name == name)
            self.lam.update_function_code(FunctionName=name, ZipFile=build_zip(fn.module, self.files(fn)))
            self._wait_updated(name)

    def _wait_updated(self, name: str) -> None:
        def done():
            config = self.lam.get_function_configuration(FunctionName=name)
            if config.get("LastUpdateStatus") == "Failed" or config.get("State") == "Failed":
                raise UserError(f"function {name}: the update failed: {config.get('LastUpdateStatusReason') or '-'}")
            return config.get("LastUpdateStatus", "Successful") == "Successful" and config.get("State") == "Active"
        wait_for(done, f"function {name} to run its new code", timeout=120, interval=0.02, max_interval=0.5)


def copy_handlers(to: Path) -> Path:
    """A copy of handlers/ (the reload measurement edits the copy, never your files)."""
    shutil.copytree(HANDLERS, to, ignore=shutil.ignore_patterns("__pycache__"))
    return to
