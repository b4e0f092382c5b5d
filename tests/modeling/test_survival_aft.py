"""XGBoost's AFT objective for the survival endpoint (setting survival_objective: aft): its
survival function checked against XGBoost's own likelihood, and the model through the CV engine
with nested tuning on the inner aft-nloglik."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xgboost
from scipy.stats import norm

from haicpred.modeling.cross_validation import cross_validate_models
from haicpred.modeling.settings import resolve_model_settings
from haicpred.modeling.survival_aft import XGBoostAFT, aft_survival, with_aft_bounds
from haicpred.modeling.survival_estimators import signed_time
from haicpred.modeling.survival_metrics import harrell_c
from survival_helpers import HORIZONS, weibull_cohort


def test_the_survival_function_is_the_one_xgboost_fits():
    """XGBoost's aft-nloglik of the training data equals the negative log-likelihood computed
    from our S(t) (censored: -log S(t); events: -log of the density, -dS/dt): the risk's sign,
    the distribution and its scale are XGBoost's."""
    X, y, _ = weibull_cohort(300, 2)
    model = XGBoostAFT(HORIZONS, n_estimators=60, learning_rate=0.1).fit(X, y)
    train = with_aft_bounds(xgboost.DMatrix(X, label=signed_time(y)))
    reported = float(model.get_booster().eval(train).rsplit(":", 1)[1])
    log_time = -model.predict(X)[:, 0]
    time, event = y["time"], y["event"]
    survival = np.array([aft_survival(log_time[[i]], [t])[0, 0] for i, t in enumerate(time)])
    step = 1e-6 * time
    density = np.array([(aft_survival(log_time[[i]], [t - h])[0, 0]
                         - aft_survival(log_time[[i]], [t + h])[0, 0]) / (2 * h)
                        for i, (t, h) in enumerate(zip(time, step))])
    nll = -np.where(event, np.log(density), np.log(survival)).mean()
    assert nll == pytest.approx(reported, rel=1e-6)
    # and S(h) at the horizons is the normal survival of (log h - predicted log time)
    expected = norm.sf(np.log(HORIZONS)[None, :] - log_time[:, None])
    assert np.allclose(model.predict(X)[:, 1:], expected)


def _cohort(n: int, seed: int):
    X, y, truth = weibull_cohort(n, seed)
    ids = [f"P{i:04d}" for i in range(n)]
    matrix = pd.concat([pd.DataFrame({"sample_id": ids, "batch": "b1"}), X], axis=1)
    labels = pd.DataFrame({"sample_id": ids, "batch": "b1", "os_months": y["time"],
                           "os_event": y["event"].astype(int)})
    dictionary = pd.DataFrame({"feature": list(X.columns), "modality": "clinical", "unit": "",
                               "description": "synthetic"})
    return matrix, labels, dictionary, y, truth


def test_the_aft_booster_runs_through_the_cv_with_nested_tuning():
    matrix, labels, dictionary, y, truth = _cohort(300, 5)
    settings = {"seed": 1, "cv_folds": 3, "cv_repeats": 1, "n_bootstrap": 50, "threads": 1,
                "survival_objective": "aft", "baseline_features": ["size", "vp"],
                "tuning": {"n_candidates": 3, "inner_folds": 2, "max_estimators": 80,
                           "early_stopping_rounds": 10},
                "endpoint": {"kind": "survival", "time_column": "os_months",
                             "event_column": "os_event", "horizons_months": list(HORIZONS)}}
    results = cross_validate_models(matrix, labels, dictionary, settings)
    xgb = results.metrics.set_index("model").loc["xgboost"]
    oracle = harrell_c(y["time"], y["event"].astype(int), truth)
    assert xgb["c_index"] > oracle - 0.06 and xgb["c_index_low"] < xgb["c_index"]
    tuning = results.tuning
    assert "inner_aft_nloglik" in tuning.columns and "inner_cox_nloglik" not in tuning.columns
    assert tuning.loc[tuning["model"] == "xgboost", "inner_aft_nloglik"].notna().all()
    surv = results.oof.loc[results.oof["model"] == "xgboost",
                           [f"surv_{h:g}m" for h in HORIZONS]].to_numpy()
    assert (np.diff(surv, axis=1) <= 0).all() and ((surv > 0) & (surv < 1)).all()
    assert results.metadata["survival_objective"] == "aft"
    assert results.metadata["xgboost_objective"].startswith("survival:aft")
    assert results.metadata["settings"]["survival_objective"] == "aft"


def test_the_objective_setting():
    assert resolve_model_settings({}).survival_objective == "cox"
    assert "survival_objective" not in resolve_model_settings({}).as_dict()  # binary: as before
    with pytest.raises(ValueError, match="survival_objective must be one of cox, aft"):
        resolve_model_settings({"survival_objective": "weibull"})
