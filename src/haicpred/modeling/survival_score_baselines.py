"""Published scores (BCLC, ALBI grade, Child-Pugh class, CRAFITY, GPS, ...) as baselines of the
survival endpoint: single-covariate Cox models judged on the score's own values (issue 15
point 2), the time-to-event counterpart of :mod:`haicpred.modeling.score_baselines`.

Per score of the setting ``score_baselines`` (direction -1 = higher is worse):

- **Patients.** Only the labelled patients with a value; nobody is imputed. ``n`` = how many,
  ``coverage`` = ``n`` / labelled patients.
- **Usable or skipped.** Evaluated when at least :data:`MIN_SCORE_PATIENTS` (20) labelled
  patients have it, at least :data:`MIN_SCORE_EVENTS` (10) of them with the event, and it takes
  more than one value among them; otherwise it is listed in ``skipped_models`` with the reason
  (the binary scores' rule with events in place of the smaller class: fewer than 10 events leave
  a C-index with a CI of about +/-0.2).
- **Discrimination** (Harrell's C, Uno's C, time-dependent AUC, with their stratified-bootstrap
  CIs) of the score itself in its published direction (risk = -direction x score: higher risk =
  worse): ties stay ties, nothing is learnt from the data.
- **Paired comparison with XGBoost** on the same patients: XGBoost's repeat-averaged
  out-of-fold risk of exactly those patients, the same bootstrap resamples
  (``c_index_diff_vs_xgboost`` and its CI).
- **Survival probabilities** (IBS, calibration at the horizons, the score's rows of
  ``oof_predictions.tsv``): in every outer training fold of every repeat a single-covariate Cox
  model (:class:`DirectedScoreCox`) is fitted on that fold's patients with the score and applied
  to the held-out ones; the IBS and calibration use S(h) averaged over the repeats (the risk
  the patients are ranked and binned by stays the score's own value, so ties are kept).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from haicpred.modeling.settings import EvaluationSettings, ScoreBaseline
from haicpred.modeling.survival_estimators import breslow_cumulative_hazard, risk_and_survival
from haicpred.modeling.survival_metrics import survival_metric_tables

__all__ = ["MIN_SCORE_EVENTS", "MIN_SCORE_PATIENTS", "SURVIVAL_SCORE_RULE", "DirectedScoreCox",
           "SurvivalScoreEvaluation", "evaluate_survival_scores", "score_risk"]

MIN_SCORE_PATIENTS = 20
MIN_SCORE_EVENTS = 10
SURVIVAL_SCORE_RULE = (
    f"a published score is evaluated as it is (its own values in its published direction) on "
    f"the labelled patients who have it, when at least {MIN_SCORE_PATIENTS} have it, at least "
    f"{MIN_SCORE_EVENTS} of them with the event, and it takes more than one value among them; "
    "otherwise it is skipped with the reason. Its survival probabilities come from a "
    "single-covariate Cox model fitted in each outer training fold on that fold's patients with "
    "the score")
# oof_predictions.tsv of the survival endpoint: these, then S(h) per horizon
OOF_KEY_COLUMNS = ("sample_id", "model", "repeat", "fold", "time", "event", "risk")
# ridge penalty of the single-covariate Cox (a score constant in one training fold stays finite)
SCORE_COX_ALPHA = 0.01


def score_risk(score: np.ndarray, direction: int) -> np.ndarray:
    """The score as a risk (higher = worse): ``direction`` is the published one (1: higher =
    better outcome, -1: higher = worse)."""
    return -direction * np.asarray(score, dtype=float)


class DirectedScoreCox(BaseEstimator):
    """A published score as a single-covariate Cox model: risk = beta x (the score as a risk,
    centred on the training patients) with beta >= 0, so the ranking is the score's own; a
    negative fitted beta (the score points the wrong way in this training fold) falls back to
    beta = 0 (everybody the training set's baseline survival). S(h) from the Breslow baseline
    hazard of the training patients."""

    def __init__(self, horizons: Sequence[float] = (12.0, 24.0, 36.0), direction: int = -1):
        self.horizons = horizons
        self.direction = direction

    def fit(self, score, y):
        from sksurv.linear_model import CoxPHSurvivalAnalysis

        risk = score_risk(score, self.direction)
        self.centre_ = float(risk.mean())
        x = (risk - self.centre_)[:, None]
        beta = 0.0
        if y["event"].any() and np.ptp(x) > 0:
            model = CoxPHSurvivalAnalysis(alpha=SCORE_COX_ALPHA, ties="breslow").fit(x, y)
            beta = max(float(model.coef_[0]), 0.0)
        self.coef_ = beta
        self.event_times_, self.cumulative_hazard_ = breslow_cumulative_hazard(
            y["time"], y["event"], beta * x[:, 0])
        return self

    def predict(self, score) -> np.ndarray:
        """Per patient: the fitted risk, then S(h) at each horizon."""
        risk = self.coef_ * (score_risk(score, self.direction) - self.centre_)
        return risk_and_survival(risk, self.event_times_, self.cumulative_hazard_,
                                 self.horizons)


@dataclass
class SurvivalScoreEvaluation:
    """metrics.tsv rows (the survival endpoint's columns), calibration.tsv rows,
    oof_predictions.tsv rows, per-score availability (cv_metadata.json) and skip reasons."""

    metrics: pd.DataFrame
    calibration: pd.DataFrame
    oof: pd.DataFrame
    availability: dict
    skipped: list


def _skip_reason(feature: str, score: np.ndarray, event: np.ndarray) -> str:
    n, events = len(score), int(event.sum())
    if n == 0:
        return f"no labelled patient has {feature}"
    if n < MIN_SCORE_PATIENTS or events < MIN_SCORE_EVENTS:
        return (f"{n} labelled patient(s) have {feature}, {events} with the event: fewer than "
                f"{MIN_SCORE_PATIENTS} patients or fewer than {MIN_SCORE_EVENTS} events")
    if len(np.unique(score)) < 2:
        return f"{feature} has the same value for all {n} labelled patients who have it"
    return ""


def _fold_predictions(score: np.ndarray, y: np.ndarray, fold_of: np.ndarray, direction: int,
                      horizons: Sequence[float]) -> np.ndarray:
    """repeats x patients x (1 + horizons): each patient's risk and S(h) when held out, from the
    single-covariate Cox fitted on its fold's training patients (all of whom have the score)."""
    out = np.full(fold_of.shape + (1 + len(horizons),), np.nan)
    for repeat, folds in enumerate(fold_of):
        for fold in np.unique(folds):
            test = folds == fold
            model = DirectedScoreCox(horizons, direction).fit(score[~test], y[~test])
            out[repeat, test] = model.predict(score[test])
    return out


def evaluate_survival_scores(scores: Sequence[ScoreBaseline], X_lab: pd.DataFrame,
                             y: np.ndarray, ids: np.ndarray, fold_of: np.ndarray,
                             xgboost_risk: np.ndarray, xgboost_surv: np.ndarray,
                             horizons: Sequence[float], settings: EvaluationSettings,
                             surv_columns: Sequence[str]) -> SurvivalScoreEvaluation:
    """Every score on the labelled patients who have it (see the module docstring).

    ``X_lab``: labelled rows (features as float); ``y``: their time/event array; ``fold_of``:
    repeats x labelled patients, each one's outer fold (1-based); ``xgboost_risk`` and
    ``xgboost_surv``: XGBoost's repeat-averaged out-of-fold risk and S(h) (patients x
    horizons); ``surv_columns``: the oof_predictions.tsv column of each horizon's S(h)."""
    horizons = [float(h) for h in horizons]
    oof_columns = [*OOF_KEY_COLUMNS, *surv_columns]
    rows, calibration, oof_parts, availability, skipped = [], [], [], {}, []
    for spec in scores:
        name, feature, direction = spec.name, spec.feature, spec.direction
        entry = {"feature": feature, "direction": direction}
        if feature not in X_lab.columns:
            reason = f"feature {feature} not in the matrix"
            availability[name] = {**entry, "n": 0, "n_events": 0, "coverage": 0.0,
                                  "status": "skipped", "reason": reason}
            skipped.append(f"{name}: {reason}")
            continue
        values = pd.to_numeric(X_lab[feature], errors="coerce").to_numpy(dtype=float)
        has = np.isfinite(values)
        score, y_s, ids_s = values[has], y[has], ids[has]
        n, events = int(has.sum()), int(y_s["event"].sum())
        reason = _skip_reason(feature, score, y_s["event"])
        availability[name] = {**entry, "n": n, "n_events": events, "coverage": n / len(y),
                              "status": "skipped" if reason else "evaluated", "reason": reason}
        if reason:
            skipped.append(f"{name}: {reason}")
            continue
        folds = fold_of[:, has]
        predicted = _fold_predictions(score, y_s, folds, direction, horizons)
        metrics, table = survival_metric_tables(
            y_s["time"], y_s["event"].astype(int),
            {"xgboost": xgboost_risk[has], name: score_risk(score, direction)},
            {"xgboost": xgboost_surv[has], name: predicted[:, :, 1:].mean(axis=0)},
            horizons, settings.n_bootstrap, settings.seed, ids=ids_s)
        row = metrics.iloc[1].to_dict()
        row["coverage"], row["n_features"] = n / len(y), 1
        row["note"] = "; ".join(part for part in (
            f"the score's own values (direction {direction}) on the {n} labelled patients who "
            "have it; S(h) from a single-covariate Cox per training fold", row["note"]) if part)
        rows.append(row)
        calibration.append(table[table["model"] == name])
        for repeat in range(len(folds)):
            part = pd.DataFrame({"sample_id": ids_s, "model": name, "repeat": repeat + 1,
                                 "fold": folds[repeat], "time": y_s["time"],
                                 "event": y_s["event"].astype(int),
                                 "risk": score_risk(score, direction)})
            for column, surv_column in enumerate(surv_columns, start=1):
                part[surv_column] = predicted[repeat, :, column]
            oof_parts.append(part[oof_columns])
    return SurvivalScoreEvaluation(
        metrics=pd.DataFrame(rows),
        calibration=(pd.concat(calibration, ignore_index=True) if calibration
                     else pd.DataFrame()),
        oof=(pd.concat(oof_parts, ignore_index=True) if oof_parts
             else pd.DataFrame(columns=oof_columns)),
        availability=availability, skipped=skipped)

