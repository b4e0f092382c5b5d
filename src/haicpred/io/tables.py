"""Reading and writing the pipeline's TSV tables.

Every table is written the same way (fixed float format, empty string for missing, rows in a
stable order, atomic rename) so that the same inputs give byte-identical files.
"""

from __future__ import annotations

import gzip
import json
import os
import tempfile
from pathlib import Path

import pandas as pd

FLOAT_FORMAT = "%.10g"


def _umask_mode() -> int:
    """Permissions an ordinary open() would give (mkstemp's 0600 would hide results from
    colleagues on a shared cluster)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def read_tsv(path: str | os.PathLike, **kwargs) -> pd.DataFrame:
    """Read a TSV as strings; empty cells become missing (NaN). Callers convert types."""
    return pd.read_csv(
        path, sep="\t", dtype=str, keep_default_na=False, na_values=[""], comment=None, **kwargs
    )


GZIP_MAGIC = b"\x1f\x8b"


def is_gzipped(path: str | os.PathLike) -> bool:
    """Whether the file's content is gzip (or bgzip), whatever its name says."""
    with open(path, "rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def open_text(path: str | os.PathLike):
    """A text handle on a plain or gzip-compressed file (told by content), UTF-8; a byte-order
    mark (spreadsheet exports) is dropped, so it cannot become part of the first cell."""
    opener = gzip.open if is_gzipped(path) else open
    return opener(path, "rt", encoding="utf-8-sig", newline="")


def whole_numbers(cells: pd.Series) -> pd.Series:
    """Int64 of the text cells that hold whole numbers (`12`, `12.0`, ` 12 `); missing for
    empty or other cells (their callers report those)."""
    numbers = pd.to_numeric(cells.astype("string").str.strip(), errors="coerce")
    whole = (numbers % 1 == 0) & (numbers.abs() < 2**53)
    return numbers.where(whole).astype("Int64")


def concatenate_tables(paths) -> pd.DataFrame:
    """The shard or batch tables at ``paths`` as one table, rows by ``sample_id`` (stable: the
    rows of one sample keep their order), for the cohort-level merges of per-shard outputs."""
    merged = pd.concat([read_tsv(path) for path in paths], ignore_index=True)
    return merged.sort_values("sample_id", kind="stable")


def write_bytes(data: bytes, path: str | os.PathLike) -> None:
    """Write atomically: a failed job never leaves a half-written file behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, _umask_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(text: str, path: str | os.PathLike) -> None:
    write_bytes(text.encode("utf-8"), path)


def write_json(data: dict, path: str | os.PathLike) -> None:
    """Sorted keys, fixed indent, no NaN: the same metadata gives the same bytes."""
    write_text(json.dumps(data, sort_keys=True, indent=2, allow_nan=False) + "\n", path)


def write_tsv(df: pd.DataFrame, path: str | os.PathLike) -> None:
    write_text(df.to_csv(sep="\t", index=False, na_rep="", float_format=FLOAT_FORMAT,
                         lineterminator="\n"), path)
