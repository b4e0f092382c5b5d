"""Time-to-event estimators fitted inside the training folds, each predicting a risk (the log
relative hazard: higher = worse) and survival S(t) at the endpoint's horizons.

- :class:`XGBoostCox`: gradient boosting with XGBoost's Cox partial likelihood
  (``survival:cox``); the booster's margin is the log relative hazard.
- :class:`PenalisedCox`: ridge-penalised Cox regression (scikit-survival's
  ``CoxPHSurvivalAnalysis``) after median imputation and scaling, the penalty chosen by an inner
  CV on Harrell's C inside the training set; the survival analogue of
  ``logistic_all_features``, and, on a published model's factors, the refitted baselines.

Both turn a risk into survival the same way: the Breslow estimate of the baseline cumulative
hazard from the training patients (:func:`breslow_cumulative_hazard`), so S(t | x) =
exp(-H0(t) exp(risk(x))) (:func:`survival_at`). A model's ``predict`` returns one row per patient:
the risk, then S(h) for each horizon h (:func:`risk_and_survival`), which is what the survival
endpoint's out-of-fold table holds.

``y`` is a structured array with fields ``event`` (bool) and ``time`` (float, > 0), as
scikit-survival uses (:func:`survival_array`); indexing it by rows keeps time and event together.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.impute import SimpleImputer
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from haicpred.io.errors import Problem, raise_if_any
from haicpred.modeling.survival_metrics import harrell_c

__all__ = [
    "SURVIVAL_DTYPE",
    "PenalisedCox",
    "XGBoostCox",
    "breslow_cumulative_hazard",
    "cox_booster_params",
    "risk_and_survival",
    "signed_time",
    "survival_array",
    "survival_at",
]

SURVIVAL_DTYPE = np.dtype([("event", bool), ("time", float)])
# ridge penalties tried by the inner CV of PenalisedCox (on standardised features)
COX_ALPHAS = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)


def survival_array(time, event) -> np.ndarray:
    """Times and 0/1 events as one structured array (fields ``event``, ``time``)."""
    out = np.empty(len(time), dtype=SURVIVAL_DTYPE)
    out["time"] = np.asarray(time, dtype=float)
    out["event"] = np.asarray(event).astype(bool)
    return out


def signed_time(y: np.ndarray) -> np.ndarray:
    """XGBoost's Cox label of a time/event array: the time, negative when censored."""
    return np.where(y["event"], y["time"], -y["time"])


def breslow_cumulative_hazard(time: np.ndarray, event: np.ndarray, risk: np.ndarray
                              ) -> tuple[np.ndarray, np.ndarray]:
    """Breslow's baseline cumulative hazard: at each distinct event time t_k, the sum over
    event times up to t_k of d_k / sum_{j: t_j >= t_k} exp(risk_j) (tied events share one risk
    set). Returns (the distinct event times, H0 at each)."""
    time = np.asarray(time, dtype=float)
    event = np.asarray(event).astype(bool)
    relative = np.exp(np.asarray(risk, dtype=float) - np.max(risk))  # scaled for stability
    order = np.argsort(time, kind="mergesort")
    time, event, relative = time[order], event[order], relative[order]
    # the risk set at time t: everyone with t_j >= t (suffix sums over the sorted times)
    at_risk = np.cumsum(relative[::-1])[::-1]
    distinct = np.unique(time[event])
    first = np.searchsorted(time, distinct, side="left")
    deaths = np.array([np.count_nonzero(event & (time == t)) for t in distinct], dtype=float)
    increments = deaths / at_risk[first]
    # undo the scaling: H0 is for exp(risk), not exp(risk - max)
    return distinct, np.cumsum(increments) * np.exp(-np.max(risk))


def survival_at(event_times: np.ndarray, cumulative_hazard: np.ndarray, risk: np.ndarray,
                horizons: Sequence[float]) -> np.ndarray:
    """S(h | x) = exp(-H0(h) exp(risk)) for every patient (rows) and horizon (columns); H0 is
    the step function of :func:`breslow_cumulative_hazard` (0 before the first event)."""
    index = np.searchsorted(event_times, np.asarray(horizons, dtype=float), side="right") - 1
    baseline = np.where(index >= 0, cumulative_hazard[np.maximum(index, 0)], 0.0)
    return np.exp(-np.outer(np.exp(np.asarray(risk, dtype=float)), baseline))


def risk_and_survival(risk: np.ndarray, event_times: np.ndarray, cumulative_hazard: np.ndarray,
                      horizons: Sequence[float]) -> np.ndarray:
    """One row per patient: the risk, then S(h) at each horizon."""
    return np.column_stack([risk, survival_at(event_times, cumulative_hazard, risk, horizons)])


class _BreslowSurvival:
    """What both estimators share once their risk is fitted: S(t) from the training risks."""

    horizons: Sequence[float]

    def _fit_baseline(self, y: np.ndarray, risk: np.ndarray) -> None:
        self.event_times_, self.cumulative_hazard_ = breslow_cumulative_hazard(
            y["time"], y["event"], risk)

    def predict(self, X) -> np.ndarray:
        """Risk and S(h) at each horizon (:func:`risk_and_survival`)."""
        return risk_and_survival(self.predict_risk(X), self.event_times_,
                                 self.cumulative_hazard_, self.horizons)


class XGBoostCox(_BreslowSurvival, BaseEstimator):
    """XGBoost with the Cox objective; parameters as ``xgboost.XGBRegressor``'s (the config's
    ``model.xgboost`` minus the binary objective and metric)."""

    def __init__(self, horizons=(12.0, 24.0, 36.0), n_estimators=250, max_depth=2,
                 learning_rate=0.05, subsample=0.8, colsample_bytree=0.8, min_child_weight=3,
                 reg_lambda=1.0, reg_alpha=0.0, gamma=0.0, max_bin=256, random_state=1,
                 n_jobs=1):
        self.horizons = horizons
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.min_child_weight = min_child_weight
        self.reg_lambda = reg_lambda
        self.reg_alpha = reg_alpha
        self.gamma = gamma
        self.max_bin = max_bin
        self.random_state = random_state
        self.n_jobs = n_jobs

    objective = "survival:cox"
    eval_metric = "cox-nloglik"  # the inner criterion of the nested search
    loss_column = "inner_cox_nloglik"  # tuning.tsv's column of that criterion

    def booster_params(self) -> dict:
        params = self.get_params()
        params.pop("horizons")
        return params

    def tuning_params(self, candidate: dict | None = None) -> dict:
        """Native booster parameters (single-threaded, evaluating :attr:`eval_metric`) with
        ``candidate`` applied: what the nested search boosts its inner folds with."""
        import xgboost

        settings = {**self.booster_params(), **(candidate or {})}
        regressor = xgboost.XGBRegressor(objective=self.objective, tree_method="hist",
                                         **settings)
        params = {k: v for k, v in regressor.get_xgb_params().items() if v is not None}
        params.update(n_jobs=1, eval_metric=[self.eval_metric])
        return params

    def training_matrix(self, dmatrix):
        """An inner fold's DMatrix (labelled with the signed time) as the objective needs it:
        the Cox objective reads the signed time itself."""
        return dmatrix

    def fit(self, X, y):
        import xgboost

        label = signed_time(y)
        self.model_ = xgboost.XGBRegressor(objective="survival:cox", eval_metric="cox-nloglik",
                                           tree_method="hist", **self.booster_params())
        self.model_.fit(X, label)
        self._fit_baseline(y, self.predict_risk(X))
        return self

    def predict_risk(self, X) -> np.ndarray:
        """The log relative hazard (the booster's margin)."""
        return self.model_.predict(X, output_margin=True).astype(float)

    def get_booster(self):
        return self.model_.get_booster()


# binary-only parameters of the shared `model.xgboost` settings, not passed to the Cox booster
BINARY_ONLY_XGBOOST_KEYS = ("objective", "eval_metric", "scale_pos_weight")
# set by the endpoint, never from `model.xgboost`
_ENDPOINT_SET_KEYS = ("horizons", "random_state", "n_jobs")


def cox_booster_params(xgboost_settings) -> dict:
    """The ``model.xgboost`` settings the Cox booster takes (binary-only ones dropped); a key
    :class:`XGBoostCox` does not know is refused (InputError naming config model.xgboost)."""
    known = sorted(set(XGBoostCox().get_params()) - set(_ENDPOINT_SET_KEYS))
    params = {key: value for key, value in xgboost_settings.items()
              if key not in BINARY_ONLY_XGBOOST_KEYS}
    raise_if_any([Problem(
        "config", f"model.xgboost {key}",
        "is not a parameter of the survival endpoint's XGBoost Cox model (known: "
        f"{', '.join(known)}; {', '.join(BINARY_ONLY_XGBOOST_KEYS)} apply to the binary "
        "endpoints only and are ignored)",
        "remove it from model.xgboost or use a binary endpoint")
        for key in sorted(set(params) - set(known))])
    return params


class PenalisedCox(_BreslowSurvival, BaseEstimator):
    """Median imputation, scaling and ridge-penalised Cox regression, the penalty chosen among
    :data:`COX_ALPHAS` by a stratified (on the event) inner CV on Harrell's C; ``alphas`` of one
    value fixes it (the refitted published-factor baselines use a small one for stability)."""

    def __init__(self, horizons=(12.0, 24.0, 36.0), alphas=COX_ALPHAS, inner_folds=3,
                 random_state=1):
        self.horizons = horizons
        self.alphas = alphas
        self.inner_folds = inner_folds
        self.random_state = random_state

    def _pipeline(self, alpha: float) -> Pipeline:
        from sksurv.linear_model import CoxPHSurvivalAnalysis

        return Pipeline([("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                         ("scale", StandardScaler()),
                         ("model", CoxPHSurvivalAnalysis(alpha=alpha, ties="breslow"))])

    @staticmethod
    def _fit_quietly(pipeline: Pipeline, X, y) -> Pipeline:
        """Fit, without scikit-survival's overflow warning from its own baseline survival
        (``baseline_survival_``, computed at the end of every fit): this model's S(t) is the
        Breslow estimate of :meth:`_fit_baseline`, and a weakly penalised inner fit that
        overflows there is judged by its inner C like any other."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "overflow encountered in exp", RuntimeWarning,
                                    module="sksurv")
            return pipeline.fit(X, y)

    def _inner_c(self, X: pd.DataFrame, y: np.ndarray, alpha: float) -> float:
        splitter = StratifiedKFold(self.inner_folds, shuffle=True,
                                   random_state=self.random_state)
        scores = []
        for train, valid in splitter.split(np.zeros(len(y)), y["event"]):
            fitted = self._fit_quietly(self._pipeline(alpha), X.iloc[train], y[train])
            risk = fitted.predict(X.iloc[valid])
            scores.append(harrell_c(y["time"][valid], y["event"][valid].astype(int), risk))
        return float(np.mean(scores))

    def fit(self, X, y):
        X = pd.DataFrame(X).reset_index(drop=True)
        alphas = tuple(self.alphas)
        if len(alphas) == 1:
            self.alpha_ = float(alphas[0])
        else:  # the first of equal best (smallest penalty) wins
            scores = [self._inner_c(X, y, alpha) for alpha in alphas]
            self.alpha_ = float(alphas[int(np.argmax(scores))])
        self.model_ = self._fit_quietly(self._pipeline(self.alpha_), X, y)
        self._fit_baseline(y, self.predict_risk(X))
        return self

    def predict_risk(self, X) -> np.ndarray:
        """The linear predictor (centred as scikit-survival fits it; Breslow uses the same)."""
        return np.asarray(self.model_.predict(pd.DataFrame(X)), dtype=float)
