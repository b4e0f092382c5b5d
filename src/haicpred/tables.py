"""Reading and writing the pipeline's TSV tables.

Every table is written the same way (fixed float format, empty string for missing, rows in a
stable order, atomic rename) so that the same inputs give byte-identical files.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

FLOAT_FORMAT = "%.10g"


def read_tsv(path: str | os.PathLike, **kwargs) -> pd.DataFrame:
    """Read a TSV as strings; empty cells become missing (NaN). Callers convert types."""
    return pd.read_csv(
        path, sep="\t", dtype=str, keep_default_na=False, na_values=[""], comment=None, **kwargs
    )


def write_tsv(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write atomically: a failed job never leaves a half-written table behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="") as handle:
            df.to_csv(handle, sep="\t", index=False, na_rep="", float_format=FLOAT_FORMAT,
                      lineterminator="\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(text: str, path: str | os.PathLike) -> None:
    """Atomic text write (HTML, JSON)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
