"""XGBoost's accelerated failure time objective (``survival:aft``) for the survival endpoint,
selected by the setting ``survival_objective: aft`` (default ``cox``).

The booster models log T = f(x) + scale x Z, Z from :data:`AFT_DISTRIBUTION` (normal) with
:data:`AFT_SCALE` (1.0); it is trained on interval labels (an event at t: [t, t]; censored at
t: [t, +inf)). Its margin f(x) is the predicted log time, so the risk (higher = worse) is
-f(x), and survival is read from the distribution itself, not from a Breslow hazard:
S(h | x) = 1 - F((log h - f(x)) / scale). Parameters, nested tuning and early stopping are
those of the Cox booster (:class:`~haicpred.modeling.survival_estimators.XGBoostCox`), with
XGBoost's ``aft-nloglik`` as the inner criterion.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from haicpred.modeling.survival_estimators import XGBoostCox, signed_time

__all__ = ["AFT_DISTRIBUTION", "AFT_SCALE", "XGBoostAFT", "aft_survival", "with_aft_bounds"]

AFT_DISTRIBUTION = "normal"
AFT_SCALE = 1.0


def aft_survival(log_time: np.ndarray, horizons, scale: float = AFT_SCALE) -> np.ndarray:
    """S(h) = 1 - Phi((log h - mu) / scale) for every patient (rows, ``log_time`` = mu) and
    horizon (columns): the normal AFT model's survival."""
    z = (np.log(np.asarray(horizons, dtype=float))[None, :]
         - np.asarray(log_time, dtype=float)[:, None]) / scale
    return norm.sf(z)


def with_aft_bounds(dmatrix):
    """``dmatrix`` (labelled with the signed time: negative = censored) with AFT's interval
    label: [t, t] for an event, [t, +inf) when censored."""
    signed = dmatrix.get_label()
    time = np.abs(signed)
    dmatrix.set_float_info("label_lower_bound", time)
    dmatrix.set_float_info("label_upper_bound", np.where(signed > 0, time, np.inf))
    return dmatrix


class XGBoostAFT(XGBoostCox):
    """XGBoost with the AFT objective; the Cox booster's parameters. ``distribution`` and
    ``scale`` are the error distribution's (class attributes, not parameters: every fitted
    booster uses :data:`AFT_DISTRIBUTION` and :data:`AFT_SCALE`; a frozen model sets them from
    its metadata)."""

    objective = "survival:aft"
    eval_metric = "aft-nloglik"
    loss_column = "inner_aft_nloglik"
    distribution = AFT_DISTRIBUTION
    scale = AFT_SCALE

    def tuning_params(self, candidate: dict | None = None) -> dict:
        """Native booster parameters (single-threaded) with ``candidate`` applied."""
        params = super().tuning_params(candidate)
        params.update(aft_loss_distribution=self.distribution,
                      aft_loss_distribution_scale=self.scale)
        return params

    def training_matrix(self, dmatrix):
        return with_aft_bounds(dmatrix)

    def fit(self, X, y):
        import xgboost

        params = {**self.tuning_params(), "n_jobs": self.n_jobs}
        train = with_aft_bounds(xgboost.DMatrix(X, label=signed_time(y)))
        self.booster_ = xgboost.train(params, train, num_boost_round=self.n_estimators)
        return self

    def predict_log_time(self, X) -> np.ndarray:
        import xgboost

        return self.booster_.predict(xgboost.DMatrix(X), output_margin=True).astype(float)

    def predict_risk(self, X) -> np.ndarray:
        """Minus the predicted log time (higher = earlier event)."""
        return -self.predict_log_time(X)

    def predict(self, X) -> np.ndarray:
        """Risk, then S(h) at each horizon from the AFT distribution."""
        log_time = self.predict_log_time(X)
        return np.column_stack([-log_time, aft_survival(log_time, self.horizons, self.scale)])

    def get_booster(self):
        return self.booster_
