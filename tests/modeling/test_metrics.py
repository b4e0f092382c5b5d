"""Metrics against independent, by-definition computations and hand-worked examples."""

import itertools

import numpy as np
import pytest
from scipy.stats import norm

from haicpred.modeling.metrics import (auc_score, average_precision, delong_test, net_benefit,
                                       net_benefit_treat_all, sensitivity_specificity)


def _delong_by_definition(y, a, b):
    """DeLong 1988 straight from its definition: O(m*n) kernel, placement values, covariance."""
    y = np.asarray(y)
    pos = [i for i in range(len(y)) if y[i] == 1]
    neg = [i for i in range(len(y)) if y[i] == 0]

    def psi(x, z):
        return 1.0 if x > z else 0.5 if x == z else 0.0

    comps = []
    for p in (a, b):
        v10 = [np.mean([psi(p[i], p[j]) for j in neg]) for i in pos]
        v01 = [np.mean([psi(p[i], p[j]) for i in pos]) for j in neg]
        comps.append((np.mean(v10), v10, v01))
    (auc_a, v10a, v01a), (auc_b, v10b, v01b) = comps

    def cov(u, v):
        u, v = np.asarray(u), np.asarray(v)
        return float(((u - u.mean()) * (v - v.mean())).sum() / (len(u) - 1))

    var = ((cov(v10a, v10a) + cov(v10b, v10b) - 2 * cov(v10a, v10b)) / len(pos)
           + (cov(v01a, v01a) + cov(v01b, v01b) - 2 * cov(v01a, v01b)) / len(neg))
    z = (auc_a - auc_b) / np.sqrt(var)
    return auc_a, auc_b, z, 2 * norm.sf(abs(z))


def test_delong_matches_the_definition_with_ties():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 60)
    a = np.round(y * 0.8 + rng.normal(size=60), 1)  # rounding makes ties
    b = np.round(y * 0.3 + rng.normal(size=60), 1)
    result = delong_test(y, a, b)
    auc_a, auc_b, z, p = _delong_by_definition(y, a, b)
    assert result["auc_a"] == pytest.approx(auc_a) and result["auc_a"] == pytest.approx(
        auc_score(y, a))
    assert result["auc_b"] == pytest.approx(auc_b)
    assert result["z"] == pytest.approx(z, rel=1e-9)
    assert result["p_value"] == pytest.approx(p, rel=1e-9)
    assert 0 < result["p_value"] < 1


def test_delong_identical_predictions_and_one_class():
    y = np.array([0, 1, 0, 1, 1])
    p = np.array([0.1, 0.9, 0.4, 0.3, 0.8])
    result = delong_test(y, p, p)
    assert result["diff"] == 0 and result["p_value"] == 1.0
    with pytest.raises(ValueError, match="both classes"):
        delong_test(np.ones(4), p[:4], p[:4])


def test_delong_type_one_error_is_nominal_under_the_null():
    # two independent noisy copies of the same signal: equal true AUCs
    rng = np.random.default_rng(3)
    rejections = 0
    for _ in range(400):
        y = rng.integers(0, 2, 120)
        a = y + rng.normal(size=120) * 1.5
        b = y + rng.normal(size=120) * 1.5
        rejections += delong_test(y, a, b)["p_value"] < 0.05
    assert 0.02 < rejections / 400 < 0.09


def test_sensitivity_specificity_hand_example():
    y = [1, 1, 1, 0, 0, 0, 0]
    p = [0.9, 0.5, 0.2, 0.6, 0.5, 0.1, 0.0]
    # p >= 0.5 called positive: TP 2 of 3, TN 2 of 4 (0.6 and 0.5 are false positives)
    assert sensitivity_specificity(y, p, 0.5) == pytest.approx((2 / 3, 0.5))


def test_average_precision_hand_example():
    # sorted by p: 1 (P@1 = 1), 0, 1 (P@3 = 2/3), 0 -> AP = (1 + 2/3) / 2
    assert average_precision([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == pytest.approx(5 / 6)
    assert np.isnan(average_precision([1, 1], [0.2, 0.3]))


def test_net_benefit_hand_example():
    y = [1, 1, 0, 0, 0]
    p = [0.8, 0.3, 0.6, 0.2, 0.1]
    # threshold 0.25: treated 0.8 (TP), 0.3 (TP), 0.6 (FP): 2/5 - 1/5 * (0.25/0.75)
    assert net_benefit(y, p, 0.25) == pytest.approx(0.4 - 0.2 / 3)
    # treat all at 0.25: prevalence 0.4 - 0.6 * 1/3
    assert net_benefit_treat_all(y, 0.25) == pytest.approx(0.2)
    # a perfect model's net benefit is the prevalence at any threshold
    for t in (0.1, 0.5, 0.9):
        assert net_benefit(y, [1, 1, 0, 0, 0], t) == pytest.approx(0.4)


def test_auc_agrees_with_pairwise_count():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 30)
    p = np.round(rng.random(30), 1)
    pairs = [(i, j) for i, j in itertools.product(range(30), range(30)) if y[i] == 1 and y[j] == 0]
    expected = np.mean([1.0 if p[i] > p[j] else 0.5 if p[i] == p[j] else 0.0 for i, j in pairs])
    assert auc_score(y, p) == pytest.approx(expected)
