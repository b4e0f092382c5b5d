"""XGBoost boosted from a penalised logistic start (haicpred.modeling.linear_start)."""

import json

import numpy as np
import pandas as pd
import pytest
import xgboost
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from haicpred.modeling.explain import shap_values
from haicpred.modeling.linear_start import LinearStart, LinearStartXGBClassifier


def _cohort(n: int, n_noise: int, seed: int = 0):
    """Two additive signals (one a threshold), a wide block of noise columns, 10% missing."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=(n, 2))
    noise = rng.normal(size=(n, n_noise))
    logit = 1.5 * signal[:, 0] - 1.2 * (signal[:, 1] > 0.5) - 0.3
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    X = pd.DataFrame(np.column_stack([signal, noise]),
                     columns=["size", "afp"] + [f"rad_{i}" for i in range(n_noise)])
    X = X.mask(rng.random(X.shape) < 0.1)
    return X, y, [f"rad_{i}" for i in range(n_noise)]


def test_start_margins_are_cross_fitted():
    X, y, _ = _cohort(240, 20)
    start = LinearStart(seed=3).fit(X, y)
    z = start.standardised(X)
    kept = start.kept_
    # each training patient's start comes from the chosen model fitted without its fold
    train, held_out = start.folds_[0]
    refit = (LogisticRegression(C=start.c_, l1_ratio=1.0, solver="liblinear",
                                intercept_scaling=10.0, random_state=3)
             if start.penalty_ == "l1" else LogisticRegression(C=start.c_, max_iter=2000))
    refit.fit(z[np.ix_(train, kept)], y[train])  # up to the solver's tolerance
    assert np.allclose(start.oof_margin_[held_out],
                       refit.decision_function(z[np.ix_(held_out, kept)]), atol=0.02)
    # and differs from the full fit's in-sample log-odds (which is what new patients get)
    assert not np.allclose(start.oof_margin_, start.margin(X))
    assert roc_auc_score(y, start.oof_margin_) > 0.7
    assert start.coef_[0] > 0  # the planted direction


def test_a_drowning_group_is_left_out_of_start_and_trees():
    X, y, noise = _cohort(90, 600, seed=1)
    model = LinearStartXGBClassifier(start_groups={"radiomics": noise}, n_estimators=20,
                                     max_depth=2, random_state=1, n_jobs=1).fit(X, y)
    start = model.start_
    assert start.left_out_ == "radiomics"
    assert not np.any(start.coef_[2:])
    used = set(model.get_booster().get_score(importance_type="total_gain"))
    assert used and used <= {"size", "afp"}
    # with the group kept it would have been chosen from 602 columns instead
    wide = LinearStart(seed=1).fit(X, y)
    assert wide.cv_logloss_ > start.cv_logloss_


def test_start_only_model_and_json_round_trip():
    X, y, _ = _cohort(200, 10)
    model = LinearStartXGBClassifier(n_estimators=0, random_state=1, n_jobs=1).fit(X, y)
    p = model.predict_proba(X)[:, 1]
    assert np.allclose(p, 1 / (1 + np.exp(-model.start_.margin(X))))
    state = json.loads(json.dumps(model.start_.to_dict(list(X.columns))))
    again = LinearStart.from_dict(state)
    assert np.array_equal(again.margin(X), model.start_.margin(X))
    with pytest.raises(ValueError, match="coefficients must be 12 finite numbers"):
        LinearStart.from_dict({**state, "coefficients": state["coefficients"][:-1]})


def test_wrapper_parameters_stay_out_of_the_booster():
    model = LinearStartXGBClassifier(linear_folds=4, start_groups={"g": ["a"]}, max_depth=3)
    copy = clone(model)
    assert copy.get_params()["linear_folds"] == 4 and copy.get_params()["max_depth"] == 3
    assert not {"linear_start", "linear_folds", "start_groups", "start_penalties",
                "prefit_start"} & set(copy.get_xgb_params())
    plain = LinearStartXGBClassifier(linear_start=False, n_estimators=30, random_state=1,
                                     n_jobs=1)
    X, y, _ = _cohort(150, 5)
    reference = xgboost.XGBClassifier(n_estimators=30, random_state=1, n_jobs=1).fit(X, y)
    assert np.array_equal(plain.fit(X, y).predict_proba(X), reference.predict_proba(X))


def test_prefit_start_reused_only_for_the_same_rows():
    X, y, noise = _cohort(150, 30)
    model = LinearStartXGBClassifier(start_groups={"radiomics": noise}, n_estimators=5,
                                     random_state=1, n_jobs=1)
    start, _ = model.fit_start(X, y)
    reused = clone(model).set_params(prefit_start=start).fit(X, y)
    assert reused.start_ is not None
    assert np.array_equal(reused.start_.coef_, start.coef_)
    other = clone(model).set_params(prefit_start=start).fit(X.iloc[:-1], y[:-1])
    assert len(other.start_.oof_margin_) == len(y) - 1


def test_shap_values_add_up_to_the_log_odds():
    X, y, _ = _cohort(220, 8)
    model = LinearStartXGBClassifier(n_estimators=40, max_depth=2, learning_rate=0.1,
                                     random_state=1, n_jobs=1).fit(X, y)
    values, base = shap_values(model, X)
    p = model.predict_proba(X)[:, 1]
    assert np.allclose(values.sum(axis=1) + base, np.log(p / (1 - p)), atol=1e-4)
    # the start's part of a feature's value is its exact linear contribution
    start_only = LinearStartXGBClassifier(n_estimators=0, random_state=1, n_jobs=1).fit(X, y)
    values, base = shap_values(start_only, X)
    assert np.allclose(values.to_numpy(), start_only.start_.contributions(X))
    assert base == pytest.approx(start_only.start_.intercept_)


def test_l1_start_selects_the_signals():
    X, y, _ = _cohort(300, 15)
    start = LinearStart(seed=1, penalties=("l1",)).fit(X, y)
    assert start.penalty_ == "l1" and start.c_ in start.cs
    assert start.coef_[0] > 0 and start.coef_[1] < 0  # the planted directions
    assert 2 <= start.n_selected < 17  # the lasso drops noise columns


def test_lasso_starts_fitted_in_parallel_threads_equal_the_sequential_one():
    """liblinear draws from the C library's global random state: unserialised, concurrent
    lasso fits changed each other's coordinate order (two 2-thread demo runs differed)."""
    from concurrent.futures import ThreadPoolExecutor

    cohorts = [_cohort(400, 60, seed) for seed in range(6)]

    def coefficients(item):
        X, y, _ = item
        return LinearStart(seed=1, penalties=("l1",)).fit(X, y).coef_

    sequential = [coefficients(item) for item in cohorts]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            parallel = list(pool.map(coefficients, cohorts))
            assert all(np.array_equal(a, b) for a, b in zip(sequential, parallel))


def test_the_search_budget_follows_the_training_set_size():
    """One candidate per 20 training patients, at least 5, at most tuning.n_candidates."""
    from haicpred.modeling.estimators import xgboost_classifier
    from haicpred.modeling.settings import TuningSettings
    from haicpred.modeling.tuning import tune_xgboost

    tuning = TuningSettings(n_candidates=20, inner_folds=3, early_stopping_rounds=5,
                            max_estimators=20)
    for n, expected in ((80, 5), (233, 11), (460, 20)):
        X, y, _ = _cohort(n, 5)
        params, trace = tune_xgboost(X, y, tuning, 1, lambda: xgboost_classifier(
            {"max_depth": 2}, 1, 1, linear_start=True))
        assert len(trace) == expected, n
        assert params["prefit_start"].n_selected >= 1
