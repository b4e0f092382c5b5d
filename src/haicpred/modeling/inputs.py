"""The model stage's inputs: the feature matrix, labels and feature dictionary checked and
converted once, for the cross-validation (:mod:`haicpred.modeling.cross_validation`) and the
final model (:mod:`haicpred.modeling.final_model`) alike.

:func:`check_inputs` collects every problem of the three tables (and the simulation's truth)
and raises them together (``InputError``); post-treatment and outcome columns are refused as
predictors (:class:`PostTreatmentFeatureError`) unless the on-treatment variant allows the
former. The labels column is converted by the endpoint (:mod:`haicpred.modeling.endpoint`).
:func:`prepare_data` turns the checked inputs into :class:`PreparedData`: the labelled rows
with their labels, sample ids and batches, the features and their modalities.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from haicpred.io.errors import Problem, raise_if_any
from haicpred.radiomics.preprocessing import BATCH_COLUMN, RADIOMICS_MODALITY

__all__ = [
    "ID_COLUMNS",
    "LABEL_COLUMN",
    "OUTCOME_COLUMNS",
    "TRUTH_PROBABILITY",
    "PostTreatmentFeatureError",
    "PreparedData",
    "check_inputs",
    "feature_columns",
    "is_post_treatment",
    "prepare_data",
    "refuse_post_treatment",
    "to_float",
]

# The column of the labels table that holds the endpoint's labels (for every endpoint: the
# endpoint writes its labels there, haicpred.modeling.endpoint).
LABEL_COLUMN = "objective_response"
# the binary endpoints' oracle in the simulation's truth.tsv
TRUTH_PROBABILITY = "response_probability"
ID_COLUMNS = ("sample_id", "batch")
# Outcome columns can never be features (label leakage).
OUTCOME_COLUMNS = (
    "best_response",
    "objective_response",
    "os_months",
    "os_event",
    "pfs_months",
    "pfs_event",
)


class PostTreatmentFeatureError(ValueError):
    """A post-treatment (or outcome) column was offered as a baseline predictor."""


def to_float(series: pd.Series) -> pd.Series:
    """Numbers (or numeric text) as float64 with NaN for missing; non-numeric text -> NaN."""
    values = pd.to_numeric(series, errors="coerce")
    return pd.Series(values.to_numpy(dtype=float, na_value=np.nan), index=series.index)


def feature_columns(matrix: pd.DataFrame) -> list[str]:
    return [c for c in matrix.columns if c not in ID_COLUMNS]


def is_post_treatment(name: str, modality: dict) -> bool:
    return (name.startswith("post_")
            or str(modality.get(name, "")).strip().lower() == "post_treatment")


def refuse_post_treatment(features: list[str], dictionary: pd.DataFrame,
                           allow_post_treatment: bool = False) -> None:
    """Outcome columns are always refused; post-treatment ones unless the on-treatment variant
    was explicitly chosen (setting allow_post_treatment)."""
    modality = dict(zip(dictionary["feature"], dictionary["modality"].fillna("")))
    bad = []
    for name in features:
        if allow_post_treatment and is_post_treatment(name, modality):
            continue
        if name.startswith("post_"):
            bad.append(f"{name} (post_ prefix)")
        elif str(modality.get(name, "")).strip().lower() == "post_treatment":
            bad.append(f"{name} (dictionary modality post_treatment)")
        elif name in OUTCOME_COLUMNS:
            bad.append(f"{name} (outcome column)")
    if bad:
        raise PostTreatmentFeatureError(
            "post-treatment or outcome columns cannot be baseline predictors: " + ", ".join(bad)
            + ("" if allow_post_treatment else
               " (post-treatment columns only in the on-treatment variant, model.on_treatment)")
        )


def check_inputs(matrix, labels, dictionary, truth, allow_post_treatment=False, *,
                 label_values, label_column: str = LABEL_COLUMN,
                 truth_column: str = TRUTH_PROBABILITY):
    """Validate and convert; returns (X float frame, label Series aligned to matrix, truth).

    ``label_values``: the endpoint's conversion of the raw ``label_column`` of ``labels`` to
    numbers (NaN = unlabelled) with the problems of bad values
    (:meth:`haicpred.modeling.endpoint.ModelEndpoint.label_values`). ``truth_column``: the
    column of ``truth`` that is the oracle (a response probability, checked to be in [0, 1],
    or e.g. a true log hazard)."""
    problems: list[Problem] = []
    for name, frame, required in (
        ("feature_matrix.tsv", matrix, ["sample_id", "batch"]),
        ("labels.tsv", labels, ["sample_id", label_column]),
        ("feature_dictionary.tsv", dictionary, ["feature", "modality"]),
    ):
        missing = [c for c in required if c not in frame.columns]
        if missing:
            problems.append(
                Problem(name, "header", f"missing column(s): {', '.join(missing)}")
            )
    if truth is not None and not {"sample_id", truth_column} <= set(truth.columns):
        problems.append(
            Problem("truth.tsv", "header", f"needs columns sample_id, {truth_column}",
                    "" if truth_column == TRUTH_PROBABILITY else
                    "simulate the demo cohort again: truth.tsv from before the survival "
                    "endpoint has no true log hazards")
        )
    raise_if_any(problems)

    features = feature_columns(matrix)
    if not features:
        problems.append(Problem("feature_matrix.tsv", "header", "no feature columns"))
    refuse_post_treatment(features, dictionary, allow_post_treatment)

    for name, frame in (("feature_matrix.tsv", matrix), ("labels.tsv", labels)):
        ids = frame["sample_id"]
        for row in np.flatnonzero(ids.isna().to_numpy()):
            problems.append(Problem(name, f"row {row + 1}", "empty sample_id"))
        dup = ids[ids.duplicated(keep=False) & ids.notna()]
        for sample in sorted(set(dup)):
            problems.append(Problem(name, f"sample {sample}", "sample_id appears more than once"))
    dup_features = dictionary["feature"][dictionary["feature"].duplicated()]
    for feature in sorted(set(dup_features.dropna())):
        problems.append(
            Problem("feature_dictionary.tsv", f"feature {feature}", "listed more than once")
        )
    known = set(dictionary["feature"].dropna())
    for feature in features:
        if feature not in known:
            problems.append(
                Problem(
                    "feature_dictionary.tsv",
                    f"feature {feature}",
                    "matrix column not described in the feature dictionary",
                    "every feature needs a dictionary row (its modality is how post-treatment "
                    "columns are kept out)",
                )
            )
        if any(ch in feature for ch in "[]<"):
            problems.append(
                Problem(
                    "feature_matrix.tsv",
                    f"column {feature}",
                    "XGBoost does not accept '[', ']' or '<' in feature names",
                )
            )

    converted = {}
    for feature in features:
        raw = matrix[feature]
        values = to_float(raw)
        bad = values.isna() & raw.notna()
        if bad.any():
            rows = np.flatnonzero(bad.to_numpy())[:5] + 1
            problems.append(
                Problem(
                    "feature_matrix.tsv",
                    f"column {feature}",
                    f"non-numeric value(s) in data row(s) {', '.join(map(str, rows))}",
                    "features must be numeric; leave missing values empty",
                )
            )
        if np.isinf(values.to_numpy()).any():
            problems.append(
                Problem("feature_matrix.tsv", f"column {feature}", "infinite value(s)")
            )
        converted[feature] = values.to_numpy()
    X = pd.DataFrame(converted, index=matrix.index, columns=features)

    label, label_problems = label_values(labels[label_column])
    problems += label_problems
    matrix_ids = set(matrix["sample_id"].dropna())
    label_ids = set(labels["sample_id"].dropna())
    for sample in sorted(matrix_ids - label_ids):
        problems.append(
            Problem("labels.tsv", f"sample {sample}", "in the feature matrix but not in labels",
                    f"unlabelled samples need a row with an empty {label_column}")
        )
    for sample in sorted(label_ids - matrix_ids):
        problems.append(
            Problem("feature_matrix.tsv", f"sample {sample}", "in labels but not in the matrix")
        )
    raise_if_any(problems)

    label_map = dict(zip(labels["sample_id"], label))
    y = matrix["sample_id"].map(label_map).astype(float)

    truth_p = None
    if truth is not None:
        tp = to_float(truth[truth_column])
        tmap = dict(zip(truth["sample_id"], tp))
        truth_p = matrix["sample_id"].map(tmap).astype(float)
        missing = matrix["sample_id"][truth_p.isna() & y.notna()]
        for sample in sorted(missing):
            problems.append(
                Problem("truth.tsv", f"sample {sample}", f"no {truth_column} for a "
                        "labelled sample")
            )
        is_probability = truth_column == TRUTH_PROBABILITY
        out_of_range = truth_p[((truth_p < 0) | (truth_p > 1)) if is_probability
                               else np.isinf(truth_p)]
        for index in out_of_range.index:
            problems.append(
                Problem("truth.tsv", f"sample {matrix['sample_id'][index]}",
                        f"{truth_column} " + ("outside [0, 1]" if is_probability
                                              else "infinite"))
            )
    raise_if_any(problems)
    return X, y, truth_p


@dataclass
class PreparedData:
    """The checked inputs of one modelling run, labelled rows first-class."""

    outcome: object  # the endpoint's labels record (haicpred.features.endpoints.Endpoint)
    X: pd.DataFrame  # every sample of the matrix, float features
    X_all: pd.DataFrame  # X plus the batch column (read by the radiomics step only)
    X_lab: pd.DataFrame  # labelled rows of X_all, index 0..n-1
    y: np.ndarray  # their labels (as the endpoint trains on them)
    ids: np.ndarray  # their sample_ids
    batch_lab: np.ndarray  # their batches
    labelled: np.ndarray  # mask over the matrix rows
    truth_p: pd.Series | None  # the oracle of truth.tsv (endpoint.truth_column), all rows
    features: list[str]
    modality: dict
    radiomic: list[str]

    @property
    def n(self) -> int:
        return len(self.y)


def prepare_data(matrix: pd.DataFrame, labels: pd.DataFrame, dictionary: pd.DataFrame,
                 endpoint, folds: int, allow_post_treatment: bool = False,
                 truth: pd.DataFrame | None = None) -> PreparedData:
    """Endpoint labels, input checks, labelled rows, and the endpoint's check that ``folds``
    stratified folds are possible. ``endpoint``: a
    :class:`haicpred.modeling.endpoint.ModelEndpoint` (not imported here: that module builds on
    this one)."""
    outcome, labels = endpoint.labels(labels)
    truth_column = endpoint.truth_column
    if truth_column is None:
        truth = None  # no column of the simulation's truth is this endpoint's oracle
    X, y_all, truth_p = check_inputs(matrix, labels, dictionary, truth, allow_post_treatment,
                                     label_values=endpoint.label_values,
                                     label_column=endpoint.label_column,
                                     truth_column=truth_column or TRUTH_PROBABILITY)
    features = list(X.columns)
    modality = dict(zip(dictionary["feature"], dictionary["modality"].fillna("")))
    labelled = y_all.notna().to_numpy()
    ids = matrix["sample_id"].to_numpy()[labelled].astype(str)
    # the batch travels with the features as a column that only the radiomics step reads
    batch_all = matrix[BATCH_COLUMN].map(lambda b: b if pd.isna(b) else str(b))
    X_all = X.assign(**{BATCH_COLUMN: batch_all.to_numpy(dtype=object)})
    X_lab = X_all.loc[labelled].reset_index(drop=True)
    y = endpoint.training_labels(y_all[labelled])
    endpoint.check_class_sizes(outcome, y, folds)
    radiomic = [f for f in features if str(modality.get(f, "")).strip().lower()
                == RADIOMICS_MODALITY]
    return PreparedData(outcome, X, X_all, X_lab, y, ids,
                        X_lab[BATCH_COLUMN].to_numpy(dtype=object), labelled, truth_p, features,
                        modality, radiomic)
