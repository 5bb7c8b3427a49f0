"""Add a consumer: its handler from the template, its unit and integration tests, and its one
line in the stack description (ddblab/stack/consumers.py). Everything is checked before
anything is written, so a refused name changes nothing."""
from __future__ import annotations

import keyword
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from ddblab.core.settings import ROOT, UserError
from ddblab.stack.code import SHARED_MODULES, handler_module
from ddblab.stack.consumers import API_FUNCTION, declared_now

TEMPLATES = Path(__file__).resolve().parents[1] / "scaffold"
MARKER = "    # new consumers: one line each, above this comment\n"
NAME = re.compile(r"[a-z][a-z0-9_]{1,39}")
ATTRIBUTE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
projection = handler_module("projection")

# Names a consumer cannot take: the stack's own tables and functions (a consumer's function
# and table are named after it), and what the runtime imports.
STACK_NAMES = {"users", "users_by_location", API_FUNCTION}
MODULES = {*SHARED_MODULES, "boto3", "botocore", "handler", "test"}


class ConsumerRefused(UserError):
    pass


@dataclass(frozen=True)
class NewConsumer:
    name: str
    index: str | None = None  # None: no index ("" is a refused attribute name)
    root: Path = ROOT

    @property
    def files(self) -> dict:
        """Where each file goes -> its template."""
        return {self.root / "handlers" / f"{self.name}.py": "handler.py.tmpl",
                self.root / "tests" / "unit" / f"test_{self.name}.py": "unit_test.py.tmpl",
                self.root / "tests" / "integration" / f"test_{self.name}_live.py": "integration_test.py.tmpl"}

    @property
    def description(self) -> Path:
        return self.root / "ddblab" / "stack" / "consumers.py"

    @property
    def line(self) -> str:
        index = f', index="{self.index}"' if self.index else ""
        return f'    Consumer("{self.name}"{index}),\n'

    def refusal(self) -> str:
        """Why this consumer cannot be added as asked ('' when it can)."""
        name = self.name
        if not NAME.fullmatch(name):
            return (f"{name!r} is not a consumer name: 2 to 40 characters, lower-case letters, digits and _, "
                    "starting with a letter (it names a handler module, a function and a table)")
        if name in STACK_NAMES:
            return f"{name!r} is taken by the stack itself (its function and table are named after it): choose another name"
        if keyword.iskeyword(name) or name in sys.stdlib_module_names or name in MODULES:
            return f"{name!r} is taken by Python (its handler module would shadow a module): choose another name"
        if name in declared_now(self.description):
            return f"{name} is a consumer already (ddblab/stack/consumers.py)"
        existing = [path for path in [*self.files, self.root / "handlers" / name] if path.exists()]
        if existing:
            return f"{existing[0].relative_to(self.root)} exists already: remove it or choose another name"
        reserved = (projection.VIEW_KEY, projection.VIEW_SEQUENCE)
        if self.index is not None and (not ATTRIBUTE.fullmatch(self.index) or self.index in reserved):
            return (f"--index {self.index!r}: an attribute name (letters, digits, _), "
                    f"other than {projection.VIEW_KEY} and {projection.VIEW_SEQUENCE}")
        if MARKER not in self.description.read_text():
            return (f"{self.description.relative_to(self.root)} has lost the line {MARKER.strip()!r}: add "
                    f"{self.line.strip()} to CONSUMERS by hand")
        return ""

    def write(self) -> list:
        """Write the files and the line; returns the paths written (relative to the root)."""
        why = self.refusal()
        if why:
            raise ConsumerRefused(why)
        written = []
        try:
            for path, template in self.files.items():
                text = (TEMPLATES / template).read_text().replace("__NAME__", self.name)
                with open(path, "x") as f:  # never over a file that appeared meanwhile
                    f.write(text)
                written.append(path)
            source = self.description.read_text()
            self.description.write_text(source.replace(MARKER, self.line + MARKER, 1))
        except OSError as error:
            for path in written:
                path.unlink()
            raise ConsumerRefused(f"could not write {error.filename}: {error.strerror}; nothing was added") from None
        return [p.relative_to(self.root) for p in [*written, self.description]]
