"""Discrimination, calibration and clinical-usefulness statistics for binary risk predictions.

AUC by the Mann-Whitney statistic (vectorised over bootstrap resamples); DeLong's test for two
correlated AUCs (DeLong 1988, in the fast midrank form of Sun & Xu 2014); average precision
(area under the precision-recall curve, step-wise as scikit-learn); sensitivity and specificity
at a threshold; decision-curve net benefit (Vickers & Elkin 2006); unpenalised logistic
recalibration by Newton-Raphson (scikit-learn has no offset term, which calibration-in-the-large
needs); and quantile calibration bins.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq
from scipy.stats import norm, rankdata
from sklearn.metrics import average_precision_score

N_CALIBRATION_BINS = 10
_PROB_CLIP = 1e-6

def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p):
    p = np.clip(np.asarray(p, dtype=float), _PROB_CLIP, 1.0 - _PROB_CLIP)
    return np.log(p / (1.0 - p))


def auc_score(y, p) -> float:
    """ROC AUC via the Mann-Whitney statistic (ties count one half); NaN with one class."""
    y = np.asarray(y, dtype=int)
    p = np.asarray(p, dtype=float)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(p)
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def bootstrap_auc(p_pos: np.ndarray, p_neg: np.ndarray, pos_idx, neg_idx) -> np.ndarray:
    """AUC for each stratified resample (rows of the index arrays)."""
    n_pos = pos_idx.shape[1]
    n_neg = neg_idx.shape[1]
    values = np.concatenate([p_pos[pos_idx], p_neg[neg_idx]], axis=1)
    ranks = rankdata(values, axis=1)
    return (ranks[:, :n_pos].sum(axis=1) - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def fit_logistic(x: np.ndarray, y: np.ndarray, offset: np.ndarray | None = None):
    """Unpenalised logistic regression y ~ a + b*x (+ offset) by Newton-Raphson.

    Returns (a, b), or (nan, nan) when it does not converge (e.g. complete separation).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    off = np.zeros_like(x) if offset is None else np.asarray(offset, dtype=float)
    centre = float(x.mean())
    scale = float(x.std())
    if not np.isfinite(scale) or scale == 0.0:
        return float("nan"), float("nan")
    design = np.column_stack([np.ones_like(x), (x - centre) / scale])
    beta = np.zeros(2)
    rate = min(max(y.mean(), 1e-6), 1 - 1e-6)
    beta[0] = np.log(rate / (1 - rate))

    def loglik(b):
        eta = design @ b + off
        return float(np.sum(y * eta - np.logaddexp(0.0, eta)))

    current = loglik(beta)
    for _ in range(100):
        mu = sigmoid(design @ beta + off)
        weights = mu * (1 - mu)
        grad = design.T @ (y - mu)
        hess = design.T @ (design * weights[:, None])
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            return float("nan"), float("nan")
        factor = 1.0
        while factor > 1e-8:
            trial = beta + factor * step
            value = loglik(trial)
            if value >= current - 1e-12:
                break
            factor /= 2
        beta, current = trial, value
        if np.max(np.abs(beta)) > 50:
            return float("nan"), float("nan")
        if np.max(np.abs(factor * step)) < 1e-10:
            break
    else:
        return float("nan"), float("nan")
    slope = beta[1] / scale
    intercept = beta[0] - slope * centre
    return float(intercept), float(slope)


def calibration_intercept_slope(y, p) -> tuple[float, float]:
    """Calibration-in-the-large and calibration slope (Van Calster et al.).

    slope: b in logit P(y=1) = a + b*logit(p) (unpenalised); intercept: a in
    logit P(y=1) = a + offset(logit(p)), i.e. with the slope fixed at 1. Perfect: (0, 1).
    """
    y = np.asarray(y, dtype=float)
    lp = _logit(p)
    if len(y) == 0 or y.min() == y.max():
        return float("nan"), float("nan")
    _, slope = fit_logistic(lp, y)
    observed = y.sum()

    def excess(a):
        return float(sigmoid(a + lp).sum() - observed)

    try:
        intercept = brentq(excess, -50.0, 50.0, xtol=1e-12)
    except ValueError:
        intercept = float("nan")
    return float(intercept), float(slope)


def calibration_bins(model: str, y: np.ndarray, p: np.ndarray, ids: np.ndarray) -> list[dict]:
    """10 quantile bins: samples sorted by probability (ties by sample_id), split evenly."""
    order = np.lexsort((ids, p))
    rows = []
    for number, chunk in enumerate(np.array_split(order, N_CALIBRATION_BINS), start=1):
        if len(chunk) == 0:
            continue
        rows.append(
            {
                "model": model,
                "bin": number,
                "mean_predicted": float(p[chunk].mean()),
                "observed_rate": float(y[chunk].mean()),
                "n": len(chunk),
            }
        )
    return rows


def average_precision(y, p) -> float:
    """Area under the precision-recall curve (step-wise average precision); NaN with one class."""
    y = np.asarray(y, dtype=int)
    if y.min() == y.max():
        return float("nan")
    return float(average_precision_score(y, np.asarray(p, dtype=float)))


def sensitivity_specificity(y, p, threshold: float) -> tuple[float, float]:
    """Sensitivity and specificity when ``p >= threshold`` is called positive."""
    y = np.asarray(y, dtype=int)
    called = np.asarray(p, dtype=float) >= threshold
    n_pos, n_neg = int(y.sum()), int((1 - y).sum())
    sensitivity = float(called[y == 1].sum() / n_pos) if n_pos else float("nan")
    specificity = float((~called[y == 0]).sum() / n_neg) if n_neg else float("nan")
    return sensitivity, specificity


def _placements(y: np.ndarray, p: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """AUC and DeLong's structural components (placement values) of one predictor."""
    pos, neg = p[y == 1], p[y == 0]
    m, n = len(pos), len(neg)
    combined = rankdata(np.concatenate([pos, neg]))
    rank_within_pos, rank_within_neg = rankdata(pos), rankdata(neg)
    auc = (combined[:m].sum() - m * (m + 1) / 2.0) / (m * n)
    v10 = (combined[:m] - rank_within_pos) / n  # per positive: share of negatives below it
    v01 = 1.0 - (combined[m:] - rank_within_neg) / m  # per negative: share of positives above
    return float(auc), v10, v01


def delong_test(y, p_a, p_b) -> dict:
    """DeLong's test of AUC(a) = AUC(b) for two predictions of the same samples.

    Returns auc_a, auc_b, diff (a - b), se of the difference, z and the two-sided p-value.
    Identical predictions give diff 0, se 0 and p-value 1.
    """
    y = np.asarray(y, dtype=int)
    if y.min() == y.max():
        raise ValueError("DeLong's test needs both classes")
    auc_a, v10_a, v01_a = _placements(y, np.asarray(p_a, dtype=float))
    auc_b, v10_b, v01_b = _placements(y, np.asarray(p_b, dtype=float))
    m, n = len(v10_a), len(v01_a)
    s10 = np.cov(np.vstack([v10_a, v10_b]), ddof=1) if m > 1 else np.zeros((2, 2))
    s01 = np.cov(np.vstack([v01_a, v01_b]), ddof=1) if n > 1 else np.zeros((2, 2))
    s = s10 / m + s01 / n
    variance = float(s[0, 0] + s[1, 1] - 2 * s[0, 1])
    diff = auc_a - auc_b
    se = float(np.sqrt(max(variance, 0.0)))
    if se < 1e-12:
        z, p_value = 0.0, 1.0 if abs(diff) < 1e-12 else 0.0
    else:
        z = diff / se
        p_value = float(2 * norm.sf(abs(z)))
    return {"auc_a": auc_a, "auc_b": auc_b, "diff": diff, "se": se, "z": float(z),
            "p_value": p_value}


def net_benefit(y, p, threshold: float) -> float:
    """Decision-curve net benefit of treating when ``p >= threshold``:
    TP/n - FP/n * threshold / (1 - threshold)."""
    y = np.asarray(y, dtype=int)
    treated = np.asarray(p, dtype=float) >= threshold
    n = len(y)
    true_pos = int((treated & (y == 1)).sum())
    false_pos = int((treated & (y == 0)).sum())
    return float(true_pos / n - false_pos / n * threshold / (1.0 - threshold))


def net_benefit_treat_all(y, threshold: float) -> float:
    """Net benefit of treating everyone (the decision curve's reference line)."""
    prevalence = float(np.mean(np.asarray(y, dtype=int)))
    return prevalence - (1.0 - prevalence) * threshold / (1.0 - threshold)
