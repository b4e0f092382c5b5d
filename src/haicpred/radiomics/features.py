"""Radiomic features in pyradiomics naming, one row per patient.

Two layouts are read, recognised from the file itself (never from its extension): the
delimiter is a tab when the header line holds one, else a comma; a header with both `Image` and
`Mask` columns is pyradiomics batch output, anything else is a lesion table.

- pyradiomics batch output (`pyradiomics batch.csv --format csv`): one row per image/mask pair,
  the columns of the batch input (`Image`, `Mask`, optional `Label`, any others), the
  `diagnostics_*` columns, then the features. The patient is the column
  `radiomics_settings.id_column` (default `sample_id`; pyradiomics passes any column of the batch
  input through, e.g. `ID`). The lesion is `radiomics_settings.lesion_column` if set, else a
  `lesion_id` column, else the `Mask` path together with `Label` (a mask file per lesion all
  labelled 1 is as common as one multi-label mask per patient; only the pair tells both apart).
- a lesion table (`radiomics.schema.yaml`): `sample_id`, optional `lesion_id`, features.

Feature columns are the ones named `<image type>_<feature class>_<feature>` as pyradiomics
names them; `diagnostics_*` and, in batch output, every other column are metadata, never
features. `nan` (what pyradiomics writes for an undefined feature) is missing.

Several lesions of a patient are combined by `radiomics_settings.aggregation`:
- `largest` (default): the index lesion with the largest `original_shape_MeshVolume` (else
  `original_shape_VoxelVolume`), ties broken by the smallest lesion id, as in most HCC
  radiomics studies;
- `volume_weighted_mean`: each feature's mean over the lesions that have it, weighted by volume;
- `mean`: the unweighted mean (needs no volume).
A patient with a single lesion needs no volume. `rad_n_lesions` is a feature unless
`radiomics_settings.lesion_count` is false: the number of the patient's lesions with features,
i.e. distinct lesions as the file identifies them (`lesion_id`; in batch output the lesion
column, else the Mask + Label pair; duplicates are refused, so this is the patient's rows).
pyradiomics extracts one label of one mask per row, so several tumours segmented under one
label of one mask are one region to it and count once, and labels not extracted are not
counted: the count is of segmented lesions with features, not of tumours seen on imaging.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from haicpred.io.errors import Problem, raise_if_any
from haicpred.io.validation import load_schema, row_numbers, validate_table

PREFIX = "rad_"
LESION_COUNT = f"{PREFIX}n_lesions"
VOLUME_COLUMNS = ("original_shape_MeshVolume", "original_shape_VoxelVolume")  # preferred first
BATCH_COLUMNS = ("Image", "Mask")  # pyradiomics requires both in its batch input and echoes them

# pyradiomics' filtered image names (radiomics/imageoperations.py: get*Image) and feature
# classes (the modules radiomics/<class>.py). Wavelet levels after the first are `waveletN-`;
# LoG sigmas are written with '.' as '-' (sigma 3.0 -> log-sigma-3-0-mm-3D).
IMAGE_TYPE_PATTERN = (r"original|wavelet[0-9]*-[HL]{2,3}|log-sigma-[0-9]+(?:-[0-9]+)?-mm-3D"
                      r"|square|squareroot|logarithm|exponential|gradient|lbp-2D"
                      r"|lbp-3D-(?:m[0-9]+|k)")
FEATURE_CLASSES = ("shape", "shape2D", "firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm")
# the same text is the feature pattern of radiomics.schema.yaml (tested)
FEATURE_NAME_PATTERN = (f"^({IMAGE_TYPE_PATTERN})_({'|'.join(FEATURE_CLASSES)})"
                        r"_([A-Za-z0-9]+)$")
_FEATURE_NAME = re.compile(FEATURE_NAME_PATTERN)
# a name shaped like a feature whose image type pyradiomics does not make (a typo, a renamed
# column): refused rather than quietly treated as metadata
_FEATURE_LIKE = re.compile(rf"^[^_]+_({'|'.join(FEATURE_CLASSES)})_[A-Za-z0-9]+$")

# what radiomics_settings.image_types may name besides an exact image type: a whole family
IMAGE_TYPE_FAMILIES = ("original", "wavelet", "log-sigma", "square", "squareroot", "logarithm",
                       "exponential", "gradient", "lbp-2D", "lbp-3D")
AGGREGATIONS = ("largest", "volume_weighted_mean", "mean")
DEFAULT_SETTINGS = {"id_column": "sample_id", "lesion_column": "", "image_types": "all",
                    "feature_classes": "all", "aggregation": "largest", "lesion_count": True}


@dataclass(frozen=True)
class FeatureName:
    """A pyradiomics feature name split into its parts."""

    image_type: str  # wavelet-LLH, log-sigma-3-0-mm-3D, lbp-3D-m1, original, ...
    feature_class: str  # shape, firstorder, glcm, ...
    feature: str  # Contrast, MeshVolume, ...

    @property
    def image_family(self) -> str:
        """The image type without its parameters: wavelet, log-sigma, lbp-3D or the type."""
        for family in ("wavelet", "log-sigma", "lbp-3D"):
            if self.image_type.startswith(family):
                return family
        return self.image_type


def parse_feature_name(name: str) -> FeatureName | None:
    """`wavelet-LLH_glcm_Contrast` -> (wavelet-LLH, glcm, Contrast); None for other names."""
    match = _FEATURE_NAME.match(name)
    return FeatureName(*match.groups()) if match else None


def resolve_settings(settings: dict | None) -> dict:
    """The config's radiomics_settings with every missing key at its default."""
    return {**DEFAULT_SETTINGS, **(settings or {})}


def feature_columns(table: pd.DataFrame) -> list[str]:
    """The pyradiomics-named feature columns, in file order."""
    return [c for c in table.columns if parse_feature_name(c)]


def selected_features(columns: list[str], settings: dict | None = None) -> list[str]:
    """The feature columns that the settings' image_types and feature_classes choose."""
    settings = resolve_settings(settings)
    chosen = []
    for column in columns:
        name = parse_feature_name(column)
        if name is None:
            continue
        if _chosen(settings["image_types"], (name.image_type, name.image_family)) and \
                _chosen(settings["feature_classes"], (name.feature_class,)):
            chosen.append(column)
    return chosen


def _chosen(setting, names: tuple[str, ...]) -> bool:
    return setting == "all" or any(n in setting for n in names)


# ---------------------------------------------------------------------------------- reading


def check_radiomics(path, settings: dict | None = None) -> tuple[pd.DataFrame | None, list]:
    """The lesion table (None if unusable) and every problem in the file and in how the
    settings apply to it.

    The table has `sample_id`, `lesion_id` and the feature columns as text, in file order; its
    index is the file's data row number (1 = first row after the header).
    """
    settings = resolve_settings(settings)
    file = str(path)
    raw, problems = _read_delimited(path)
    if raw is None:
        return None, problems
    features = feature_columns(raw)
    raw[features] = raw[features].mask(raw[features].apply(_is_nan_text))
    if all(c in raw.columns for c in BATCH_COLUMNS):
        table, found = _batch_output_lesions(raw, file, settings, features)
    else:
        table, found = _lesion_table(raw, file)
    problems += found + _selection_problems(features, file, settings)
    if table is not None:
        problems += _aggregation_problems(table, file, settings)
    return table, problems


def read_radiomics(path, settings: dict | None = None) -> pd.DataFrame:
    table, problems = check_radiomics(path, settings)
    raise_if_any(problems)
    return table


def _read_delimited(path) -> tuple[pd.DataFrame | None, list[Problem]]:
    """All cells as text (empty = missing), tab- or comma-separated as the header line says."""
    file = str(path)
    if not Path(path).is_file():
        return None, [Problem(file, "file", "does not exist",
                              "check radiomics in config/config.yaml")]
    try:
        with open(path, encoding="utf-8-sig") as handle:  # -sig: spreadsheet exports add a BOM
            header = handle.readline()
        delimiter = "\t" if "\t" in header else ","
        raw = pd.read_csv(path, sep=delimiter, dtype=str, keep_default_na=False,
                          na_values=[""], encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        return None, [Problem(file, "file", f"is not a readable table ({exc})",
                              "give pyradiomics' CSV output or a tab-separated UTF-8 table")]
    raw.index = pd.RangeIndex(1, len(raw) + 1)
    return raw, []


def _is_nan_text(values: pd.Series) -> pd.Series:
    return values.str.lower().eq("nan").fillna(False).astype(bool)


def _lesion_table(raw: pd.DataFrame, file: str) -> tuple[pd.DataFrame | None, list[Problem]]:
    """A sample_id-keyed table, validated against radiomics.schema.yaml."""
    if "sample_id" not in raw.columns:
        return None, [Problem(file, "header", "missing column sample_id", "a radiomics table "
                              "needs sample_id (or give pyradiomics' batch output, which has "
                              "Image and Mask columns)")]
    problems = validate_table(raw, "radiomics", file)
    table = raw.copy()
    if "lesion_id" in table.columns:
        problems += _required_problems(table, "lesion_id", file)
    else:
        table.insert(1, "lesion_id", "L1")
    problems += _duplicate_lesion_problems(table, file, "give each lesion of a patient its own "
                                           "lesion_id")
    return _lesion_columns(table), problems


def _batch_output_lesions(raw: pd.DataFrame, file: str, settings: dict,
                          features: list[str]) -> tuple[pd.DataFrame | None, list[Problem]]:
    """pyradiomics batch output mapped to patients and lesions by the settings."""
    problems = []
    id_column = settings["id_column"]
    if id_column not in raw.columns:
        metadata = [c for c in raw.columns if c not in features and
                    not c.startswith("diagnostics_")]
        problems.append(Problem(
            file, "header", f"no column {id_column} names the patient of each row",
            "set radiomics_settings.id_column to the column of the pyradiomics batch input "
            f"that holds the sample_id (this file has: {', '.join(metadata)}), or add a "
            "sample_id column to the batch input and re-run pyradiomics"))
    elif id_column != "sample_id" and "sample_id" in raw.columns:
        problems.append(Problem(file, "header", f"has both sample_id and {id_column} "
                                f"(radiomics_settings.id_column)", "set id_column to the "
                                "one that holds the sample sheet's IDs and drop the other"))
    else:
        problems += _required_problems(raw, id_column, file)
        problems += _id_pattern_problems(raw[id_column], id_column, file)

    lesion_column = settings["lesion_column"] or ("lesion_id" if "lesion_id" in raw.columns
                                                  else "")
    if lesion_column and lesion_column not in raw.columns:
        problems.append(Problem(file, "header", f"no column {lesion_column} "
                                "(radiomics_settings.lesion_column)",
                                "name a column of the file, or leave lesion_column empty to "
                                "tell lesions apart by Mask and Label"))
    elif lesion_column:
        problems += _required_problems(raw, lesion_column, file)

    for column in raw.columns:
        if column not in features and _FEATURE_LIKE.match(column):
            problems.append(Problem(file, f"column {column}", "looks like a pyradiomics "
                                    "feature but its image type is not one pyradiomics makes",
                                    "rename it as pyradiomics named it, or remove it"))
    # features only: the batch input's own columns are metadata whatever they hold
    problems += validate_table(raw[features], "radiomics", file)
    if any(p.where == "header" for p in problems):
        return None, problems

    table = pd.DataFrame({"sample_id": raw[id_column]}, index=raw.index)
    if lesion_column:
        table["lesion_id"] = raw[lesion_column]
        hint = f"give each lesion of a patient its own {lesion_column}"
    else:
        table["lesion_id"] = raw["Mask"].fillna("") + (
            (" label " + raw["Label"].fillna("1")) if "Label" in raw.columns else "")
        hint = ("these rows describe the same lesion (same Mask and Label): keep one, or add a "
                "lesion_id column to the batch input (and re-run pyradiomics) or set "
                "radiomics_settings.lesion_column to tell them apart")
    # one concat, not a column at a time: 2,000 feature columns inserted one by one fragment
    # the frame (pandas PerformanceWarning)
    table = pd.concat([table, raw[features]], axis=1)
    problems += _duplicate_lesion_problems(table, file, hint, id_column)
    return table, problems


def _lesion_columns(table: pd.DataFrame) -> pd.DataFrame:
    return table[["sample_id", "lesion_id", *feature_columns(table)]]


def _required_problems(raw: pd.DataFrame, column: str, file: str) -> list[Problem]:
    empty = raw[column].isna()
    if not empty.any():
        return []
    return [Problem(file, f"{row_numbers(empty)}, column {column}", "is empty",
                    "fill it in: no row may be left without a patient or lesion")]


def _id_pattern_problems(values: pd.Series, column: str, file: str) -> list[Problem]:
    pattern = re.compile(load_schema("radiomics")["properties"]["sample_id"]["pattern"])
    problems = []
    for value in sorted(values.dropna().unique()):
        if not pattern.search(value):
            problems.append(Problem(file, f"{row_numbers(values == value)}, column {column}",
                                    f"'{value}' is not a valid sample_id",
                                    f"use the sample sheet's IDs ({pattern.pattern})"))
    return problems


def _duplicate_lesion_problems(table: pd.DataFrame, file: str, hint: str,
                               id_column: str = "sample_id") -> list[Problem]:
    present = table[["sample_id", "lesion_id"]].notna().all(axis=1)
    repeated = table.duplicated(["sample_id", "lesion_id"], keep=False) & present
    problems = []
    for (sample, lesion), group in table[repeated].groupby(["sample_id", "lesion_id"]):
        problems.append(Problem(file, row_numbers(table.index.isin(group.index)),
                                f"{id_column} {sample}, lesion {lesion} occurs more than once",
                                hint))
    return problems


def _selection_problems(features: list[str], file: str, settings: dict) -> list[Problem]:
    """A configured image type or class that no column has, and an empty selection."""
    names = [parse_feature_name(c) for c in features]
    present = {
        "image_types": {n.image_type for n in names} | {n.image_family for n in names},
        "feature_classes": {n.feature_class for n in names},
    }
    problems = []
    for key, found in present.items():
        if settings[key] == "all":
            continue
        for wanted in settings[key]:
            if wanted not in found:
                listed = sorted({getattr(n, "image_type" if key == "image_types"
                                         else "feature_class") for n in names})
                problems.append(Problem(file, f"radiomics_settings.{key}",
                                        f"names {wanted}, but no feature column has it",
                                        f"the file has {', '.join(listed) or 'no features'}; "
                                        f"change {key} or extract those features"))
    if not problems and not selected_features(features, settings) and \
            not settings["lesion_count"]:
        problems.append(Problem(file, "radiomics_settings", "chooses no feature at all",
                                "widen image_types/feature_classes or set lesion_count: true"))
    return problems


def volume_column(columns) -> str | None:
    """The lesion volume the aggregation rules use: MeshVolume, else VoxelVolume."""
    return next((c for c in VOLUME_COLUMNS if c in columns), None)


def _aggregation_problems(table: pd.DataFrame, file: str, settings: dict) -> list[Problem]:
    """What keeps the aggregation rule from being applied to a patient with several lesions:
    no volume column at all, or a lesion without a usable volume."""
    rule = settings["aggregation"]
    if rule == "mean":
        return []
    several = table["sample_id"].map(table["sample_id"].value_counts()) > 1
    if not several.any():
        return []  # one lesion per patient: nothing to choose or weigh
    volume = volume_column(table.columns)
    if volume is None:
        return [Problem(file, "header", f"aggregation {rule} needs the lesion volume, but "
                        "there is no original_shape_MeshVolume or original_shape_VoxelVolume "
                        "column", "enable the shape class (MeshVolume) in the pyradiomics "
                        "extraction, or set radiomics_settings.aggregation: mean")]
    values = pd.to_numeric(table[volume], errors="coerce")  # bad text is reported already
    problems = []
    for row in table.index[several & table[volume].isna()]:
        problems.append(Problem(
            file, f"row {row}, column {volume}",
            f"lesion {table.at[row, 'lesion_id']} of {table.at[row, 'sample_id']} has no "
            f"volume, so aggregation {rule} cannot weigh it against the patient's other lesions",
            "re-run pyradiomics on it (a row without features is a failed extraction), remove "
            "the row, or set radiomics_settings.aggregation: mean"))
    for row in table.index[several & (values <= 0)]:
        problems.append(Problem(file, f"row {row}, column {volume}",
                                f"volume {table.at[row, volume]} is not positive",
                                "check the lesion's mask"))
    return problems


# ------------------------------------------------------------------------------ aggregation


def radiomic_features(lesions: pd.DataFrame, settings: dict | None = None) -> pd.DataFrame:
    """One row per sample: `rad_n_lesions` (unless lesion_count is false), then the selected
    features aggregated over the patient's lesions, prefixed `rad_`, in file column order.

    `lesions` is what `read_radiomics` returns (checked, so every rule applies).
    """
    settings = resolve_settings(settings)
    features = selected_features(feature_columns(lesions), settings)
    lesions = lesions.sort_values(["sample_id", "lesion_id"], kind="stable")  # fixed sum order
    # one float block (the text table read from the file has a block per column)
    values = pd.DataFrame(lesions[features].to_numpy(dtype=float), index=lesions.index,
                          columns=features)
    samples = lesions["sample_id"]
    rule = settings["aggregation"]
    if rule == "largest":
        out = _largest(lesions, values)
    elif rule in ("volume_weighted_mean", "mean"):
        n_lesions = samples.map(samples.value_counts())
        volume = volume_column(lesions.columns)
        weights = pd.Series(1.0, index=lesions.index)
        if rule == "volume_weighted_mean" and volume is not None:
            # a single lesion needs no weight (its volume may be missing)
            weights = lesions[volume].astype(float).where(n_lesions > 1, 1.0)
        present = values.notna()
        numerator = values.fillna(0.0).mul(weights, axis=0).groupby(samples).sum()
        denominator = present.mul(weights, axis=0).groupby(samples).sum()
        out = numerator / denominator.replace(0.0, np.nan)  # no lesion has it: missing
    else:
        raise ValueError(f"unknown radiomics aggregation {rule!r}; one of {AGGREGATIONS}")
    out = out.add_prefix(PREFIX)
    if settings["lesion_count"]:
        # distinct lesions (lesion_id; batch output: Mask + Label), each a row of the file
        count = lesions.groupby("sample_id")["lesion_id"].nunique().rename(LESION_COUNT)
        out = pd.concat([count, out], axis=1)
    out.index.name = "sample_id"
    return out.sort_index().reset_index()


def _largest(lesions: pd.DataFrame, values: pd.DataFrame) -> pd.DataFrame:
    """The index lesion's features: largest volume, ties to the smallest lesion_id."""
    volume = volume_column(lesions.columns)
    order = lesions[["sample_id", "lesion_id"]].copy()
    order["volume"] = lesions[volume].astype(float) if volume else np.nan
    order = order.sort_values(["sample_id", "volume", "lesion_id"],
                              ascending=[True, False, True], na_position="last", kind="stable")
    index_rows = order.drop_duplicates("sample_id", keep="first").index
    out = values.loc[index_rows]
    out.index = lesions.loc[index_rows, "sample_id"]
    return out


# ------------------------------------------------------------------------------- dictionary


LESION_COUNT_DESCRIPTION = (
    "number of the patient's segmented lesions with radiomic features: rows of the radiomics "
    "file (one per lesion_id, or per Mask + Label of pyradiomics batch output); tumours "
    "segmented under one label of one mask count as one")
AGGREGATION_DESCRIPTIONS = {
    "largest": "of the index (largest) lesion",
    "volume_weighted_mean": "volume-weighted mean over the patient's lesions",
    "mean": "mean over the patient's lesions",
}


def radiomics_dictionary(features: pd.DataFrame, aggregation: str | None = None) -> pd.DataFrame:
    """Dictionary rows naming each feature's pyradiomics image type, class and feature."""
    how = AGGREGATION_DESCRIPTIONS.get(
        aggregation, "combined over the patient's lesions by radiomics_settings.aggregation")
    rows = []
    for column in features.columns:
        if column == "sample_id":
            continue
        if column == LESION_COUNT:
            rows.append((column, "radiomics", "count", LESION_COUNT_DESCRIPTION))
            continue
        name = parse_feature_name(column[len(PREFIX):])
        rows.append((column, "radiomics", "", f"pyradiomics image type {name.image_type}, "
                     f"class {name.feature_class}, feature {name.feature}; {how}"))
    return pd.DataFrame(rows, columns=["feature", "modality", "unit", "description"])
