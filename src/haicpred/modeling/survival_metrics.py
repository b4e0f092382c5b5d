"""Discrimination, accuracy and calibration of survival predictions, with paired bootstrap CIs:
the time-to-event analogue of :mod:`haicpred.modeling.metrics` + :mod:`~.evaluation`.

Inputs per patient: ``time`` (months, > 0), ``event`` (1 = event, 0 = censored), a ``risk``
per model (higher = worse, e.g. the Cox linear predictor) and ``surv`` per model (patients x
horizons: predicted S(t) at ``horizons``). Point estimates come from scikit-survival:

- Harrell's C (:func:`harrell_c`, ``concordance_index_censored``): pairs where the earlier time
  is an event (an event and a censoring at the same time count too, two events at the same time
  do not); risks within 1e-8 count one half;
- Uno's C (:func:`uno_c`, ``concordance_index_ipcw``) truncated at tau = the last evaluable
  horizon, with the censoring distribution G (Kaplan-Meier of the censoring) estimated on the
  training set when one is given, else on the evaluation set;
- cumulative/dynamic AUC (:func:`time_dependent_auc`, ``cumulative_dynamic_auc``) per horizon
  and the integrated Brier score (:func:`integrated_brier`, ``integrated_brier_score``) over the
  evaluable horizons;
- calibration (:func:`calibration_by_risk_decile`): mean predicted S(h) against the
  Kaplan-Meier S(h) in each risk decile.

Horizons scikit-survival cannot evaluate (outside [first, last) follow-up time of the
evaluation set, or at or past the end of the training follow-up that G is estimated on) are
dropped from Uno's C, the AUC and the IBS (their AUC is NaN) and :func:`evaluable_horizons`
says why in a note that goes into the ``note`` column. For the IPCW metrics the evaluation
follow-up is censored at the end of the follow-up G is estimated on (training set, else this
set): G is unknown after it and can be 0 at it, where scikit-survival would raise on an event;
no metric at an evaluable horizon depends on what happens from then on.

Bootstrap (:func:`survival_metric_tables`): ``n_bootstrap`` resamples stratified on the event
indicator (events and censored patients resampled separately, numpy ``default_rng(seed)``),
the same resamples for every model, so the CI of the C difference to the reference model is a
paired bootstrap CI. A resample is held as multiplicity weights, and every statistic is a
weighted sum over patient pairs (concordance, AUC) or patients (Brier), computed for all
resamples at once: pairs through risk-ordered cumulative sums (a Fenwick tree for the
concordance), O(resamples x n log n) rather than over n^2 pairs. G is held at its
full-sample estimate within the resamples (the IPCW statistics of a resample equal
scikit-survival's with the full sample as the "training" set; tested).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sksurv.metrics import (concordance_index_censored, concordance_index_ipcw,
                            cumulative_dynamic_auc, integrated_brier_score)
from sksurv.nonparametric import CensoringDistributionEstimator
from sksurv.util import Surv

from haicpred.modeling.evaluation import bootstrap_indices, percentile_interval
from haicpred.modeling.survival_curves import km_survival_at

__all__ = [
    "RISK_TIE_TOLERANCE",
    "N_RISK_BINS",
    "SURVIVAL_CALIBRATION_COLUMNS",
    "SURVIVAL_CI_METHOD",
    "survival_metric_columns",
    "check_survival_data",
    "horizon_label",
    "evaluable_horizons",
    "harrell_c",
    "uno_c",
    "time_dependent_auc",
    "integrated_brier",
    "calibration_by_risk_decile",
    "bootstrap_weights",
    "bootstrap_replicates",
    "survival_metric_tables",
]

RISK_TIE_TOLERANCE = 1e-8  # scikit-survival's tied_tol: risks this close count one half
N_RISK_BINS = 10
SURVIVAL_CALIBRATION_COLUMNS = ["model", "horizon", "bin", "mean_predicted", "observed_km", "n"]
SURVIVAL_CI_METHOD = (
    "95% CIs: percentile intervals over {B} bootstrap resamples stratified on the event "
    "indicator; the same resamples for every model, so the CI of the C-index difference to "
    "{reference} is a paired bootstrap CI; the censoring distribution of the IPCW statistics "
    "(Uno's C, time-dependent AUC, IBS) is held at its full-sample estimate"
)


def horizon_label(horizon: float) -> str:
    """12.0 -> '12', 6.5 -> '6.5': the horizon as it appears in column names (auc_12m)."""
    return f"{float(horizon):g}"


def survival_metric_columns(horizons) -> list[str]:
    """Columns of the survival metrics table for these horizons."""
    auc = [f"auc_{horizon_label(h)}m{suffix}" for h in horizons for suffix in ("", "_low", "_high")]
    return ["model", "n", "n_events", "c_index", "c_index_low", "c_index_high",
            "c_index_diff_vs_xgboost", "c_index_diff_low", "c_index_diff_high",
            "uno_c", "uno_c_low", "uno_c_high", *auc, "ibs", "ibs_low", "ibs_high", "note"]


def check_survival_data(time, event, what: str = "evaluation set") -> tuple[np.ndarray, np.ndarray]:
    """(time as float, event as bool), or ValueError naming the offending rows."""
    time = np.asarray(time, dtype=float)
    event = np.asarray(event)
    if time.ndim != 1 or time.shape != event.shape:
        raise ValueError(f"{what}: time and event must be 1-d arrays of the same length, got "
                         f"shapes {time.shape} and {event.shape}")
    bad_time = np.flatnonzero(~np.isfinite(time) | (time <= 0))
    bad_event = np.flatnonzero(~np.isin(event, (0, 1)))
    problems = []
    if len(bad_time):
        problems.append(f"rows {bad_time[:10].tolist()} have a missing, zero or negative time")
    if len(bad_event):
        problems.append(f"rows {bad_event[:10].tolist()} have an event other than 0/1")
    if problems:
        raise ValueError(f"{what}: " + "; ".join(problems)
                         + ": exclude these patients before computing survival metrics")
    if not event.astype(bool).any():
        raise ValueError(f"{what}: no events, so no survival metric can be computed")
    return time, event.astype(bool)


def _check_prediction(values, n: int, what: str, ndim: int) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    if values.ndim != ndim or values.shape[0] != n or not np.isfinite(values).all():
        raise ValueError(f"{what}: expected finite values of {ndim} dimension(s) for {n} "
                         f"patients, got shape {values.shape}")
    return values


def evaluable_horizons(time, horizons, train_time=None,
                       train_event=None) -> tuple[np.ndarray, list[str]]:
    """Which horizons the IPCW metrics can use (bool mask) and a note for each that cannot.

    A horizon needs first follow-up <= h < last follow-up of the evaluation set and h before the
    end of the training follow-up (where G is estimated).
    """
    time = np.asarray(time, dtype=float)
    horizons = np.asarray(horizons, dtype=float)
    end = float(time.max())
    if train_time is not None:  # G is unknown after the end of the training follow-up
        end = min(end, float(check_survival_data(train_time, train_event, "training set")[0].max()))
    ok = (horizons >= time.min()) & (horizons < end)
    notes = [f"horizon {horizon_label(h)} m outside the follow-up [{time.min():g}, {end:g}) "
             "months: its AUC is NaN and it is left out of Uno's C and the IBS"
             for h in horizons[~ok]]
    return ok, notes


def _ipcw_data(time, event, train_time, train_event):
    """(structured train, structured test) for scikit-survival, the test censored at the end of
    the follow-up G is estimated on (unknown after, possibly 0 at it; no evaluable horizon
    reaches it)."""
    time, event = check_survival_data(time, event)
    if train_time is None:
        train_time, train_event = time, event
    train_time, train_event = check_survival_data(train_time, train_event, "training set")
    end = float(train_time.max())
    cut_event = event & (time < end)
    return (Surv.from_arrays(train_event, train_time),
            Surv.from_arrays(cut_event, np.minimum(time, end)))


def harrell_c(time, event, risk) -> float:
    """Harrell's C of ``risk`` (higher = earlier event); tied risks count one half."""
    time, event = check_survival_data(time, event)
    risk = _check_prediction(risk, len(time), "risk", 1)
    return float(concordance_index_censored(event, time, risk, tied_tol=RISK_TIE_TOLERANCE)[0])


def uno_c(time, event, risk, tau: float, train_time=None, train_event=None) -> float:
    """Uno's C truncated at ``tau`` (only events before tau are the earlier of a pair), IPCW
    with G from the training set (the evaluation set when none is given)."""
    train, test = _ipcw_data(time, event, train_time, train_event)
    risk = _check_prediction(risk, len(test), "risk", 1)
    return float(concordance_index_ipcw(train, test, risk, tau=float(tau),
                                        tied_tol=RISK_TIE_TOLERANCE)[0])


def time_dependent_auc(time, event, risk, horizons, train_time=None,
                       train_event=None) -> np.ndarray:
    """Cumulative/dynamic AUC at each horizon (cases: event by h; controls: still event-free
    after h); NaN at horizons :func:`evaluable_horizons` rejects or without a case."""
    train, test = _ipcw_data(time, event, train_time, train_event)
    risk = _check_prediction(risk, len(test), "risk", 1)
    horizons = np.asarray(horizons, dtype=float)
    ok, _ = evaluable_horizons(time, horizons, train_time, train_event)
    has_case = np.array([(test["event"] & (test["time"] <= h)).any() for h in horizons])
    out = np.full(len(horizons), np.nan)
    use = ok & has_case
    if use.any():
        out[use] = cumulative_dynamic_auc(train, test, risk, horizons[use],
                                          tied_tol=RISK_TIE_TOLERANCE)[0]
    return out


def integrated_brier(time, event, surv, horizons, train_time=None, train_event=None) -> float:
    """Integrated Brier score (IPCW, Graf 1999) over the evaluable horizons, trapezoid rule
    divided by their span; NaN with fewer than two evaluable horizons."""
    train, test = _ipcw_data(time, event, train_time, train_event)
    horizons = np.asarray(horizons, dtype=float)
    surv = _check_prediction(surv, len(test), "surv", 2)
    ok, _ = evaluable_horizons(time, horizons, train_time, train_event)
    if ok.sum() < 2:
        return float("nan")
    return float(integrated_brier_score(train, test, surv[:, ok], horizons[ok]))


def calibration_by_risk_decile(model: str, time, event, risk, surv, horizons,
                               ids=None) -> list[dict]:
    """Per horizon and risk decile (bin 1 = lowest risk; patients sorted by risk, ties by
    ``ids``, split evenly): mean predicted S(h) and the Kaplan-Meier S(h) of the bin (NaN once
    h is past the bin's last follow-up)."""
    time, event = check_survival_data(time, event)
    risk = _check_prediction(risk, len(time), "risk", 1)
    surv = _check_prediction(surv, len(time), "surv", 2)
    ids = np.arange(len(time)) if ids is None else np.asarray(ids)
    order = np.lexsort((ids, risk))
    rows = []
    for column, horizon in enumerate(np.asarray(horizons, dtype=float)):
        for number, chunk in enumerate(np.array_split(order, N_RISK_BINS), start=1):
            if len(chunk) == 0:
                continue
            rows.append({"model": model, "horizon": float(horizon), "bin": number,
                         "mean_predicted": float(surv[chunk, column].mean()),
                         "observed_km": float(
                             km_survival_at(time[chunk], event[chunk], horizon)[0]),
                         "n": len(chunk)})
    return rows


def bootstrap_weights(event, n_bootstrap: int, rng) -> np.ndarray:
    """Resamples stratified on ``event`` as multiplicity weights (resamples x patients): how
    many times each patient is drawn."""
    event = np.asarray(event, dtype=int)
    pos, neg = np.flatnonzero(event == 1), np.flatnonzero(event == 0)
    pos_idx, neg_idx = bootstrap_indices(event, n_bootstrap, rng)
    drawn = np.concatenate([pos[pos_idx], neg[neg_idx]], axis=1)
    n = len(event)
    flat = (np.arange(n_bootstrap)[:, None] * n + drawn).ravel()
    return np.bincount(flat, minlength=n_bootstrap * n).reshape(n_bootstrap, n).astype(float)


def _risk_slots(sorted_risk: np.ndarray, risk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each risk, how many of ``sorted_risk`` are lower beyond the tie tolerance, and how
    many are lower or tied: the ones below count 1, those in between (ties) 1/2."""
    return (np.searchsorted(sorted_risk, risk - RISK_TIE_TOLERANCE, side="left"),
            np.searchsorted(sorted_risk, risk + RISK_TIE_TOLERANCE, side="right"))


def _bootstrap_concordance(weights, time, event, risk, row_weight) -> tuple:
    """Per resample: weighted sums over comparable pairs (i an event, j later, or censored at
    the same time) of the score (1 if risk_i is higher, 1/2 if tied) and of 1, for Harrell's C
    (row weight 1) and Uno's C (row weight ``row_weight``). Patients enter a Fenwick tree over
    risk order from the latest time back, so each event's later patients are already in it:
    O(n log n) vector operations, each on one value per resample."""
    n_resamples, n = weights.shape
    by_patient = np.ascontiguousarray(weights.T)
    order = np.argsort(risk, kind="stable")
    slot = np.empty(n, dtype=int)
    slot[order] = np.arange(n)
    lower, lower_or_tied = _risk_slots(risk[order], risk)
    tree = np.zeros((n + 1, n_resamples))  # Fenwick tree: row k sums a range of risk slots
    in_tree = np.zeros(n_resamples)
    num_h, den_h, num_u, den_u = (np.zeros(n_resamples) for _ in range(4))

    def add(j):
        k = slot[j] + 1
        while k <= n:
            tree[k] += by_patient[j]
            k += k & -k

    def below(k):  # weight of the patients in the k lowest risk slots
        total = np.zeros(n_resamples)
        while k > 0:
            total += tree[k]
            k -= k & -k
        return total

    by_time = np.argsort(-time, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(time[by_time]) != 0])
    for group in np.split(by_time, starts[1:]):
        events = group[event[group]]
        for j in group[~event[group]]:  # censored at this time: comparable to its events
            add(j)
            in_tree += by_patient[j]
        for i in events:
            lo = below(lower[i])
            score = by_patient[i] * (lo + 0.5 * (below(lower_or_tied[i]) - lo))
            pairs = by_patient[i] * in_tree
            num_h += score
            den_h += pairs
            num_u += row_weight[i] * score
            den_u += row_weight[i] * pairs
        for j in events:
            add(j)
            in_tree += by_patient[j]
    return num_h, den_h, num_u, den_u


class _Resamples:
    """What the bootstrap statistics of every model share: the resample weights, the
    censoring distribution and the IPCW weights."""

    def __init__(self, time, event, horizons, weights, train_time, train_event):
        self.time, self.event = check_survival_data(time, event)
        self.horizons = np.asarray(horizons, dtype=float)
        self.weights = np.asarray(weights, dtype=float)
        self.ok, _ = evaluable_horizons(self.time, self.horizons, train_time, train_event)
        train, self.test = _ipcw_data(self.time, self.event, train_time, train_event)
        self.censoring = CensoringDistributionEstimator().fit(train)
        self.ipcw = self.censoring.predict_ipcw(self.test)  # 1/G(T_i) for events, else 0
        tau = self.horizons[self.ok][-1] if self.ok.any() else -np.inf
        # Uno's C: events before tau, weighted 1/G(T_i)^2
        self.uno_rows = np.where(self.test["time"] < tau, self.ipcw ** 2, 0.0)

    def concordance(self, risk) -> tuple[np.ndarray, np.ndarray]:
        """(Harrell's C, Uno's C) per resample."""
        num_h, den_h, num_u, den_u = _bootstrap_concordance(self.weights, self.time, self.event,
                                                            risk, self.uno_rows)
        with np.errstate(invalid="ignore", divide="ignore"):
            return num_h / den_h, num_u / den_u


def _bootstrap_auc(weights, time, event, ipcw, risk, horizon) -> np.ndarray:
    """Cumulative/dynamic AUC at ``horizon`` per resample (IPCW-weighted cases): for each case,
    the resampled controls below its risk, from cumulative sums over the controls in risk
    order."""
    cases = np.flatnonzero(event & (time <= horizon))
    controls = np.flatnonzero(time > horizon)
    order = np.argsort(risk[controls], kind="stable")
    cumulative = np.concatenate([np.zeros((len(weights), 1)),
                                 np.cumsum(weights[:, controls[order]], axis=1)], axis=1)
    lower, lower_or_tied = _risk_slots(risk[controls][order], risk[cases])
    scored = cumulative[:, lower] + 0.5 * (cumulative[:, lower_or_tied] - cumulative[:, lower])
    case_weight = weights[:, cases] * ipcw[cases]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (case_weight * scored).sum(axis=1) / (case_weight.sum(axis=1) * cumulative[:, -1])


def _brier_terms(time, event, surv, horizons, censoring) -> np.ndarray:
    """Per patient and horizon, the IPCW Brier term (as scikit-survival's brier_score)."""
    g_time = censoring.predict_proba(time)
    g_time[g_time == 0] = np.inf
    g_horizon = censoring.predict_proba(horizons)
    g_horizon[g_horizon == 0] = np.inf
    case = event[:, None] & (time[:, None] <= horizons[None, :])
    control = time[:, None] > horizons[None, :]
    return (surv ** 2 * case / g_time[:, None] + (1 - surv) ** 2 * control / g_horizon[None, :])


def _interval(values) -> tuple[float, float]:
    values = np.asarray(values, dtype=float)
    return percentile_interval(values[np.isfinite(values)])


def bootstrap_replicates(time, event, risk, surv, horizons, weights, train_time=None,
                         train_event=None) -> dict:
    """One model's statistics on every resample (rows of ``weights``, from
    :func:`bootstrap_weights`): ``c_index`` and ``uno_c`` (resamples,), ``auc`` (resamples x
    horizons; NaN columns at horizons without an AUC) and ``ibs`` (resamples,; NaN without
    ``surv`` or two evaluable horizons). Uno's C is truncated at the last evaluable horizon."""
    shared = _Resamples(time, event, horizons, weights, train_time, train_event)
    return _replicates(shared, _check_prediction(risk, len(shared.time), "risk", 1), surv)


def _replicates(shared: _Resamples, risk, surv) -> dict:
    test, horizons, ok, weights = shared.test, shared.horizons, shared.ok, shared.weights
    c_index, uno = shared.concordance(risk)
    auc = np.full((len(weights), len(horizons)), np.nan)
    for column, horizon in enumerate(horizons):
        if ok[column] and (test["event"] & (test["time"] <= horizon)).any():
            auc[:, column] = _bootstrap_auc(weights, test["time"], test["event"], shared.ipcw,
                                            risk, horizon)
    ibs = np.full(len(weights), np.nan)
    if surv is not None and ok.sum() >= 2:
        surv = _check_prediction(surv, len(shared.time), "surv", 2)
        evaluable = horizons[ok]
        terms = _brier_terms(test["time"], test["event"], surv[:, ok], evaluable,
                             shared.censoring)
        brier = weights @ terms / len(shared.time)  # resamples x evaluable horizons
        ibs = np.trapezoid(brier, evaluable, axis=1) / (evaluable[-1] - evaluable[0])
    return {"c_index": c_index, "uno_c": uno, "auc": auc, "ibs": ibs}


def survival_metric_tables(time, event, risks: dict, survs: dict, horizons, n_bootstrap: int,
                           seed: int, train_time=None, train_event=None, ids=None
                           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(metrics, calibration) frames: one metrics row per model, the first model of ``risks``
    being the reference of ``c_index_diff_*`` (``xgboost`` in the workflow; NaN on its own row).

    ``risks``: model -> risk per patient; ``survs``: model -> patients x horizons S(h) (a model
    missing from it gets NaN IBS and no calibration rows); ``train_time``/``train_event``: the
    data the censoring distribution is estimated on (default: this set); ``ids``: break ties of
    risk in the calibration bins. Deterministic for a given ``seed``; columns
    :func:`survival_metric_columns`.
    """
    time, event = check_survival_data(time, event)
    horizons = np.asarray(horizons, dtype=float)
    if horizons.ndim != 1 or len(horizons) == 0 or np.any(np.diff(horizons) <= 0):
        raise ValueError(f"horizons must be increasing, got {horizons.tolist()}")
    if not risks:
        raise ValueError("survival_metric_tables needs at least one model's risk")
    ok, notes = evaluable_horizons(time, horizons, train_time, train_event)
    tau = float(horizons[ok][-1]) if ok.any() else float("nan")
    if ok.any() and not ok[-1]:
        notes.append(f"Uno's C truncated at {horizon_label(tau)} m, the last evaluable horizon")
    weights = bootstrap_weights(event, n_bootstrap, np.random.default_rng(seed))
    shared = _Resamples(time, event, horizons, weights, train_time, train_event)
    reference = next(iter(risks))
    boot, metric_rows, calibration_rows = {}, [], []
    for name, risk in risks.items():
        risk = _check_prediction(risk, len(time), f"risk of {name}", 1)
        surv = survs.get(name)
        surv = None if surv is None else _check_prediction(surv, len(time), f"surv of {name}", 2)
        boot[name] = _replicates(shared, risk, surv)
        auc = time_dependent_auc(time, event, risk, horizons, train_time, train_event)
        notes_here = [f"no event by {horizon_label(h)} m: its AUC is NaN"
                      for h in horizons[ok & ~np.isfinite(auc)]]
        row = {"model": name, "n": len(time), "n_events": int(event.sum()),
               "c_index": harrell_c(time, event, risk)}
        row["c_index_low"], row["c_index_high"] = _interval(boot[name]["c_index"])
        if name == reference:
            row["c_index_diff_vs_xgboost"] = row["c_index_diff_low"] = np.nan
            row["c_index_diff_high"] = np.nan
        else:
            row["c_index_diff_vs_xgboost"] = row["c_index"] - metric_rows[0]["c_index"]
            row["c_index_diff_low"], row["c_index_diff_high"] = _interval(
                boot[name]["c_index"] - boot[reference]["c_index"])
        row["uno_c"] = (uno_c(time, event, risk, tau, train_time, train_event)
                        if ok.any() else np.nan)
        row["uno_c_low"], row["uno_c_high"] = _interval(boot[name]["uno_c"])
        for column, horizon in enumerate(horizons):
            label = f"auc_{horizon_label(horizon)}m"
            row[label] = float(auc[column])
            row[f"{label}_low"], row[f"{label}_high"] = _interval(boot[name]["auc"][:, column])
        model_notes = notes + notes_here
        if surv is None or ok.sum() < 2:
            row["ibs"] = np.nan
            model_notes.append("no IBS: " + ("no survival probabilities" if surv is None
                                             else "fewer than two evaluable horizons"))
        else:
            row["ibs"] = integrated_brier(time, event, surv, horizons, train_time, train_event)
        if surv is not None:
            calibration_rows += calibration_by_risk_decile(name, time, event, risk, surv,
                                                           horizons, ids)
        row["ibs_low"], row["ibs_high"] = _interval(boot[name]["ibs"])
        row["note"] = "; ".join(model_notes)
        metric_rows.append(row)
    metrics = pd.DataFrame(metric_rows, columns=survival_metric_columns(horizons))
    metrics[["n", "n_events"]] = metrics[["n", "n_events"]].astype("Int64")
    return metrics, pd.DataFrame(calibration_rows, columns=SURVIVAL_CALIBRATION_COLUMNS)
