"""Validate input tables row by row against the JSON schemas in `haicpred/io/schemas/`.

Every problem in a table is collected (not just the first), each naming the file, the row and
the column, so a user fixes a sheet in one pass.
"""

from __future__ import annotations

import functools
import math
import re
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import yaml

from haicpred.io.errors import Problem
from haicpred.io.tables import read_tsv

SCHEMA_DIR = Path(__file__).parent / "schemas"


@functools.cache
def load_schema(name: str) -> dict:
    with open(SCHEMA_DIR / f"{name}.schema.yaml") as handle:
        return yaml.safe_load(handle)


def _coerce(value: str, kind: str | None):
    """Turn a TSV cell into the JSON type the schema expects; leave it as text if it is not
    one, so the schema reports it."""
    if kind in ("number", "integer"):
        try:
            number = float(value)
        except ValueError:
            return value
        if math.isnan(number) or math.isinf(number):
            return value
        if kind == "integer":
            return int(number) if number.is_integer() else number
        return number
    return value


def validate_table(df: pd.DataFrame, schema_name: str, file: str) -> list[Problem]:
    """Problems of every row of `df` (as read by `read_tsv`) against a schema.

    Each column is checked against its own sub-schema, once per distinct value (so a
    340,000-row biomarker table validates in well under a second), and every bad value is
    reported with the rows it occurs in. Rows are numbered as in a spreadsheet's data: row 1
    is the first line after the header.
    """
    schema = load_schema(schema_name)
    problems: list[Problem] = []
    for column in df.columns:
        if _column_schema(schema, column) is None and _is_closed(schema):
            allowed = ", ".join(schema.get("properties", {}))
            problems.append(Problem(file, f"column {column}", "unknown column",
                                    f"expected columns: {allowed}"))
    for column, mask, message in _failures(df, schema):
        if message == "required value is empty":
            problems.append(Problem(file, f"{row_numbers(mask)}, column {column}", message,
                                    "fill it in"))
        else:
            problems.append(Problem(file, f"{row_numbers(mask)}, column {column}", message,
                                    "fix the value, or leave the cell empty if unknown"
                                    if column not in schema.get("required", [])
                                    else "fix the value"))
    return problems


def rows_passing_schema(df: pd.DataFrame, schema_name: str) -> pd.DataFrame:
    """`df` with every cell of the rows that break the schema emptied: the content checks
    (units, duplicates, ranges) then run on the other rows, whose row numbers stay as in the
    file, so one report lists schema and content problems together."""
    failing = np.zeros(len(df), dtype=bool)
    for _, mask, _ in _failures(df, load_schema(schema_name)):
        failing |= np.asarray(mask)
    checked = df.copy()
    checked.loc[failing, :] = np.nan
    return checked


def _failures(df: pd.DataFrame, schema: dict):
    """(column, mask of its rows, message) for every bad value and every empty required cell."""
    for column in df.columns:
        sub = _column_schema(schema, column)
        if sub is None:
            continue
        validator = jsonschema.Draft202012Validator(sub)
        kind = sub.get("type")
        values = df[column]
        if _plain_number(sub) and _all_finite_numbers(values):
            continue  # the common case of wide numeric tables, checked in one pass
        for value in values.dropna().unique():
            errors = list(validator.iter_errors(_coerce(value, kind)))
            if errors:
                yield column, (values == value).to_numpy(), errors[0].message
    for column in schema.get("required", []):
        if column in df.columns and df[column].isna().any():
            yield column, df[column].isna().to_numpy(), "required value is empty"


_ANNOTATIONS = {"description", "title", "$comment"}


def _plain_number(sub: dict) -> bool:
    """A column schema that only says `type: number`."""
    return sub.get("type") == "number" and set(sub) <= {"type", *_ANNOTATIONS}


def _all_finite_numbers(values: pd.Series) -> bool:
    """Whether every non-empty cell converts as `_coerce` does to a finite number (then a
    plain-number schema cannot fail; otherwise each value is checked to name the bad ones)."""
    try:
        numbers = np.array([float(v) for v in values.dropna()], dtype=float)
    except (TypeError, ValueError):
        return False
    return bool(np.isfinite(numbers).all())


def row_numbers(mask, shown: int = 10) -> str:
    """'row 3' / 'rows 1, 4 and 12 more' for a boolean mask over a table's rows."""
    rows = [str(i + 1) for i in np.asarray(mask).nonzero()[0]]
    label = "row" if len(rows) == 1 else "rows"
    if len(rows) > shown:
        return f"{label} {', '.join(rows[:shown])} and {len(rows) - shown} more"
    return f"{label} {', '.join(rows)}"


def _column_schema(schema: dict, column: str) -> dict | None:
    prop = schema.get("properties", {}).get(column)
    if prop is None:
        for pattern, sub in schema.get("patternProperties", {}).items():
            if re.search(pattern, column):
                prop = sub
                break
    if prop is not None and "$ref" in prop:
        prop = schema["$defs"][prop["$ref"].rsplit("/", 1)[-1]]
    return prop


def _is_closed(schema: dict) -> bool:
    return schema.get("additionalProperties", True) is False


def read_and_validate(path: str | Path, schema_name: str,
                      required_columns: list[str]) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Read a TSV and validate it; (None, problems) when it cannot be read at all."""
    file = str(path)
    if not Path(path).is_file():
        what = "is a directory, not a file" if Path(path).is_dir() else "does not exist"
        return None, [Problem(file, "file", what, "check the path in config/config.yaml")]
    try:
        df = read_tsv(path)
    except pd.errors.EmptyDataError:
        return None, [Problem(file, "file", "is empty (no header line)",
                              "write a header line naming the columns, then one row per record")]
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        return None, [Problem(file, "file", f"is not a readable TSV ({exc})",
                              "save it as tab-separated UTF-8 text")]
    missing = [c for c in required_columns if c not in df.columns]
    if missing:
        return None, [Problem(file, "header", f"missing column(s): {', '.join(missing)}",
                              f"the header must contain {', '.join(required_columns)}")]
    return df, validate_table(df, schema_name, file)


def duplicate_problems(df: pd.DataFrame, keys: list[str], file: str, hint: str) -> list[Problem]:
    """One problem per key combination that occurs on more than one row."""
    present = df[keys].notna().all(axis=1)
    duplicated = df.duplicated(keys, keep=False) & present
    problems = []
    for key, group in df[duplicated].groupby(keys, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        label = ", ".join(f"{k} {v}" for k, v in zip(keys, key))
        problems.append(Problem(file, row_numbers(df.index.isin(group.index)),
                                f"{label} occurs more than once", hint))
    return problems
