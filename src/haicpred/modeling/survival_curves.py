"""Kaplan-Meier curves, numbers at risk, the log-rank test and median follow-up.

Written out by definition with numpy and scipy (a few lines each, checked in the tests against
scikit-survival and a textbook example) so that the tables carry exactly the columns the report
needs. Inputs: ``time`` (months, > 0) and ``event`` (1 = event, 0 = censored) per patient.

- :func:`kaplan_meier`: the product-limit estimate at every distinct observed time, with the
  numbers at risk, events, censorings and Greenwood's standard error;
- :func:`km_survival_at`: S(t) read off the step function at given times (NaN beyond the last
  observed time unless the curve has already reached 0: the estimate is undefined there);
- :func:`numbers_at_risk`: patients still under observation (time >= t) at given times;
- :func:`kaplan_meier_by_group`: the curves of several groups in one long table;
- :func:`logrank_test`: the k-group log-rank test (Mantel-Haenszel form, as R's ``survdiff``);
- :func:`median_follow_up`: median follow-up by the reverse Kaplan-Meier method (Schemper &
  Smith 1996): censoring is the "event", deaths are censored.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import chi2

__all__ = [
    "KM_COLUMNS",
    "kaplan_meier",
    "km_survival_at",
    "numbers_at_risk",
    "kaplan_meier_by_group",
    "logrank_test",
    "km_median",
    "median_follow_up",
]

KM_COLUMNS = ["time", "n_at_risk", "n_events", "n_censored", "survival", "std_err"]


def _as_time_event(time, event) -> tuple[np.ndarray, np.ndarray]:
    time = np.asarray(time, dtype=float)
    event = np.asarray(event)
    if time.ndim != 1 or time.shape != event.shape:
        raise ValueError(f"time and event must be 1-d arrays of the same length, got shapes "
                         f"{time.shape} and {event.shape}")
    bad_time = np.flatnonzero(~np.isfinite(time) | (time < 0))
    bad_event = np.flatnonzero(~np.isin(event, (0, 1)))
    if len(bad_time) or len(bad_event):
        raise ValueError(
            f"survival data: rows {bad_time[:5].tolist()} have a missing or negative time and rows "
            f"{bad_event[:5].tolist()} an event other than 0/1; clean them before estimating")
    return time, event.astype(bool)


def kaplan_meier(time, event) -> pd.DataFrame:
    """Product-limit estimate at every distinct observed time (events and censorings).

    ``survival`` is S just after the time; ``n_at_risk`` counts patients with time >= t;
    ``std_err`` is Greenwood's standard error of S (NaN once S reaches 0).
    """
    time, event = _as_time_event(time, event)
    times, inverse = np.unique(time, return_inverse=True)
    n_events = np.bincount(inverse, weights=event, minlength=len(times))
    n_total = np.bincount(inverse, minlength=len(times))
    n_at_risk = len(time) - np.concatenate([[0], np.cumsum(n_total)[:-1]])
    survival = np.cumprod(1.0 - n_events / n_at_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        greenwood = np.cumsum(n_events / (n_at_risk * (n_at_risk - n_events)))
        std_err = np.where(survival > 0, survival * np.sqrt(greenwood), np.nan)
    return pd.DataFrame({"time": times, "n_at_risk": n_at_risk.astype(int),
                         "n_events": n_events.astype(int),
                         "n_censored": (n_total - n_events).astype(int),
                         "survival": survival, "std_err": std_err}, columns=KM_COLUMNS)


def km_survival_at(time, event, at) -> np.ndarray:
    """Kaplan-Meier S(t) at each of ``at`` (right-continuous: events at t are counted).

    1 before the first time; NaN after the last observed time unless S is already 0 there (the
    curve says nothing about patients no longer followed).
    """
    curve = kaplan_meier(time, event)
    at = np.atleast_1d(np.asarray(at, dtype=float))
    if len(curve) == 0:
        return np.full(at.shape, np.nan)
    steps = np.concatenate([[1.0], curve["survival"].to_numpy()])
    values = steps[np.searchsorted(curve["time"].to_numpy(), at, side="right")]
    beyond = (at > curve["time"].iloc[-1]) & (steps[-1] > 0)
    return np.where(beyond, np.nan, values)


def numbers_at_risk(time, at) -> np.ndarray:
    """Patients still under observation (time >= t) at each of ``at``: the row printed under a
    Kaplan-Meier plot."""
    ordered = np.sort(np.asarray(time, dtype=float))
    at = np.atleast_1d(np.asarray(at, dtype=float))
    return (len(ordered) - np.searchsorted(ordered, at, side="left")).astype(int)


def kaplan_meier_by_group(time, event, groups) -> pd.DataFrame:
    """:func:`kaplan_meier` of each group (sorted group labels), stacked with a ``group`` column
    first."""
    time, event = _as_time_event(time, event)
    groups = np.asarray(groups)
    frames = [kaplan_meier(time[groups == g], event[groups == g]).assign(group=g)
              for g in np.unique(groups)]
    if not frames:
        return pd.DataFrame(columns=["group", *KM_COLUMNS])
    return pd.concat(frames, ignore_index=True)[["group", *KM_COLUMNS]]


def logrank_test(time, event, groups) -> dict:
    """Log-rank test that the survival of all groups is the same.

    At every distinct event time t with n patients at risk and d events, group g expects
    d * n_g / n events; with O and E the observed and expected totals and V the
    hypergeometric covariance, the statistic is (O-E)' V^- (O-E) on k-1 degrees of freedom.
    Returns ``groups`` (sorted labels), ``observed``, ``expected``, ``statistic``, ``df`` and
    ``p_value`` (NaN with fewer than two groups).
    """
    time, event = _as_time_event(time, event)
    groups = np.asarray(groups)
    labels = np.unique(groups)
    event_times = np.unique(time[event])
    # patients at risk and events per event time (rows) and group (columns)
    at_risk = np.column_stack([numbers_at_risk(time[groups == g], event_times) for g in labels])
    events = np.column_stack([
        np.bincount(np.searchsorted(event_times, time[(groups == g) & event]),
                    minlength=len(event_times)) for g in labels]).astype(float)
    observed = events.sum(axis=0)
    if len(labels) < 2:
        return {"groups": labels.tolist(), "observed": observed, "expected": observed.copy(),
                "statistic": float("nan"), "df": 0, "p_value": float("nan")}
    n = at_risk.sum(axis=1).astype(float)
    d = events.sum(axis=1)
    share = at_risk / n[:, None]
    expected = (d[:, None] * share).sum(axis=0)
    # hypergeometric covariance; zero where only one patient is at risk
    factor = np.divide(d * (n - d), n - 1, out=np.zeros_like(d), where=n > 1)
    covariance = (np.einsum("t,tg,gh->gh", factor, share, np.eye(len(labels)))
                  - np.einsum("t,tg,th->gh", factor, share, share))
    diff = (observed - expected)[:-1]
    statistic = float(diff @ np.linalg.pinv(covariance[:-1, :-1]) @ diff)
    df = len(labels) - 1
    return {"groups": labels.tolist(), "observed": observed, "expected": expected,
            "statistic": statistic, "df": df, "p_value": float(chi2.sf(statistic, df))}


def km_median(time, event) -> float:
    """Median of the Kaplan-Meier curve: the first time S(t) <= 0.5 (NaN if never reached)."""
    curve = kaplan_meier(time, event)
    reached = curve["time"].to_numpy()[curve["survival"].to_numpy() <= 0.5]
    return float(reached[0]) if len(reached) else float("nan")


def median_follow_up(time, event) -> float:
    """Median follow-up by reverse Kaplan-Meier: the censorings are the events, deaths censor
    (a patient who died would have been followed further)."""
    time, event = _as_time_event(time, event)
    return km_median(time, ~event)
