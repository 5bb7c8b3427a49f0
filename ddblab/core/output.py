"""One console for every command: rich on a terminal; plain text (no colour, 120 columns,
so URLs and ARNs are never folded mid-word) in pipes, CI, or with NO_COLOR set."""
import os
import sys

from rich.console import Console

_tty = sys.stdout.isatty()


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """`ddblab status | head -3`: the reader has what it wanted; that is not a failure."""
        try:
            super().on_broken_pipe()  # silences stdout from here on, then exits 1
        except SystemExit:
            raise SystemExit(0) from None


console = _Console(width=None if _tty else 120, no_color=bool(os.environ.get("NO_COLOR")) or not _tty, highlight=_tty)
