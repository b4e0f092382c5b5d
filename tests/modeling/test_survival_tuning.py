"""The Cox booster's nested search with real XGBoost on simulated proportional-hazards data."""

from __future__ import annotations

import numpy as np

from haicpred.modeling.estimators import ModelSpec
from haicpred.modeling.settings import TuningSettings
from haicpred.modeling.survival_estimators import XGBoostCox
from haicpred.modeling.survival_tuning import (COX_TUNED_PARAMETERS, survival_tuning_table,
                                               tune_cox_model, tune_cox_xgboost)
from haicpred.modeling.survival_metrics import harrell_c
from survival_helpers import HORIZONS, weibull_cohort

TUNING = TuningSettings(n_candidates=4, inner_folds=3, early_stopping_rounds=15,
                        max_estimators=200)


def test_the_search_picks_the_lowest_inner_cox_loss_and_the_model_ranks_held_out_patients():
    X, y, truth = weibull_cohort(700, 3)
    train, test = np.arange(450), np.arange(450, 700)
    params, trace = tune_cox_xgboost(X.iloc[train], y[train], TUNING, 7,
                                     lambda: XGBoostCox(HORIZONS))
    assert len(trace) == 4 and trace["chosen"].sum() == 1
    chosen = trace[trace["chosen"] == 1].iloc[0]
    assert chosen["inner_cox_nloglik"] == trace["inner_cox_nloglik"].min()
    assert trace.loc[0, "max_depth"] == 2  # candidate 0: the fixed defaults
    assert set(params) == set(COX_TUNED_PARAMETERS) and 1 <= params["n_estimators"] <= 200
    again, _ = tune_cox_xgboost(X.iloc[train], y[train], TUNING, 7, lambda: XGBoostCox(HORIZONS))
    assert again == params  # deterministic
    model = XGBoostCox(HORIZONS, **params).fit(X.iloc[train], y[train])
    risk = model.predict(X.iloc[test])[:, 0]
    found = harrell_c(y["time"][test], y["event"][test], risk)
    oracle = harrell_c(y["time"][test], y["event"][test], truth[test])
    assert found > oracle - 0.05


def test_too_few_events_or_tuning_off_keep_the_fixed_parameters_and_say_so():
    X, y, _ = weibull_cohort(60, 4)
    spec = ModelSpec("xgboost", list(X.columns), lambda: XGBoostCox(HORIZONS), kind="xgboost")
    few = y.copy()
    few["event"][2:] = False  # two events, three inner folds
    fixed = {"max_depth": 2, "learning_rate": 0.05, "n_estimators": 250}
    params, row = tune_cox_model(spec, X, few, TUNING, fixed, 1, None)
    assert params is None and row["n_candidates"] == 0 and "2 event(s)" in row["note"]
    params, row = tune_cox_model(spec, X, y, TuningSettings(enabled=False), fixed, 1, None)
    assert params is None and row["note"] == "tuning disabled: fixed parameters"
    table = survival_tuning_table([{"scheme": "cv", "model": "xgboost", "repeat": 1, "fold": 1,
                                    "held_out_batch": "", **row}])
    assert table.loc[0, "max_depth"] == 2 and table.loc[0, "n_estimators"] == 250
