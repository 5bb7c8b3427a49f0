"""What a converge (or a removal) did, one row per resource, and how it is printed."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple


class Row(NamedTuple):
    kind: str
    name: str
    action: str  # created | updated | removed | unchanged
    detail: str = ""


@dataclass
class Report:
    rows: list = field(default_factory=list)
    outputs: dict = field(default_factory=dict)
    ids: dict = field(default_factory=dict)  # (kind, name) -> the id the backend gave it
    backend: str = ""  # ministack | localstack | unknown | aws: what the stack was converged on

    def add(self, kind: str, name: str, action: str, detail: str = "") -> None:
        self.rows.append(Row(kind, name, action, detail))

    @property
    def changed(self) -> list:
        return [row for row in self.rows if row.action != "unchanged"]

    def summary(self) -> str:
        counts = [f"{n} {a}" for a in ("created", "updated", "removed", "not described")
                  if (n := sum(1 for r in self.rows if r.action == a))]
        return ", ".join(counts) or "everything unchanged"


def print_report(report: Report, settings) -> None:
    from rich.table import Table

    from ddblab.core.kinds import Backend
    from ddblab.core.output import console
    from ddblab.emulator.health import backend_answering, backend_label
    name = backend_label(report.backend)
    if report.backend == Backend.LOCALSTACK:  # which LocalStack: in Docker, or its runtime on the host
        name = backend_label(backend_answering(settings.endpoint_url, name=report.backend))
    styles = {"created": "green", "updated": "yellow", "removed": "red", "unchanged": "dim",
              "not described": "yellow", "kept": "yellow"}
    console.print(f"stack on {name} at {settings.endpoint_url}"
                  + (f" (prefix {settings.prefix!r})" if settings.prefix else ""), highlight=False)
    table = Table()
    for column in ("kind", "name", "action", "detail"):
        table.add_column(column)
    for row in report.rows:
        table.add_row(row.kind, row.name, f"[{styles[row.action]}]{row.action}[/]", row.detail)
    console.print(table)
    o = report.outputs
    views = [value for key, value in o.items() if key.endswith("_table") and key not in ("users_table", "target_table")]
    for label, value in (("API", o["api_url"]), ("tables", f"{o['users_table']} -> {', '.join([o['target_table'], *views])}"),
                         ("users stream", o["stream"]), ("quarantine", o["quarantine_queue"]),
                         ("dead letters", o["dlq"])):
        console.print(f"[bold]{label:<15}[/] {value}", soft_wrap=True)
    console.print(f"[bold]{'converged':<15}[/] {report.summary()}")
