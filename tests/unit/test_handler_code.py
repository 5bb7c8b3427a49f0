"""What goes into a function's zip, and which functions a saved file of handlers/ redeploys:
a handler is a module or a package (handlers/users_api/), zipped whole with the shared modules."""
from __future__ import annotations

import io
import sys
import zipfile
from types import SimpleNamespace

import pytest

from ddblab.core.settings import UserError
from ddblab.stack import code
from ddblab.stack.code import HANDLERS, build_zip, module_of, sources
from ddblab.stack.reload import affected


def test_sources_package_handler_zipped_whole_with_the_shared_modules():
    assert sorted(sources("users_api")) == ["environment.py", "log_lines.py", "projection.py", "users_api/__init__.py",
                                            "users_api/fields.py", "users_api/gateway.py", "users_api/paging.py",
                                            "users_api/routes.py"]
    assert sorted(sources("audit")) == ["audit.py", "environment.py", "log_lines.py", "projection.py"]


def test_build_zip_package_handler_holds_its_directory():
    names = zipfile.ZipFile(io.BytesIO(build_zip("users_api"))).namelist()
    assert "users_api/routes.py" in names and "users_api/__init__.py" in names and "projection.py" in names


def test_module_of_a_saved_file_is_its_handler():
    assert module_of(HANDLERS / "users_api" / "paging.py") == "users_api"
    assert module_of(HANDLERS / "audit.py") == "audit"
    assert module_of(HANDLERS / "users_api" / "notes.txt") is None
    assert module_of(HANDLERS.parent / "ddblab" / "cli.py") is None


def test_affected_a_package_file_redeploys_its_function_only():
    functions = [SimpleNamespace(module=m) for m in ("users_api", "replicate", "audit")]
    assert [f.module for f in affected(functions, {"users_api"})] == ["users_api"]
    assert [f.module for f in affected(functions, {"projection"})] == ["users_api", "replicate", "audit"]


def test_handler_module_loads_by_path_without_putting_handlers_on_sys_path():
    # GIVEN a fresh interpreter, as a command starts
    import subprocess
    import sys
    script = ("import sys; from ddblab.stack.code import HANDLERS, handler_module; audit = handler_module('audit'); "
              "print(str(HANDLERS) in sys.path, audit.projection is sys.modules['projection'], "
              "'replicate' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                            cwd=HANDLERS.parent)
    # THEN audit and the module it shares are loaded, and nothing else of handlers/ is importable by accident
    assert result.stdout.split() == ["False", "True", "False"], result.stderr


@pytest.mark.parametrize("source, said", [
    ("import not_a_module_anywhere\n", "handlers/broken.py does not import (ModuleNotFoundError: No module named "
                                       "'not_a_module_anywhere'); the tools import it too - fix it, then: make bootstrap"),
    ("x = (\n", "handlers/broken.py, line 1 does not import (SyntaxError: "),
])
def test_handler_module_that_does_not_import_says_which_file_in_one_line(tmp_path, monkeypatch, source, said):
    # GIVEN a handler saved with an import-time error, beside the shared modules it would import
    for shared in code.SHARED_MODULES:
        (tmp_path / f"{shared}.py").write_bytes((HANDLERS / f"{shared}.py").read_bytes())
    (tmp_path / "broken.py").write_text(source)
    monkeypatch.setattr(code, "HANDLERS", tmp_path)
    # WHEN a tool imports it THEN a UserError names the file and the error, and nothing half-imported stays
    with pytest.raises(UserError) as raised:
        code.handler_module("broken")
    assert str(raised.value).startswith(said)
    assert "broken" not in sys.modules
