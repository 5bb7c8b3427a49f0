"""The deployed code: handlers/*.py, zipped reproducibly with the modules they share.

The handlers are zipped flat and import each other as top-level modules (`import
projection`), exactly as Lambda runs them; handler_module() imports one the same way, so
the tools share the handlers' definitions (key names, the fold) instead of copying them.
"""
from __future__ import annotations

import base64
import hashlib
import importlib
import importlib.util
import io
import sys
import zipfile
from pathlib import Path

from ddblab.core.settings import ROOT, UserError

HANDLERS = ROOT / "handlers"
SHARED_MODULES = ("projection", "environment", "log_lines")  # zipped with every function


def handler_module(name: str):
    """handlers/<name>.py, imported under its flat name (as the functions import it), by path:
    handlers/ never goes on sys.path, so only the handlers the tools load are importable, not
    every file there. The shared modules first, since the handlers import them flat."""
    if name in sys.modules:  # loaded already (by the tests, or as handlers.<name> under mutmut)
        return sys.modules[name]
    for shared in SHARED_MODULES if name not in SHARED_MODULES else ():  # the shared ones import no handler
        handler_module(shared)
    spec = importlib.util.spec_from_file_location(name, HANDLERS / f"{name}.py")
    assert spec is not None and spec.loader is not None, name
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[name]
        # The tools read the handlers' definitions, so a handler saved with an import error
        # stops them too: say which file and why in one line, not with a traceback.
        where = f", line {error.lineno}" if isinstance(error, SyntaxError) else ""
        raise UserError(f"handlers/{name}.py{where} does not import ({type(error).__name__}: {error}); the tools "
                        "import it too - fix it, then: make bootstrap") from error
    except BaseException:
        del sys.modules[name]
        raise
    return module


def sources(module: str, handlers: Path = HANDLERS) -> dict:
    """Names in the zip -> source paths: the handler module (a file, or a package: every .py in
    handlers/<module>/, as <module>/<file>.py) and the shared modules."""
    files = {}
    for name in {module, *SHARED_MODULES}:
        package = Path(handlers) / name
        if (package / "__init__.py").exists():
            files.update({f"{name}/{path.name}": path for path in sorted(package.glob("*.py"))})
        else:
            files[f"{name}.py"] = Path(handlers) / f"{name}.py"
    return files


def module_of(path: Path, handlers: Path = HANDLERS) -> str | None:
    """The handler module a file of handlers/ belongs to (a package's files: the package), or
    None when it is no handler code."""
    path, handlers = Path(path).resolve(), Path(handlers).resolve()
    if path.suffix != ".py":
        return None
    if path.parent == handlers:
        return path.stem
    if path.parent.parent == handlers and (path.parent / "__init__.py").exists():
        return path.parent.name
    return None


def check_compiles(files: dict) -> None:
    """Refuse code that does not compile: deployed, it would fail on every record."""
    for path in sorted(files.values()):
        try:
            compile(Path(path).read_bytes(), str(path), "exec")
        except SyntaxError as error:
            where = Path(path).relative_to(ROOT) if Path(path).is_relative_to(ROOT) else path
            raise UserError(f"{where}, line {error.lineno}: {error.msg} - not deployed; fix it and save again") from None


def build_zip(module: str, files: dict | None = None) -> bytes:
    """A byte-for-byte reproducible zip (fixed timestamps and order), so its hash only
    changes when the code does and unchanged code is never re-uploaded. files maps names in
    the zip to source paths; by default the handler module and the shared modules."""
    files = files or sources(module)
    check_compiles(files)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, Path(files[name]).read_bytes())
    return buffer.getvalue()


def code_sha256(blob: bytes) -> str:
    return base64.b64encode(hashlib.sha256(blob).digest()).decode()
