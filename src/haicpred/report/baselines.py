"""The report's text about baselines and ablations (haicpred.report.performance's metrics, ROC
and ablation sections): how each baseline was judged, which of its factors were available, which
scores were skipped and why, and the published scores' ROC curves from their own values.

HTML fragments only; the numbers come from ``metrics.tsv`` and ``cv_metadata.json``
(``baseline_factors``, written by :mod:`haicpred.modeling.score_baselines`).
"""

from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd

from haicpred.report.html import integer

__all__ = ["describe_baseline", "baseline_notes", "score_roc_predictions", "full_model_tuning",
           "SCORE_METHODS", "ablation_note"]

SCORE_METHODS = (
    "published scores used as they are: {scores}, each judged on its own values in its "
    "published direction (AUC, its CI, AUPRC; ties kept) on the labelled patients who have it, "
    "without imputation (<code>n</code> and <code>coverage</code> in the metrics table), "
    "compared with XGBoost's out-of-fold probabilities of the same patients; for the "
    "probability metrics (Brier, calibration, sensitivity, specificity) the score is turned "
    "into a probability by a logistic recalibration (intercept and non-negative slope) fitted "
    "in each training fold, each metric computed per repeat and averaged over repeats (the "
    "probabilities themselves are never averaged, which would break the score's ties); a score "
    "is skipped when fewer than 20 labelled patients have it or fewer than 10 of a class "
    "(AUC CIs of &plusmn;0.25 and an unreliable DeLong test below that), or when it takes one "
    "value only"
)


def ablation_note(tuned: bool) -> str:
    """How the ablation models got their hyper-parameters, and which rows are absent."""
    how = (" Every ablation model has its own hyper-parameters, chosen inside each outer "
           "training fold on its own feature set from the first "
           "<code>tuning.ablation_candidates</code> candidates of the full model's search "
           "(default 1: the fixed parameters, with the number of trees early-stopped on its own "
           "inner folds; a model on a few clinical columns needs other settings than one on "
           "thousands of radiomic features; each choice is in <code>tuning.tsv</code>)."
           if tuned else
           " Every ablation model uses the same fixed parameters as the full model (tuning "
           "off).")
    return how + (" A modality without any value gets no rows; <i>features</i> counts the "
                  "columns with at least one value among the labelled patients.")


def _factors(cv_metadata: dict | None) -> dict:
    return ((cv_metadata or {}).get("baseline_factors") or {})


def describe_baseline(name: str, row, settings: dict, cv_metadata: dict | None) -> str | None:
    """The metrics table's description of ``logistic_baseline`` or a published score (None for
    other models)."""
    factors = _factors(cv_metadata)
    if name == "logistic_baseline":
        liu = factors.get("logistic_baseline")
        if not liu:  # an older model stage: the configured factors only
            feats = ", ".join(escape(f) for f in settings.get("baseline_features", []))
            return (f"Logistic regression (median imputation, scaling) on "
                    f"{integer(row.get('n_features'))} of the Liu 2023 factors [{feats}]")
        text = ("Logistic regression (median imputation, scaling) on the Liu 2023 factors "
                "available: " + (", ".join(f"<code>{escape(f)}</code>" for f in liu["available"])
                                 or "none"))
        if liu.get("left_out"):
            text += "; left out: " + ", ".join(f"<code>{escape(f)}</code> ({escape(why)})"
                                               for f, why in liu["left_out"].items())
        return text
    spec = (settings.get("score_baselines") or {}).get(name)
    if not spec:
        return None
    way = "higher = worse" if int(spec.get("direction", 1)) < 0 else "higher = better"
    coverage = row.get("coverage", np.nan)
    on = (f"on the {integer(row.get('n'))} labelled patients who have it "
          f"({100 * coverage:.0f}% coverage)" if pd.notna(coverage) else "")
    return (f"Published score <code>{escape(spec.get('feature', name))}</code> used as is "
            f"({way}), judged on its own values {on}; probability metrics from a logistic "
            "recalibration in each training fold")


def baseline_notes(metrics: pd.DataFrame, cv_metadata: dict | None) -> str:
    """A note under the metrics table: coverage, the skip rule and the skipped scores, the
    Liu factors left out."""
    factors = _factors(cv_metadata)
    scores = factors.get("scores") or {}
    text = ('<p class="note"><i>n</i> is the number of labelled patients a row is computed on; '
            "<i>coverage</i> the share of all labelled patients that is (1 for the fitted "
            "models; for a published score, the patients who have it: its &Delta;AUC and "
            "DeLong p are against XGBoost on those same patients).")
    if factors.get("rule"):
        text += f" Rule: {escape(factors['rule'])}."
    skipped = {name: entry for name, entry in sorted(scores.items())
               if entry.get("status") == "skipped"}
    if skipped:
        text += " Scores not evaluated: " + "; ".join(
            f"{escape(name)} ({escape(entry.get('reason', ''))})"
            for name, entry in skipped.items()) + "."
    liu = factors.get("logistic_baseline") or {}
    if liu.get("left_out"):
        text += (" Liu baseline factors left out (no information in this cohort): "
                 + "; ".join(f"{escape(f)}: {escape(why)}" for f, why in liu["left_out"].items())
                 + ".")
    return text + "</p>"


def score_roc_predictions(avg: pd.DataFrame, matrix: pd.DataFrame | None,
                          cv_metadata: dict | None) -> pd.DataFrame:
    """The repeat-averaged OOF table with each evaluated published score's probabilities
    replaced by its own directed values (the ROC curve and AUC of the score itself; averaged
    recalibrations would break its ties). Unchanged without the matrix or the metadata."""
    scores = _factors(cv_metadata).get("scores") or {}
    if matrix is None or not scores or "sample_id" not in matrix.columns:
        return avg
    by_sample = matrix.set_index(matrix["sample_id"].astype(str))
    avg = avg.copy()
    for name, entry in scores.items():
        rows = avg["model"] == name
        feature = entry.get("feature")
        if entry.get("status") != "evaluated" or not rows.any() or feature not in matrix:
            continue
        values = pd.to_numeric(by_sample[feature], errors="coerce")
        avg.loc[rows, "y_prob"] = (int(entry.get("direction", 1))
                                   * avg.loc[rows, "sample_id"].astype(str).map(values)
                                   .to_numpy(dtype=float))
    return avg


def full_model_tuning(tuning: pd.DataFrame | None) -> pd.DataFrame | None:
    """The rows of tuning.tsv of the full XGBoost model, without the ``model`` column: the
    report's tuning section is about its choices (each ablation's own search is in the file)."""
    if tuning is None or "model" not in tuning.columns:
        return tuning
    chosen = tuning["model"].astype(str) == "xgboost"
    return tuning[chosen].drop(columns="model").reset_index(drop=True)
