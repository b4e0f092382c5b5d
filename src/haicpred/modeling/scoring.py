"""What the frozen model says about a patient beyond its probability, at training
(:mod:`haicpred.modeling.final_model`) and when a new batch is scored
(:mod:`haicpred.modeling.predict`): training ranges, risk groups and per-sample warnings.

Risk groups (:func:`risk_group_cutoffs`, config ``predict.risk_groups``) split the predicted
probability of label 1 of the endpoint (for objective response: of CR/PR) into ``low`` (p < c1),
``intermediate`` (c1 <= p < c2) and ``high`` (p >= c2). ``tertiles`` (default) takes c1, c2 as
the 1/3 and 2/3 quantiles of the cross-validated out-of-fold xgboost probabilities of the
labelled patients (mean over repeats, ``oof_predictions.tsv``): the distribution of the model's
probabilities on patients it was not fitted on, which is what a new patient is. Without OOF
predictions the final model's own probabilities on the labelled patients are used (and recorded
as such). A pair ``[c1, c2]`` fixes the cut-offs.

Per-sample warnings (:func:`sample_warnings`): a modality with every feature missing (one that
no sample of the cohort has is said once instead: in the log and in ``model_metadata.json``'s
``modalities_missing_for_every_sample``), features absent from the matrix, values outside the
training range (named, with the bound), radiomic features left unharmonised because ComBat never
saw the batch.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

RISK_GROUPS = ("low", "intermediate", "high")


def json_number(value) -> float | None:
    """A JSON number, or None for NaN (JSON has no NaN)."""
    value = float(value)
    return value if np.isfinite(value) else None


def feature_ranges(X: pd.DataFrame) -> dict:
    """Per feature: ``min, max, p01, p99`` of the non-missing values (None when all missing),
    ``fraction_missing`` and ``n_observed``."""
    out = {}
    for name in X.columns:
        values = X[name].to_numpy(dtype=float)
        observed = values[~np.isnan(values)]
        if observed.size:
            low, high = np.percentile(observed, [1, 99])
            stats = {"min": json_number(observed.min()), "max": json_number(observed.max()),
                     "p01": json_number(low), "p99": json_number(high)}
        else:
            stats = {"min": None, "max": None, "p01": None, "p99": None}
        stats["fraction_missing"] = float(1 - observed.size / len(values)) if len(values) else 1.0
        stats["n_observed"] = int(observed.size)
        out[str(name)] = stats
    return out


def risk_group_cutoffs(rule, probabilities: np.ndarray | None, source: str,
                       scale: str = "probability") -> dict:
    """The cut-offs and how they were chosen (metadata ``risk_groups``).

    ``rule``: ``"tertiles"`` (1/3 and 2/3 quantiles of ``probabilities``, numpy's default linear
    interpolation) or two increasing probabilities ``[c1, c2]`` in (0, 1). ``scale="risk"``
    (a survival model's log relative hazard): the values are risks, fixed cut-offs any two
    increasing finite numbers.
    """
    risk = scale == "risk"
    values_are, symbol = ("risks", "risk") if risk else ("probabilities", "p")
    if isinstance(rule, str):
        if rule != "tertiles":
            raise ValueError(f"risk_groups must be 'tertiles' or two cut-offs [c1, c2], "
                             f"got {rule!r}")
        values = np.asarray(probabilities, dtype=float)
        values = values[~np.isnan(values)]
        if values.size < 3:
            raise ValueError(f"risk_groups tertiles need at least 3 {values_are}")
        cutoffs = [float(v) for v in np.quantile(values, [1 / 3, 2 / 3])]
        described = f"tertiles of {source}"
    else:
        try:
            cutoffs = [float(v) for v in rule] if not isinstance(rule, dict) else []
        except (TypeError, ValueError):  # not numbers: refused below, with the rule named
            cutoffs = []
        usable = len(cutoffs) == 2 and cutoffs[0] < cutoffs[1] and (
            np.all(np.isfinite(cutoffs)) if risk else 0 < cutoffs[0] and cutoffs[1] < 1)
        if not usable and risk:
            raise ValueError(f"risk_groups cut-offs of a survival model must be two increasing "
                             f"risks (log relative hazard), got {rule!r}")
        if not usable:
            raise ValueError(f"risk_groups cut-offs must be two increasing probabilities "
                             f"in (0, 1), got {rule!r}")
        described = "fixed cut-offs (config predict.risk_groups)" + (
            ", on the risk scale" if risk else "")
    return {
        "rule": described,
        "cutoffs": cutoffs,
        "labels": list(RISK_GROUPS),
        "assignment": (f"low: {symbol} < c1; intermediate: c1 <= {symbol} < c2; "
                       f"high: {symbol} >= c2"),
    }


def assign_risk_groups(probability: np.ndarray, risk_groups: dict) -> np.ndarray:
    """low / intermediate / high by the metadata's cut-offs."""
    low, high = risk_groups["cutoffs"]
    labels = risk_groups["labels"]
    p = np.asarray(probability, dtype=float)
    return np.where(p < low, labels[0], np.where(p < high, labels[1], labels[2])).astype(object)


def format_value(value: float) -> str:
    return f"{value:.4g}"


def modalities_missing_for_everyone(X: pd.DataFrame, modality: dict) -> list[str]:
    """The modalities (of the model's features in ``X``) without a single value in the cohort,
    in column order: said once per cohort, not as "missing modality" on every row."""
    groups: dict[str, list[str]] = {}
    for name in X.columns:
        groups.setdefault(modality.get(name, "") or "unknown", []).append(name)
    return [m for m, columns in groups.items() if len(X) and X[columns].isna().all(axis=None)]


def log_modalities_missing_for_everyone(modalities: list[str], n: int) -> None:
    """The cohort-level note of :func:`modalities_missing_for_everyone`, one log line each."""
    for name in modalities:
        log.warning("missing modality for the whole cohort: %s has no value in any of the %d "
                    "scored sample(s); every prediction is made without it (said once here, "
                    "not in each sample's warnings)", name, n)


def sample_warnings(X: pd.DataFrame, modality: dict, ranges: dict, absent: list[str] = (),
                    batches=None, harmonisation: dict | None = None,
                    cohort_warnings: list[str] = ()) -> list[str]:
    """Per row of ``X`` (the model's features, raw, absent ones as all-missing columns), the
    warnings joined by "; ": features absent from the matrix, modalities with every feature
    missing for the row (but not those missing for every row of ``X``: a cohort-level fact,
    :func:`modalities_missing_for_everyone`), values outside the training [min, max] (each
    named with its bound), radiomics left unharmonised (batch not seen by ComBat; only for rows
    with a harmonised feature present), then ``cohort_warnings`` (the same for every row)."""
    n = len(X)
    common = []
    if absent:
        common.append("features absent from the matrix, scored as missing: " + ", ".join(absent))
    common += list(cohort_warnings)

    values = X.to_numpy(dtype=float)
    missing = np.isnan(values)
    groups: dict[str, list[int]] = {}
    for index, name in enumerate(X.columns):
        groups.setdefault(modality.get(name, "") or "unknown", []).append(index)
    for name in modalities_missing_for_everyone(X, modality):
        del groups[name]
    all_missing = {m: missing[:, idx].all(axis=1) for m, idx in groups.items()}

    low = np.array([np.nan if ranges.get(f, {}).get("min") is None else ranges[f]["min"]
                    for f in X.columns], dtype=float)
    high = np.array([np.nan if ranges.get(f, {}).get("max") is None else ranges[f]["max"]
                     for f in X.columns], dtype=float)
    with np.errstate(invalid="ignore"):
        below = values < low
        above = values > high
    outside_rows = np.flatnonzero((below | above).any(axis=1))

    unharmonised = np.zeros(n, dtype=bool)
    if harmonisation and batches is not None:
        seen = set(harmonisation["batches"])
        columns = [X.columns.get_loc(c) for c in harmonisation["features"] if c in X.columns]
        has_value = (~missing[:, columns]).any(axis=1) if columns else np.zeros(n, dtype=bool)
        batch_list = list(batches)
        unharmonised = np.array([has_value[i] and (pd.isna(batch_list[i])
                                                   or str(batch_list[i]) not in seen)
                                 for i in range(n)], dtype=bool)

    names = np.asarray(X.columns)
    outside_text = {}
    for row in outside_rows:
        parts = []
        for j in np.flatnonzero(below[row] | above[row]):
            value = format_value(values[row, j])
            if below[row, j]:
                parts.append(f"{names[j]} {value} < min {format_value(low[j])}")
            else:
                parts.append(f"{names[j]} {value} > max {format_value(high[j])}")
        outside_text[row] = "outside the training range: " + ", ".join(parts)
    out = []
    for row in range(n):
        row_warnings = list(common)
        gone = [m for m in groups if all_missing[m][row]]
        if gone:
            row_warnings.append("missing modality: " + ", ".join(gone))
        if row in outside_text:
            row_warnings.append(outside_text[row])
        if unharmonised[row]:
            batch = batches[row]
            label = "no batch" if pd.isna(batch) else f"batch {batch}"
            row_warnings.append(f"radiomics not harmonised: {label} not seen by ComBat in "
                                "training")
        out.append("; ".join(row_warnings))
    return out
