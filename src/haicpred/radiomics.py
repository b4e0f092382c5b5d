"""Radiomic features in pyradiomics naming, one row per patient.

A patient may have several lesions; the index lesion (largest `original_shape_MeshVolume`,
ties broken by lesion_id) represents the patient, as in most HCC radiomics studies, and the
lesion count is kept as a feature. `diagnostics_*` columns are pyradiomics metadata and are
never features.
"""

from __future__ import annotations

import pandas as pd

from .errors import raise_if_any
from .validation import duplicate_problems, read_and_validate

PREFIX = "rad_"
VOLUME = "original_shape_MeshVolume"


def check_radiomics(path) -> tuple[pd.DataFrame | None, list]:
    """The table (None if unreadable) and every problem in it."""
    df, problems = read_and_validate(path, "radiomics", ["sample_id"])
    if df is not None:
        if "lesion_id" not in df.columns:
            df.insert(1, "lesion_id", "L1")
        problems += duplicate_problems(df, ["sample_id", "lesion_id"], str(path),
                                       "give each lesion of a patient its own lesion_id")
    return df, problems


def read_radiomics(path) -> pd.DataFrame:
    df, problems = check_radiomics(path)
    raise_if_any(problems)
    return df


def feature_columns(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns
            if c not in ("sample_id", "lesion_id") and not c.startswith("diagnostics_")]


def radiomic_features(table: pd.DataFrame) -> pd.DataFrame:
    """Index-lesion features per sample, prefixed `rad_`, plus `rad_n_lesions`."""
    features = feature_columns(table)
    lesions = table[["sample_id", "lesion_id", *features]].copy()
    lesions[features] = lesions[features].astype(float)
    order = ["sample_id", VOLUME, "lesion_id"] if VOLUME in features else ["sample_id",
                                                                           "lesion_id"]
    ascending = [True, False, True] if VOLUME in features else [True, True]
    lesions = lesions.sort_values(order, ascending=ascending, na_position="last", kind="stable")
    index_lesion = lesions.drop_duplicates("sample_id", keep="first").set_index("sample_id")
    out = index_lesion[features].add_prefix(PREFIX)
    out.insert(0, f"{PREFIX}n_lesions", lesions.groupby("sample_id").size())
    return out.sort_index().reset_index()


def radiomics_dictionary(features: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for column in features.columns:
        if column == "sample_id":
            continue
        if column == f"{PREFIX}n_lesions":
            rows.append((column, "radiomics", "count", "number of segmented lesions"))
            continue
        name = column[len(PREFIX):]
        image, family, feature = name.split("_", 2)
        rows.append((column, "radiomics", "", f"pyradiomics {family} feature {feature} on the "
                     f"{image} image, index (largest) lesion"))
    return pd.DataFrame(rows, columns=["feature", "modality", "unit", "description"])
