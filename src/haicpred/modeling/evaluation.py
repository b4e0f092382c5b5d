"""Metric tables of the cross-validated models (``metrics.tsv``, ``decision_curve.tsv``,
``lobo_metrics.tsv`` rows), from probabilities already computed.

Every statistic comes from :mod:`haicpred.modeling.metrics`. Metrics of the CV models are
computed on each sample's out-of-fold probability averaged over the repeats:

- AUC with a 95% CI by the percentile method over ``n_bootstrap`` stratified bootstrap
  resamples (responders and non-responders resampled separately); the same resamples for every
  model, so ``auc_diff_low/high`` (model minus XGBoost) is a paired bootstrap CI;
- ``delong_p_vs_xgboost``: DeLong's test of the model's AUC against XGBoost's on the same
  averaged probabilities (NaN for XGBoost itself);
- Brier score, calibration intercept (calibration-in-the-large) and slope;
- ``auprc`` (average precision), and at ``threshold`` (setting ``threshold``, default 0.5;
  ``p >= threshold`` is called positive) sensitivity and specificity;
- ``accuracy_at_0.5`` kept as it was;
- ``coverage``: the share of the labelled patients the row is computed on: 1 here, less for a
  published score, which is judged only on the patients who have it
  (:mod:`haicpred.modeling.score_baselines`, which computes those rows).

Decision curve (Vickers & Elkin 2006): net benefit of every model at thresholds
0.05, 0.10, ..., 0.95, plus ``treat_all`` and ``treat_none`` (0 by definition).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from haicpred.modeling.metrics import (auc_score, average_precision, bootstrap_auc,
                                       calibration_bins, calibration_intercept_slope, delong_test,
                                       net_benefit, net_benefit_treat_all, sensitivity_specificity)
from haicpred.modeling.settings import EvaluationSettings

__all__ = [
    "METRIC_COLUMNS",
    "CALIBRATION_COLUMNS",
    "DECISION_CURVE_COLUMNS",
    "DECISION_THRESHOLDS",
    "LOBO_COLUMNS",
    "AUC_CI_METHOD",
    "bootstrap_indices",
    "percentile_interval",
    "metric_tables",
    "decision_curve",
    "held_out_metrics",
]

METRIC_COLUMNS = [
    "model",
    "n",
    "coverage",
    "n_events",
    "n_unlabelled",
    "n_features",
    "auc",
    "auc_low",
    "auc_high",
    "auc_repeat_sd",
    "auc_diff_vs_xgboost",
    "auc_diff_low",
    "auc_diff_high",
    "delong_p_vs_xgboost",
    "auprc",
    "brier",
    "calibration_intercept",
    "calibration_slope",
    "threshold",
    "sensitivity",
    "specificity",
    "accuracy_at_0.5",
]
CALIBRATION_COLUMNS = ["model", "bin", "mean_predicted", "observed_rate", "n"]
DECISION_CURVE_COLUMNS = ["model", "threshold", "net_benefit"]
# as text, so the table shows 0.05, not 0.05000000000000000277
DECISION_THRESHOLDS = [f"{k / 100:.2f}" for k in range(5, 100, 5)]
LOBO_COLUMNS = ["held_out_batch", "model", "n", "n_events", "auc", "auc_low", "auc_high",
                "brier", "calibration_intercept", "calibration_slope", "note"]
AUC_CI_METHOD = (
    "95% CI of the AUC: percentile interval over {B} stratified bootstrap resamples of the "
    "repeat-averaged out-of-fold probabilities (responders and non-responders resampled "
    "separately); the same resamples for every model, so the CI of the AUC difference to "
    "XGBoost is a paired bootstrap CI; delong_p_vs_xgboost: DeLong's test (Sun & Xu 2014) on "
    "the same averaged probabilities"
)


def bootstrap_indices(y: np.ndarray, n_bootstrap: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Stratified resamples: (positive index rows, negative index rows)."""
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    return (rng.integers(0, len(pos), size=(n_bootstrap, len(pos))),
            rng.integers(0, len(neg), size=(n_bootstrap, len(neg))))


def percentile_interval(values: np.ndarray) -> tuple[float, float]:
    """The 2.5th and 97.5th percentiles (NaN, NaN without values)."""
    if len(values) == 0:
        return float("nan"), float("nan")
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def metric_tables(y: np.ndarray, ids: np.ndarray, averaged: dict, per_repeat: dict,
                  n_features: dict, counts: dict, settings: EvaluationSettings
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``metrics.tsv`` and ``calibration.tsv`` frames.

    ``averaged``: model -> repeat-averaged OOF probability (``xgboost`` first; ``oracle`` may
    be among them); ``per_repeat``: model -> repeats x samples OOF probabilities (CV models
    only); ``counts``: n, n_events, n_unlabelled; ``settings``: bootstrap resamples, seed and
    threshold.
    """
    rng = np.random.default_rng(settings.seed)
    B = settings.n_bootstrap
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    pos_idx, neg_idx = bootstrap_indices(y, B, rng)
    boot = {name: bootstrap_auc(p[pos], p[neg], pos_idx, neg_idx) if B else np.array([])
            for name, p in averaged.items()}
    reference = averaged["xgboost"]
    reference_auc = auc_score(y, reference)
    threshold = settings.threshold
    metric_rows, calibration_rows = [], []
    for name, p in averaged.items():
        auc = auc_score(y, p)
        auc_low, auc_high = percentile_interval(boot[name])
        repeats = per_repeat.get(name)
        repeat_sd = (float(np.std([auc_score(y, r) for r in repeats], ddof=1))
                     if repeats is not None and len(repeats) > 1 else float("nan"))
        if name == "xgboost":
            diff = diff_low = diff_high = delong_p = float("nan")
        else:
            diff = auc - reference_auc
            diff_low, diff_high = percentile_interval(boot[name] - boot["xgboost"])
            delong_p = delong_test(y, p, reference)["p_value"]
        intercept, slope = calibration_intercept_slope(y, p)
        sensitivity, specificity = sensitivity_specificity(y, p, threshold)
        metric_rows.append({
            "model": name,
            **counts,
            "coverage": 1.0,  # every labelled patient (scores: haicpred.modeling.score_baselines)
            "n_features": n_features.get(name, pd.NA),
            "auc": auc,
            "auc_low": auc_low,
            "auc_high": auc_high,
            "auc_repeat_sd": repeat_sd,
            "auc_diff_vs_xgboost": float(diff),
            "auc_diff_low": diff_low,
            "auc_diff_high": diff_high,
            "delong_p_vs_xgboost": float(delong_p),
            "auprc": average_precision(y, p),
            "brier": float(np.mean((p - y) ** 2)),
            "calibration_intercept": intercept,
            "calibration_slope": slope,
            "threshold": float(threshold),
            "sensitivity": sensitivity,
            "specificity": specificity,
            "accuracy_at_0.5": float(np.mean((p >= 0.5).astype(int) == y)),
        })
        calibration_rows += calibration_bins(name, y.astype(float), p, ids)
    metrics = pd.DataFrame(metric_rows, columns=METRIC_COLUMNS)
    for column in ("n", "n_events", "n_unlabelled", "n_features"):
        metrics[column] = metrics[column].astype("Int64")
    return metrics, pd.DataFrame(calibration_rows, columns=CALIBRATION_COLUMNS)


def decision_curve(y: np.ndarray, averaged: dict) -> pd.DataFrame:
    """Net benefit per model and threshold, then ``treat_all`` and ``treat_none``."""
    rows = []
    for name, p in averaged.items():
        rows += [{"model": name, "threshold": t, "net_benefit": net_benefit(y, p, float(t))}
                 for t in DECISION_THRESHOLDS]
    rows += [{"model": "treat_all", "threshold": t,
              "net_benefit": net_benefit_treat_all(y, float(t))} for t in DECISION_THRESHOLDS]
    rows += [{"model": "treat_none", "threshold": t, "net_benefit": 0.0}
             for t in DECISION_THRESHOLDS]
    return pd.DataFrame(rows, columns=DECISION_CURVE_COLUMNS)


def held_out_metrics(y: np.ndarray, p: np.ndarray, n_bootstrap: int, rng) -> dict:
    """AUC with its stratified-bootstrap 95% CI, Brier and calibration on one held-out set."""
    auc = auc_score(y, p)
    if n_bootstrap and np.isfinite(auc):
        pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
        pos_idx, neg_idx = bootstrap_indices(y, n_bootstrap, rng)
        low, high = percentile_interval(bootstrap_auc(p[pos], p[neg], pos_idx, neg_idx))
    else:
        low = high = float("nan")
    intercept, slope = calibration_intercept_slope(y, p)
    return {"auc": auc, "auc_low": low, "auc_high": high,
            "brier": float(np.mean((p - y) ** 2)),
            "calibration_intercept": intercept, "calibration_slope": slope}
