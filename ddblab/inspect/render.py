"""How one change reads for people: the same line in `make watch` (a stream record) and
`make logs` (audit's line about that record). Returns rich markup in which everything that
came from the data is escaped, so a value like "[bold]" is printed, never taken for markup."""
from __future__ import annotations

import time

from rich.markup import escape

from ddblab.inspect.stream import CREATED
from ddblab.stack.code import handler_module

log_lines = handler_module("log_lines")  # the keys of audit's line
EVENT_STYLES = {"INSERT": "green", "MODIFY": "yellow", "REMOVE": "red"}
SHOWN = (log_lines.AUDIT, log_lines.KEYS, log_lines.CHANGES)  # the fields the line is made of; every other one follows it


def change_line(entry: dict) -> str:
    """An audit entry ({audit, keys, changes, ...}) as one line: the event, the keys, what
    changed (INSERT/REMOVE: the item once, without its key; MODIFY: old -> new), then every
    other field of the entry as name=value, so a field added to the audit line is never hidden."""
    event = str(entry.get(log_lines.AUDIT))
    keys = entry.get(log_lines.KEYS) or {}
    changes = entry.get(log_lines.CHANGES) or {}
    old, new = log_lines.OLD, log_lines.NEW
    if event in ("INSERT", "REMOVE"):  # the whole item is new, or gone: show it once
        side = new if event == "INSERT" else old
        shown = " ".join(f"{k}={c.get(side)!r}" for k, c in changes.items() if k not in keys)
    else:
        shown = "; ".join(f"{k}: {c.get(old)!r} -> {c.get(new)!r}" for k, c in changes.items())
    rest = []
    for name, value in entry.items():
        if name in SHOWN:
            continue
        if name == CREATED and isinstance(value, (int, float)):
            value = time.strftime("%H:%M:%S", time.localtime(value))
        rest.append(f"{name}={value}" if name != log_lines.ERROR else f"{name}: {value}")
    style = EVENT_STYLES.get(event, "bold")
    line = f"[{style}]{escape(f'{event:<6}')}[/] {escape(','.join(str(v) for v in keys.values()))}"
    if shown:
        line += f"  {escape(shown)}"
    if rest:
        line += f"  [dim]{escape(' '.join(rest))}[/]"
    return line
