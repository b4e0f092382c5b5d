"""Kaplan-Meier, numbers at risk, log-rank and reverse Kaplan-Meier follow-up
(haicpred.modeling.survival_curves) against hand computation, a textbook example and
scikit-survival."""

from __future__ import annotations

import numpy as np
import pytest
from sksurv.compare import compare_survival
from sksurv.nonparametric import kaplan_meier_estimator
from sksurv.util import Surv

from haicpred.modeling.survival_curves import (kaplan_meier, kaplan_meier_by_group,
                                               km_survival_at, logrank_test, median_follow_up,
                                               numbers_at_risk)

# six patients: events at 1, 2, 3 and 5; censored at 2 (after the event there) and 4
TIME = [1.0, 2.0, 2.0, 3.0, 4.0, 5.0]
EVENT = [1, 1, 0, 1, 0, 1]

# Freireich et al. (1963) 6-MP vs placebo remission times in weeks (Gehan 1965); the log-rank
# test in Kleinbaum & Klein, Survival Analysis, ch. 2: O = 9 / 21, E = 19.25 / 10.75,
# chi-square 16.79 on 1 df
SIX_MP = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
SIX_MP_EVENT = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
PLACEBO = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]


def test_kaplan_meier_by_hand():
    curve = kaplan_meier(TIME, EVENT)
    assert curve["time"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert curve["n_at_risk"].tolist() == [6, 5, 3, 2, 1]
    assert curve["n_events"].tolist() == [1, 1, 1, 0, 1]
    assert curve["n_censored"].tolist() == [0, 1, 0, 1, 0]
    by_hand = [5 / 6, 5 / 6 * 4 / 5, 5 / 6 * 4 / 5 * 2 / 3, 5 / 6 * 4 / 5 * 2 / 3, 0.0]
    assert curve["survival"].tolist() == pytest.approx(by_hand, abs=1e-15)
    # Greenwood at t=1: S * sqrt(d / (n (n - d))) = 5/6 * sqrt(1/30)
    assert curve["std_err"].iloc[0] == pytest.approx(5 / 6 * np.sqrt(1 / 30))
    times, survival = kaplan_meier_estimator(np.array(EVENT, bool), np.array(TIME))
    assert np.allclose(curve["survival"], survival) and np.array_equal(curve["time"], times)


def test_survival_at_and_numbers_at_risk():
    assert km_survival_at(TIME, EVENT, [0.5, 1.0, 2.5, 4.5, 5.0, 9.0]).tolist() == pytest.approx(
        [1.0, 5 / 6, 4 / 6, 4 / 9, 0.0, 0.0])
    # past the last time with the curve above 0 the estimate is undefined
    beyond = km_survival_at([1.0, 2.0, 3.0], [1, 0, 0], [2.0, 4.0])
    assert np.isnan(beyond).tolist() == [False, True]
    assert numbers_at_risk(TIME, [0, 1, 2, 2.5, 5, 6]).tolist() == [6, 6, 5, 3, 1, 0]


def test_logrank_reproduces_the_textbook_example():
    time = np.array(SIX_MP + PLACEBO, dtype=float)
    event = np.array(SIX_MP_EVENT + [1] * len(PLACEBO))
    group = np.array(["6-MP"] * 21 + ["placebo"] * 21)
    result = logrank_test(time, event, group)
    assert result["groups"] == ["6-MP", "placebo"]
    assert result["observed"].tolist() == [9, 21]
    assert result["expected"] == pytest.approx([19.25, 10.75], abs=0.005)
    assert round(result["statistic"], 2) == 16.79 and result["df"] == 1
    assert result["p_value"] == pytest.approx(4.17e-5, rel=0.01)


def test_logrank_agrees_with_scikit_survival_for_three_groups_with_ties():
    rng = np.random.default_rng(2)
    group = rng.integers(0, 3, 300)
    time = np.ceil(rng.exponential(20 / (1 + 0.3 * group)))
    event = (rng.random(300) < 0.7).astype(int)
    ours = logrank_test(time, event, group)
    chisq, p_value, table, _ = compare_survival(Surv.from_arrays(event.astype(bool), time), group,
                                             return_stats=True)
    assert ours["statistic"] == pytest.approx(chisq, rel=1e-10)
    assert ours["p_value"] == pytest.approx(p_value, rel=1e-8)
    assert ours["expected"] == pytest.approx(table["expected"].to_numpy(), rel=1e-12)


def test_median_follow_up_by_reverse_kaplan_meier():
    # reverse: censorings at 2 and 4 are the events; at 2: 5 at risk -> 4/5; at 4: 2 at risk ->
    # 4/5 * 1/2 = 0.4 <= 0.5, so the median follow-up is 4
    assert median_follow_up(TIME, EVENT) == 4.0
    # a cohort where nobody is censored has no follow-up estimate to give
    assert np.isnan(median_follow_up([1.0, 2.0], [1, 1]))


def test_kaplan_meier_by_group_stacks_the_curves():
    table = kaplan_meier_by_group(TIME, EVENT, ["a", "a", "b", "b", "a", "b"])
    assert table.columns[0] == "group" and table["group"].tolist() == ["a"] * 3 + ["b"] * 3
    a = kaplan_meier([1.0, 2.0, 4.0], [1, 1, 0])
    assert table[table["group"] == "a"]["survival"].tolist() == a["survival"].tolist()
