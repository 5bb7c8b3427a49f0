"""Watch handlers/ and, on every save, redeploy the functions that use the saved file: one
line per reload, with how long it took. A file that does not compile is reported with its
line and not deployed (the function keeps running its last good code). When the emulator goes
away (make down), it waits for it and the stack to come back (make up). On LocalStack the
functions are served through its hot-reload mechanism while this runs (see
ddblab/stack/reload.py), and back from zips when you stop it. Ctrl-C stops.

    ddblab dev [--zip]
    ddblab dev --measure 20      save -> new code answering, on a stack of its own
"""
from __future__ import annotations

import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from ddblab.core.aws import find
from ddblab.core.kinds import Backend
from ddblab.core.settings import UserError
from ddblab.emulator.health import backend_label, emulator_name, health, require_alive
from ddblab.stack.code import HANDLERS
from ddblab.stack.deployed import Deployed
from ddblab.stack.reload import Reloader, copy_handlers

HELP = "watch handlers/ and redeploy what a save changes (hot reload)"
ALIVE_CHECK_MS = 3000  # how often a quiet watch checks that the emulator still answers


def configure(parser) -> None:
    parser.add_argument("--zip", action="store_true",
                        help="on LocalStack too, update functions with zips instead of its hot-reload mount")
    parser.add_argument("--measure", type=int, metavar="SAVES",
                        help="measure save -> new code answering an invocation over SAVES saves (own stack), then exit")


def reloader(live: Deployed, handlers: Path = HANDLERS, use_zip: bool = False) -> Reloader:
    backend = emulator_name(live.settings.endpoint_url)
    hot = live.settings.run_dir / "hot-reload" if not use_zip and backend == Backend.LOCALSTACK else None
    return Reloader(live.client("lambda"), live.stack.functions, handlers, hot_reload_dir=hot,
                    wait_active=backend != Backend.MINISTACK)


def watch(reload: Reloader, settings, stop: threading.Event | None = None, printer=print) -> None:
    """Deploy every batch of saves watchfiles reports, until Ctrl-C or `stop`."""
    from watchfiles import PythonFilter
    from watchfiles import watch as changes_of
    # step: how long the directory must stay quiet before a batch of changes is reported
    # (an editor's save is several writes); rust_timeout: wake up to check the emulator.
    for changes in changes_of(reload.handlers, watch_filter=PythonFilter(), step=30, debounce=1600,
                              rust_timeout=ALIVE_CHECK_MS, yield_on_timeout=True, stop_event=stop):
        if not changes:
            require_alive(settings)
            continue
        try:
            printer(reload.saved({path for _, path in changes}).line())
        except Exception:
            require_alive(settings)  # a lost emulator is said as such; anything else goes on up
            raise


def run(args) -> int:
    live = Deployed.connect()
    live.require_tables()
    if args.measure:
        return measure(live, args.measure, args.zip)
    reload = reloader(live, use_zip=args.zip)
    how = "LocalStack's hot-reload mount (.run/hot-reload/)" if reload.hot_reload_dir else "zip updates"
    print(f"watching {HANDLERS} - save a file to redeploy the functions that use it, through {how} (Ctrl-C to stop)")
    first = reload.start()
    print(first.line() if not first.refused else f"not started: {first.refused}")
    while True:
        try:
            watch(reload, live.settings)
            return 0
        except UserError:
            if health(live.settings.endpoint_url) is not None:
                raise
        finally:
            if reload.switched and health(live.settings.endpoint_url) is not None:  # gone: nothing to switch back
                print("back to zips: the functions no longer read .run/hot-reload/")
                reload.stop()
        # make down, make up: wait for the stack to be back, then watch again
        print(f"{time.strftime('%H:%M:%S')} the emulator on {live.settings.endpoint_url} stopped answering: waiting "
              "for it and the stack to come back (make up) - Ctrl-C to stop")
        live = wait_for_stack(live.settings)
        reload = reloader(live, use_zip=args.zip)
        again = reload.start()
        print(f"{time.strftime('%H:%M:%S')} the stack is back: "
              + (again.line() if not again.refused else f"not started: {again.refused}"))


def wait_for_stack(settings, interval: float = 1.0) -> Deployed:
    """Poll until the emulator answers and every function of the stack exists again (no
    deadline: a `make down` can be followed by `make up` any time later; Ctrl-C stops)."""
    while True:
        if health(settings.endpoint_url) is not None:
            live = Deployed(settings)
            lam = live.client("lambda")
            try:
                if all(find(lam.get_function, "ResourceNotFoundException", FunctionName=f.name)
                       for f in live.stack.functions):
                    return live
            except (ClientError, BotoCoreError):
                pass  # still starting: ask again
        time.sleep(interval)


PROBE = '''

# --- reload probe (ddblab dev --measure) ---
_probe_handler = handler


def handler(event, context):
    if isinstance(event, dict) and "probe" in event:
        return {{"probe": {mark}}}
    return _probe_handler(event, context)
'''


def measure(live: Deployed, saves: int, use_zip: bool) -> int:
    """Save a copy of audit.py `saves` times, each time with a new mark, and time how long
    until an invocation answers with it: the whole loop (watcher, compile, zip, update,
    the backend starting the new code), on a stack of its own."""
    from ddblab import stack
    settings = live.settings.sub("dev-measure-")
    print(f"converging a stack of its own ({settings.prefix}*) ...")
    backend = stack.converge(settings).backend
    own = Deployed(settings)
    lam = own.client("lambda")
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        handlers = copy_handlers(Path(tmp) / "handlers")
        reload = reloader(own, handlers, use_zip)
        reload.start()
        stop = threading.Event()
        lines: list[str] = []
        watcher = threading.Thread(target=watch, args=(reload, settings, stop, lines.append), daemon=True)
        watcher.start()
        time.sleep(0.5)  # the watcher's first scan
        source = (handlers / "audit.py").read_text()
        try:
            for mark in range(1, saves + 1):
                started = time.monotonic()
                saving = handlers / ".audit.py.saving"  # saved whole, as most editors save
                saving.write_text(source + PROBE.format(mark=mark))
                saving.replace(handlers / "audit.py")
                while True:
                    answer = json.loads(lam.invoke(FunctionName=own.names.audit, Payload=b'{"probe": 1}')["Payload"].read())
                    if isinstance(answer, dict) and answer.get("probe") == mark:
                        break
                    if time.monotonic() - started > 60:
                        raise UserError(f"save {mark} never answered within 60 s (last answer {answer}); "
                                        f"watcher said: {lines[-3:]}")
                    time.sleep(0.01)
                times.append(time.monotonic() - started)
                print(f"save {mark:>2}: {times[-1]:.3f} s   {lines[-1] if lines else ''}")
        finally:
            stop.set()
            watcher.join(timeout=10)
            reload.stop()
            stack.remove(settings)
    print(f"save -> new code answering, {len(times)} saves on {backend_label(backend)}: "
          f"median {statistics.median(times):.3f} s, worst {max(times):.3f} s, best {min(times):.3f} s")
    return 0
