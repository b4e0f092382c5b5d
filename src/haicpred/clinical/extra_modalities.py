"""Extra numeric modalities: any sample_id-keyed TSV of numeric features (immunohistochemistry,
expression, ...), named in the config as `extra_modalities: {<modality>: <path>}`.

Each column joins the feature matrix as `<modality>_<column>`, with modality `<modality>` in the
feature dictionary. One row per patient at most; a patient without a row gets missing values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from haicpred.io.errors import Problem, raise_if_any
from haicpred.io.validation import duplicate_problems, read_and_validate

BUILTIN_MODALITIES = ("clinical", "biomarker", "derived", "mutation", "genotype", "radiomics")
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*")  # modality names (config.schema.yaml)
COLUMN_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")  # extra_modality.schema.yaml
COLUMN_HINT = ("feature columns are named with letters, digits, '_', '.' and '-', starting with "
               "a letter or digit")


@dataclass(frozen=True)
class ExtraModality:
    """One configured modality: its name, the file as configured, and its validated table."""

    name: str
    path: str
    table: pd.DataFrame

    @property
    def columns(self) -> list[str]:
        return [c for c in self.table.columns if c != "sample_id"]

    def feature_name(self, column: str) -> str:
        return f"{self.name}_{column}"


def modality_name_problems(name: str) -> list[Problem]:
    """A modality name must be a lower-case identifier, not a built-in modality, and must not
    make post-treatment-looking features (`post_*` columns are refused by the pre-treatment
    model)."""
    where = f"extra_modalities: {name}"
    if not NAME_PATTERN.fullmatch(name):
        return [Problem("config", where, "is not a valid modality name",
                        "use lower-case letters, digits and '_', starting with a letter")]
    if name in BUILTIN_MODALITIES:
        return [Problem("config", where, "is a built-in modality",
                        f"choose a name other than {', '.join(BUILTIN_MODALITIES)}")]
    if name == "post" or name.startswith("post_"):
        return [Problem("config", where, "would name its features post_*, which the "
                        "pre-treatment model refuses as post-treatment measurements",
                        "choose a name not starting with post_")]
    return []


def check_extra_modality(path) -> tuple[pd.DataFrame | None, list[Problem]]:
    """The table (None if unreadable) and every problem in it."""
    file = str(path)
    df, problems = read_and_validate(path, "extra_modality", ["sample_id"])
    if df is None:
        return None, problems
    problems = [replace(p, hint=COLUMN_HINT) if p.message == "unknown column" else p
                for p in problems]
    problems += _header_problems(path, file)
    if len(df.columns) < 2:
        problems.append(Problem(file, "header", "no feature columns",
                                "add one column per numeric feature after sample_id"))
    problems += duplicate_problems(df, ["sample_id"], file, "keep one row per patient")
    return df, problems


def _header_problems(path, file: str) -> list[Problem]:
    """Repeated column names (pandas would silently rename the second `x` to `x.1`)."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        header = handle.readline().rstrip("\r\n").split("\t")
    seen, repeated = set(), []
    for name in header:
        if name in seen and name not in repeated:
            repeated.append(name)
        seen.add(name)
    return [Problem(file, f"column {name}", "occurs more than once in the header",
                    "give every column its own name") for name in repeated]


def read_extra_modality(path) -> pd.DataFrame:
    df, problems = check_extra_modality(path)
    raise_if_any(problems)
    return df


def read_extra_modalities(paths: dict[str, str]) -> list[ExtraModality]:
    """Every configured modality, in config order; every problem of every file raised at once."""
    problems: list[Problem] = []
    modalities = []
    for name, path in paths.items():
        problems += modality_name_problems(name)
        table, found = check_extra_modality(path)
        problems += found
        if table is not None:
            modalities.append(ExtraModality(name, str(path), table))
    raise_if_any(problems)
    return modalities


def collision_problems(modalities: list[ExtraModality], existing) -> list[Problem]:
    """Feature names `<modality>_<column>` that another modality's feature already uses (a
    built-in one in `existing`, or another extra modality's). `existing` is a list of names
    or a mapping of each name to what it is (e.g. an analyte of the biomarker table)."""
    owner = (dict(existing) if isinstance(existing, dict)
             else {name: "a built-in feature" for name in existing})
    problems = []
    for modality in modalities:
        for column in modality.columns:
            feature = modality.feature_name(column)
            if feature in owner:
                problems.append(Problem(
                    modality.path, f"column {column}",
                    f"feature name {feature} (modality {modality.name}) is already used by "
                    f"{owner[feature]}", "rename the column, or the modality in the config"))
            else:
                owner[feature] = f"column {column} of {modality.path}"
    return problems


def extra_features(modality: ExtraModality) -> pd.DataFrame:
    """sample_id plus `<modality>_<column>` as floats, one row per sample of the table."""
    table = modality.table[["sample_id", *modality.columns]]
    out = table.rename(columns={c: modality.feature_name(c) for c in modality.columns})
    features = list(out.columns[1:])
    out[features] = out[features].astype(float)
    return out.sort_values("sample_id").reset_index(drop=True)


def extra_dictionary(modality: ExtraModality) -> pd.DataFrame:
    source = Path(modality.path).name
    rows = [(modality.feature_name(c), modality.name, "",
             f"column {c} of {source} (extra modality {modality.name})")
            for c in modality.columns]
    return pd.DataFrame(rows, columns=["feature", "modality", "unit", "description"])
