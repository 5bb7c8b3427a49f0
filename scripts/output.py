"""One console for every script: 120 columns when output is not a terminal (CI, pipes),
so URLs and ARNs are never folded mid-word."""
import sys

from rich.console import Console

console = Console(width=None if sys.stdout.isatty() else 120)
