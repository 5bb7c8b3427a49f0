"""Scripts run as `python -m scripts.<name>`.

The handlers are zipped flat and import each other as top-level modules (`import
projection`); the scripts share that one module, under that one name.
"""
import sys
from pathlib import Path

_HANDLERS = str(Path(__file__).resolve().parent.parent / "handlers")
if _HANDLERS not in sys.path:
    sys.path.insert(0, _HANDLERS)
