"""Make this checkout's `haicpred` importable when a rule runs in its own conda env (where the
package is not pip-installed). Snakemake puts this folder on sys.path for every script."""

import sys
from pathlib import Path

_SRC = str(Path(__file__).resolve().parents[2] / "src")
if _SRC not in sys.path:
    sys.path.insert(0, _SRC)
