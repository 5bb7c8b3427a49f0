"""One console for every command: rich on a terminal; plain text (no colour, 120 columns,
so URLs and ARNs are never folded mid-word) in pipes, CI, or with NO_COLOR set."""
import os
import sys

from rich.console import Console


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """`ddblab status | head -3`: the reader has what it wanted, which is not a failure
        (rich's own handler exits 1, and make would report an error)."""
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(0)


def plural(count: int, one: str, many: str | None = None) -> str:
    """`1 message`, `2 messages`, `2 retries`: a count with its noun in the right number."""
    if count == 1:
        return f"{count} {one}"
    regular = one[:-1] + "ies" if one.endswith("y") and one[-2:-1] not in "aeiou" else one + "s"
    return f"{count} {many or regular}"


def count_of(count, one: str) -> str:
    """plural() of a count a backend may not give: `? items` then."""
    return plural(count, one) if isinstance(count, int) else f"? {one}s"


_tty = sys.stdout.isatty()
console = _Console(width=None if _tty else 120, no_color=bool(os.environ.get("NO_COLOR")) or not _tty,
                   highlight=_tty)
