"""Published-score baselines judged on their own values, and the availability of every
baseline's factors (issue 13 findings 2 and 7).

A published score (BCLC, Child-Pugh class, ALBI grade, CRAFITY, GPS, ...) is not fitted: its
discrimination is that of its own values, in its published direction, on the labelled patients
who have it. So, per score:

- **Patients.** Only those with a value; nobody is imputed. ``n`` = how many, ``coverage`` =
  ``n`` / labelled patients.
- **Usable or skipped.** A score is evaluated when at least :data:`MIN_SCORE_PATIENTS` (20)
  labelled patients have it, with at least :data:`MIN_SCORE_PER_CLASS` (10) in each outcome
  class, and it takes more than one value among them; otherwise it is listed in
  ``skipped_models`` with the reason. Why: with fewer than 10 patients of a class the AUC's 95%
  CI spans about +/-0.25 and DeLong's normal approximation is unreliable (the same order as the
  "10 events" rule of thumb); a score with one value cannot rank anybody. There is no minimum
  coverage: the comparison with XGBoost is paired on the same patients, and ``coverage`` says
  how representative they are.
- **Discrimination** (AUC, its stratified-bootstrap 95% CI, AUPRC) from the score's values
  times its published direction: ties stay ties (a 3-level grade has a 3-step ROC curve).
  ``auc_repeat_sd`` is empty: the score's AUC does not depend on the fold assignment.
- **Paired comparison with XGBoost** on the same patients: the repeat-averaged out-of-fold
  XGBoost probability of exactly those patients, the same bootstrap resamples for both
  (``auc_diff_low/high``), DeLong's test (``delong_p_vs_xgboost``).
- **Probabilities** (Brier, calibration intercept and slope, sensitivity, specificity and
  accuracy at the threshold, ``calibration.tsv``, the score's rows of ``oof_predictions.tsv``):
  a score is not a probability, so in every outer training fold of every repeat it is mapped to
  one by :class:`DirectedScoreRecalibration` (intercept and non-negative slope) fitted on that
  fold's patients with the score, and applied to the held-out ones. Each statistic is computed
  per repeat on that repeat's out-of-fold probabilities and averaged over repeats (calibration
  bins: bin by bin); the probabilities are never averaged across repeats, which would break
  the score's ties. Decision curves (net benefit against treat-all on all patients) are not
  drawn for scores, whose patients are a subset.

The multi-factor Liu baseline (``logistic_baseline``) keeps median imputation inside the
folds (it is a fitted model), but a factor that is not in the matrix, has no value for any
labelled patient, or has the same value for all of them carries nothing: it is left out, and
:func:`factor_availability` says which and why (``cv_metadata.json`` ``baseline_factors``,
``skipped_models``, the report).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from haicpred.modeling.evaluation import METRIC_COLUMNS, bootstrap_indices, percentile_interval
from haicpred.modeling.metrics import (auc_score, average_precision, bootstrap_auc,
                                       calibration_bins, calibration_intercept_slope, delong_test,
                                       fit_logistic, sensitivity_specificity, sigmoid)
from haicpred.modeling.settings import EvaluationSettings

__all__ = [
    "MIN_SCORE_PATIENTS",
    "MIN_SCORE_PER_CLASS",
    "SCORE_RULE",
    "DirectedScoreRecalibration",
    "ScoreEvaluation",
    "factor_availability",
    "evaluate_score_baselines",
]

MIN_SCORE_PATIENTS = 20
MIN_SCORE_PER_CLASS = 10
SCORE_RULE = (f"a published score is evaluated on the labelled patients who have it, when at "
              f"least {MIN_SCORE_PATIENTS} have it, at least {MIN_SCORE_PER_CLASS} of them in "
              "each outcome class, and it takes more than one value among them; otherwise it "
              "is skipped with the reason")


class DirectedScoreRecalibration(ClassifierMixin, BaseEstimator):
    """A published score used as it is, mapped to a probability by logistic recalibration.

    The score keeps its published direction (``direction`` * score, higher = more likely to
    respond); only an intercept and a non-negative slope are fitted, so the ranking of patients
    (the score's discrimination) is never learned from the data. A negative fitted slope (the
    score points the wrong way in this training fold) falls back to the base rate.
    """

    def __init__(self, direction: int = 1):
        self.direction = direction

    def fit(self, X, y):
        x = self.direction * np.asarray(X, dtype=float)[:, 0]
        y = np.asarray(y, dtype=int)
        self.classes_ = np.array([0, 1])
        intercept, slope = fit_logistic(x, y)
        if not np.isfinite(slope) or slope < 0:
            rate = min(max(y.mean(), 1e-6), 1 - 1e-6)
            intercept, slope = float(np.log(rate / (1 - rate))), 0.0
        self.intercept_ = intercept
        self.coef_ = slope
        return self

    def predict_proba(self, X):
        x = self.direction * np.asarray(X, dtype=float)[:, 0]
        p = sigmoid(self.intercept_ + self.coef_ * x)
        return np.column_stack([1 - p, p])

    def predict(self, X):
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def _number(value: float) -> str:
    return f"{value:.6g}"


def factor_availability(factors: list[str], X: pd.DataFrame) -> tuple[list[str], dict]:
    """The factors that carry information over the labelled patients ``X``, and why each other
    one is left out (not in the matrix, no value for any labelled patient, one value only)."""
    available, left_out = [], {}
    for factor in factors:
        if factor not in X.columns:
            left_out[factor] = "not in the feature matrix"
            continue
        values = pd.to_numeric(X[factor], errors="coerce").dropna()
        if values.empty:
            left_out[factor] = "no value for any labelled patient"
        elif values.nunique() == 1:
            left_out[factor] = (f"the same value ({_number(float(values.iloc[0]))}) for every "
                                f"labelled patient who has it ({len(values)})")
        else:
            available.append(factor)
    return available, left_out


@dataclass
class ScoreEvaluation:
    """What :func:`evaluate_score_baselines` gives: metrics.tsv rows, calibration.tsv rows,
    oof_predictions.tsv rows, per-score availability (cv_metadata.json) and skip reasons."""

    metrics: pd.DataFrame
    calibration: list
    oof: pd.DataFrame
    availability: dict
    skipped: list


def _skip_reason(feature: str, values: np.ndarray, y: np.ndarray) -> str:
    n = len(values)
    events = int(y.sum())
    if n == 0:
        return f"no labelled patient has {feature}"
    if n < MIN_SCORE_PATIENTS or min(events, n - events) < MIN_SCORE_PER_CLASS:
        return (f"{n} labelled patient(s) have {feature} ({events} with label 1, "
                f"{n - events} with label 0): fewer than {MIN_SCORE_PATIENTS} patients or "
                f"fewer than {MIN_SCORE_PER_CLASS} of a class")
    if len(np.unique(values)) < 2:
        return f"{feature} has the same value for all {n} labelled patients who have it"
    return ""


def _recalibrated(score: np.ndarray, y: np.ndarray, fold_of: np.ndarray, direction: int
                  ) -> np.ndarray:
    """repeats x patients: the probability of each patient when held out in each repeat, from
    the recalibration fitted on its fold's training patients (all of whom have the score)."""
    out = np.full(fold_of.shape, np.nan)
    for repeat, folds in enumerate(fold_of):
        for fold in np.unique(folds):
            test = folds == fold
            model = DirectedScoreRecalibration(direction).fit(score[~test, None], y[~test])
            out[repeat, test] = model.predict_proba(score[test, None])[:, 1]
    return out


def _calibration_rows(name: str, y: np.ndarray, prob: np.ndarray, ids: np.ndarray) -> list:
    """Ten quantile bins per repeat, averaged bin by bin over the repeats."""
    per_repeat = [pd.DataFrame(calibration_bins(name, y.astype(float), p, ids)) for p in prob]
    table = pd.concat(per_repeat).groupby("bin", sort=True).agg(
        mean_predicted=("mean_predicted", "mean"), observed_rate=("observed_rate", "mean"),
        n=("n", "first")).reset_index()
    return [{"model": name, "bin": int(r.bin), "mean_predicted": float(r.mean_predicted),
             "observed_rate": float(r.observed_rate), "n": int(r.n)}
            for r in table.itertuples()]


def _mean_over_repeats(per_repeat: list[list[float]]) -> list[float]:
    """Column means over the repeats, ignoring a repeat where a statistic is undefined (NaN)."""
    table = np.array(per_repeat, dtype=float)
    return [float(column[np.isfinite(column)].mean()) if np.isfinite(column).any()
            else float("nan") for column in table.T]


def evaluate_score_baselines(scores: dict, X_lab: pd.DataFrame, y: np.ndarray, ids: np.ndarray,
                             fold_of: np.ndarray, xgboost_prob: np.ndarray, n_unlabelled: int,
                             settings: EvaluationSettings) -> ScoreEvaluation:
    """Every score of ``scores`` (name -> {feature, direction}, the direction already turned
    for the endpoint) on the labelled patients who have it.

    ``X_lab``: labelled rows (features as float); ``fold_of``: repeats x labelled patients,
    each patient's outer fold (1-based) in each repeat; ``xgboost_prob``: XGBoost's
    repeat-averaged out-of-fold probability of every labelled patient.
    """
    n_labelled = len(y)
    threshold, B = settings.threshold, settings.n_bootstrap
    rows, calibration, oof_parts, availability, skipped = [], [], [], {}, []
    for name, spec in scores.items():
        feature, direction = spec["feature"], spec["direction"]
        entry = {"feature": feature, "direction": direction}
        if feature not in X_lab.columns:
            reason = f"feature {feature} not in the matrix"
            availability[name] = {**entry, "n": 0, "coverage": 0.0, "status": "skipped",
                                  "reason": reason}
            skipped.append(f"{name}: {reason}")
            continue
        values = X_lab[feature].to_numpy(dtype=float)
        has = np.isfinite(values)
        score, y_s, ids_s = values[has], y[has], ids[has]
        n, events = int(has.sum()), int(y_s.sum())
        coverage = n / n_labelled
        reason = _skip_reason(feature, score, y_s)
        availability[name] = {**entry, "n": n, "n_events": events, "coverage": coverage,
                              "status": "skipped" if reason else "evaluated",
                              "reason": reason}
        if reason:
            skipped.append(f"{name}: {reason}")
            continue
        directed, x = direction * score, xgboost_prob[has]
        auc = auc_score(y_s, directed)
        x_auc = auc_score(y_s, x)
        pos, neg = np.flatnonzero(y_s == 1), np.flatnonzero(y_s == 0)
        if B:
            # a fresh generator per score: the same resamples whatever the other scores are
            pos_idx, neg_idx = bootstrap_indices(y_s, B, np.random.default_rng(settings.seed))
            boot = bootstrap_auc(directed[pos], directed[neg], pos_idx, neg_idx)
            boot_x = bootstrap_auc(x[pos], x[neg], pos_idx, neg_idx)
        else:
            boot = boot_x = np.array([])
        prob = _recalibrated(score, y_s, fold_of[:, has], direction)
        per_repeat = []
        for p in prob:
            intercept, slope = calibration_intercept_slope(y_s, p)
            sensitivity, specificity = sensitivity_specificity(y_s, p, threshold)
            per_repeat.append([float(np.mean((p - y_s) ** 2)), intercept, slope, sensitivity,
                               specificity, float(np.mean((p >= 0.5).astype(int) == y_s))])
        brier, intercept, slope, sensitivity, specificity, accuracy = _mean_over_repeats(
            per_repeat)
        low, high = percentile_interval(boot)
        diff_low, diff_high = percentile_interval(boot - boot_x)
        rows.append({"model": name, "n": n, "coverage": coverage, "n_events": events,
                     "n_unlabelled": n_unlabelled, "n_features": 1, "auc": auc,
                     "auc_low": low, "auc_high": high, "auc_repeat_sd": float("nan"),
                     "auc_diff_vs_xgboost": auc - x_auc, "auc_diff_low": diff_low,
                     "auc_diff_high": diff_high,
                     "delong_p_vs_xgboost": float(delong_test(y_s, directed, x)["p_value"]),
                     "auprc": average_precision(y_s, directed), "brier": brier,
                     "calibration_intercept": intercept, "calibration_slope": slope,
                     "threshold": float(threshold), "sensitivity": sensitivity,
                     "specificity": specificity, "accuracy_at_0.5": accuracy})
        calibration += _calibration_rows(name, y_s, prob, ids_s)
        for repeat, p in enumerate(prob):
            oof_parts.append(pd.DataFrame({"sample_id": ids_s, "model": name,
                                           "repeat": repeat + 1, "fold": fold_of[repeat, has],
                                           "y_true": y_s, "y_prob": p}))
    metrics = pd.DataFrame(rows, columns=METRIC_COLUMNS)
    oof = (pd.concat(oof_parts, ignore_index=True) if oof_parts else
           pd.DataFrame(columns=["sample_id", "model", "repeat", "fold", "y_true", "y_prob"]))
    return ScoreEvaluation(metrics, calibration, oof, availability, skipped)


def directed_scores(scores, favourable: bool) -> dict:
    """The configured scores (:class:`haicpred.modeling.settings.ScoreBaseline`) as name ->
    {feature, direction}, with their direction for the endpoint: published directions are for
    response, so they flip when label 1 is the bad outcome (e.g. death)."""
    return {score.name: {"feature": score.feature,
                         "direction": score.direction if favourable else -score.direction}
            for score in scores}


def with_score_rows(metrics: pd.DataFrame, calibration: pd.DataFrame, oof: pd.DataFrame,
                    scores: ScoreEvaluation) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """metrics.tsv with the scores' rows before ``oracle`` (if any), calibration.tsv and
    oof_predictions.tsv with theirs (OOF sorted by model, repeat, sample_id as before)."""
    oracle = metrics["model"] == "oracle"
    parts = [frame for frame in (metrics[~oracle], scores.metrics, metrics[oracle])
             if len(frame)]
    merged = pd.concat(parts, ignore_index=True)[METRIC_COLUMNS]
    for column in ("n", "n_events", "n_unlabelled", "n_features"):
        merged[column] = merged[column].astype("Int64")
    if scores.calibration:
        calibration = pd.concat([calibration, pd.DataFrame(scores.calibration,
                                                           columns=calibration.columns)],
                                ignore_index=True)
    if len(scores.oof):
        oof = pd.concat([oof, scores.oof[oof.columns]], ignore_index=True)
        oof = oof.sort_values(["model", "repeat", "sample_id"], kind="mergesort")
        oof = oof.reset_index(drop=True)
    return merged, calibration, oof


def baseline_factors(factors: list[str], X_lab: pd.DataFrame, scores: ScoreEvaluation) -> dict:
    """cv_metadata.json's ``baseline_factors``: per baseline (the Liu factors ``factors``, the
    published scores), which factors were available."""
    available, left_out = factor_availability(factors, X_lab)
    return {"rule": SCORE_RULE,
            "logistic_baseline": {"factors": list(factors),
                                  "available": available, "left_out": left_out},
            "scores": scores.availability}
