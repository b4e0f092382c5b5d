"""Survival estimators with real XGBoost and scikit-survival on simulated proportional-hazards
data with a known linear predictor (no mocks)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import train_test_split
from sksurv.linear_model import CoxPHSurvivalAnalysis

from haicpred.modeling.survival_estimators import (PenalisedCox, XGBoostCox,
                                                   breslow_cumulative_hazard,
                                                   survival_at)
from haicpred.modeling.survival_metrics import harrell_c
from survival_helpers import HORIZONS, weibull_cohort

def breslow_by_definition(time, event, risk, t):
    """H0(t) = sum over distinct event times s <= t of d(s) / sum_{j: t_j >= s} exp(risk_j)."""
    total = 0.0
    for s in sorted(set(time[event.astype(bool)])):
        if s <= t:
            deaths = np.sum((time == s) & event.astype(bool))
            total += deaths / np.sum(np.exp(risk[time >= s]))
    return total


def test_breslow_matches_its_definition_with_tied_times():
    time = np.array([2.0, 3.0, 3.0, 3.0, 5.0, 7.0, 7.0, 9.0, 11.0, 11.0])
    event = np.array([1, 1, 1, 0, 1, 0, 1, 1, 0, 1])
    risk = np.array([0.3, -0.2, 1.1, 0.0, -0.7, 0.4, 0.9, -1.2, 0.5, 0.2])
    times, hazard = breslow_cumulative_hazard(time, event, risk)
    assert list(times) == [2.0, 3.0, 5.0, 7.0, 9.0, 11.0]  # 3.0 and 11.0 have ties
    for t in (1.0, 2.0, 3.0, 4.5, 7.0, 10.0, 11.0, 20.0):
        expected = breslow_by_definition(time, event, risk, t)
        got = survival_at(times, hazard, np.array([0.0]), [t])[0, 0]
        assert got == pytest.approx(np.exp(-expected), rel=1e-12, abs=1e-15)


def test_survival_equals_scikit_survivals_breslow_for_its_cox_fit():
    X, y, _ = weibull_cohort(400, 5)
    X = X.fillna(X.median())
    cox = CoxPHSurvivalAnalysis(alpha=0.1, ties="breslow").fit(X, y)
    risk = cox.predict(X)
    times, hazard = breslow_cumulative_hazard(y["time"], y["event"], risk)
    ours = survival_at(times, hazard, risk[:25], HORIZONS)
    theirs = np.array([[fn(h) for h in HORIZONS]
                       for fn in cox.predict_survival_function(X.iloc[:25])])
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("make", [lambda: XGBoostCox(HORIZONS, n_estimators=150),
                                  lambda: PenalisedCox(HORIZONS)])
def test_both_models_recover_the_planted_risk_on_held_out_patients(make):
    X, y, truth = weibull_cohort(800, 11)
    train, test = train_test_split(np.arange(len(y)), test_size=0.4, random_state=1,
                                   stratify=y["event"])
    model = make().fit(X.iloc[train], y[train])
    predicted = model.predict(X.iloc[test])
    assert predicted.shape == (len(test), 1 + len(HORIZONS))
    risk, surv = predicted[:, 0], predicted[:, 1:]
    oracle = harrell_c(y["time"][test], y["event"][test], truth[test])
    found = harrell_c(y["time"][test], y["event"][test], risk)
    assert found > 0.6 and found > oracle - 0.05
    # survival probabilities: in [0, 1], falling with time, and with risk at every horizon
    assert ((surv >= 0) & (surv <= 1)).all()
    assert (np.diff(surv, axis=1) <= 0).all()
    order = np.argsort(risk)
    assert (np.diff(surv[order], axis=0) <= 1e-12).all()


def test_penalised_cox_chooses_its_penalty_inside_the_training_set_only():
    X, y, _ = weibull_cohort(300, 2)
    first = PenalisedCox(HORIZONS).fit(X, y)
    again = PenalisedCox(HORIZONS).fit(X, y)
    assert first.alpha_ == again.alpha_  # deterministic
    fixed = PenalisedCox(HORIZONS, alphas=(first.alpha_,)).fit(X, y)
    np.testing.assert_allclose(fixed.predict(X), first.predict(X))
