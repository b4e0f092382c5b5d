"""Risk groups of a survival model's out-of-fold risk, with their Kaplan-Meier curves and the
log-rank test across them (issue 15 point 5; ``km_risk_groups.tsv``).

From ``oof_predictions.tsv`` of a survival run (``sample_id, model, repeat, fold, time, event,
risk, surv_<h>m``) each patient's out-of-fold risk of one model (``xgboost``) is averaged over
the repeats: the risk the model gave the patient when it was not fitted on them, as the metrics
use it. The risks are cut by the rule of config ``predict.risk_groups``:

- ``tertiles`` (default): c1, c2 = the 1/3 and 2/3 quantiles of these risks
  (:func:`haicpred.modeling.scoring.risk_group_cutoffs`);
- ``[c1, c2]``: two increasing cut-offs on the risk scale (the model's log relative hazard).

``low``: risk < c1; ``intermediate``: c1 <= risk < c2; ``high``: risk >= c2
(:func:`haicpred.modeling.scoring.assign_risk_groups`). Higher risk = earlier event, so ``low``
is the group with the best expected survival.

The table (:data:`KM_RISK_GROUP_COLUMNS`, one row per group and distinct observed time of the
group, groups in the order low, intermediate, high, then by time) holds each group's
Kaplan-Meier curve (:func:`haicpred.modeling.survival_curves.kaplan_meier`: numbers at risk,
events, censorings, S(t), Greenwood's standard error) with a 95% log-log confidence interval,
the group's size and events, the two cut-offs and the rule, and the k-group log-rank test
(:func:`haicpred.modeling.survival_curves.logrank_test`; chi2, df, p; the same on every row).
A group without patients has no rows. The numbers at risk at any time t are read off the table:
those of the group's first row with time >= t (0 when there is none).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from haicpred.io.errors import InputError, Problem
from haicpred.modeling.scoring import assign_risk_groups, risk_group_cutoffs
from haicpred.modeling.survival_curves import KM_COLUMNS, kaplan_meier, logrank_test

__all__ = ["KM_RISK_GROUP_COLUMNS", "RISK_GROUP_MODEL", "averaged_oof_risk",
           "survival_risk_group_cutoffs", "km_risk_groups", "km_confidence_interval"]

OOF_FILE = "oof_predictions.tsv"
RISK_GROUP_MODEL = "xgboost"
KM_RISK_GROUP_COLUMNS = [
    "group", *KM_COLUMNS, "survival_low", "survival_high", "group_n", "group_events",
    "cutoff_1", "cutoff_2", "rule", "model", "logrank_chi2", "logrank_df", "logrank_p",
]
_Z95 = float(norm.ppf(0.975))


def _numbers(table: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float)


def averaged_oof_risk(oof: pd.DataFrame, model: str = RISK_GROUP_MODEL,
                      file: str = OOF_FILE) -> pd.DataFrame:
    """Per patient of ``model`` (sorted by sample_id): ``sample_id, time, event, risk`` with
    the risk averaged over the repeats. Raises InputError naming every unusable row."""
    required = ["sample_id", "model", "time", "event", "risk"]
    absent = [c for c in required if c not in oof.columns]
    if absent:
        raise InputError(Problem(
            file, "header", f"column(s) {', '.join(absent)} missing: not the out-of-fold table "
            "of a survival run", "pass the oof_predictions.tsv of a run with endpoint kind "
            "survival"))
    rows = oof[oof["model"].astype(str) == model]
    if rows.empty:
        raise InputError(Problem(
            file, "column model", f"no rows of model {model!r}",
            "risk groups are cut on the xgboost model's out-of-fold risk: pass the table of a "
            "run that cross-validated it"))
    time, event, risk = (_numbers(rows, c) for c in ("time", "event", "risk"))
    problems = []
    for column, bad, what in (
            ("time", ~np.isfinite(time) | (time <= 0), "a positive number of months"),
            ("event", ~np.isin(event, (0, 1)), "0 (censored) or 1 (event)"),
            ("risk", ~np.isfinite(risk), "a finite number")):
        for position in np.flatnonzero(bad):
            index = rows.index[position]
            row = f"row {index + 1}" if isinstance(index, (int, np.integer)) else str(index)
            problems.append(Problem(
                file, f"{row} (sample {rows['sample_id'].iloc[position]}), column {column}",
                f"must be {what}, got {rows[column].iloc[position]!r}",
                "regenerate the table with the cross_validate_models rule"))
    if problems:
        raise InputError(problems)
    frame = pd.DataFrame({"sample_id": rows["sample_id"].astype(str).to_numpy(), "time": time,
                          "event": event.astype(int), "risk": risk})
    averaged = (frame.groupby("sample_id", sort=True)
                .agg(time=("time", "first"), event=("event", "first"), risk=("risk", "mean"),
                     n_times=("time", "nunique"), n_events=("event", "nunique"))
                .reset_index())
    differing = averaged[(averaged["n_times"] > 1) | (averaged["n_events"] > 1)]
    if len(differing):
        raise InputError([Problem(file, f"sample {s}", "time or event differs between its "
                                  "repeats", "regenerate the table with the "
                                  "cross_validate_models rule") for s in differing["sample_id"]])
    return averaged[["sample_id", "time", "event", "risk"]]


def survival_risk_group_cutoffs(rule, risk: np.ndarray, model: str = RISK_GROUP_MODEL) -> dict:
    """The cut-offs on the risk scale, as the frozen survival model records them
    (:func:`haicpred.modeling.scoring.risk_group_cutoffs` with ``scale="risk"``): ``tertiles``
    of ``risk``, or two increasing finite cut-offs ``[c1, c2]``."""
    return risk_group_cutoffs(
        rule, risk, f"the cross-validated out-of-fold {model} risk (mean over repeats)",
        scale="risk")


def km_confidence_interval(survival, std_err) -> tuple[np.ndarray, np.ndarray]:
    """95% log-log (Kalbfleisch-Prentice) interval of a Kaplan-Meier S(t) with Greenwood's
    standard error: S^exp(+-1.96 se / |log S|), which stays inside [0, 1]. [1, 1] before the
    first event (S = 1) and [0, 0] once S is 0, as scikit-survival's ``conf_type="log-log"``."""
    survival = np.asarray(survival, dtype=float)
    std_err = np.asarray(std_err, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = _Z95 * std_err / np.abs(survival * np.log(survival))
        low = survival ** np.exp(spread)
        high = survival ** np.exp(-spread)
    at_one = survival >= 1.0
    low = np.where(at_one, 1.0, np.where(survival > 0, low, 0.0))
    high = np.where(at_one, 1.0, np.where(survival > 0, high, 0.0))
    return low, high


def km_risk_groups(oof: pd.DataFrame, rule="tertiles", model: str = RISK_GROUP_MODEL,
                   file: str = OOF_FILE) -> pd.DataFrame:
    """The ``km_risk_groups.tsv`` table (:data:`KM_RISK_GROUP_COLUMNS`) of ``model``'s
    repeat-averaged out-of-fold risk cut by ``rule`` (config ``predict.risk_groups``)."""
    patients = averaged_oof_risk(oof, model, file)
    time, event = patients["time"].to_numpy(), patients["event"].to_numpy()
    risk = patients["risk"].to_numpy()
    cutoffs = survival_risk_group_cutoffs(rule, risk, model)
    groups = assign_risk_groups(risk, cutoffs)
    test = logrank_test(time, event, groups)
    frames = []
    for label in cutoffs["labels"]:
        member = groups == label
        if not member.any():
            continue
        curve = kaplan_meier(time[member], event[member])
        curve["survival_low"], curve["survival_high"] = km_confidence_interval(
            curve["survival"], curve["std_err"])
        frames.append(curve.assign(group=label, group_n=int(member.sum()),
                                   group_events=int(event[member].sum())))
    table = pd.concat(frames, ignore_index=True)
    table["cutoff_1"], table["cutoff_2"] = cutoffs["cutoffs"]
    table["rule"], table["model"] = cutoffs["rule"], model
    table["logrank_chi2"], table["logrank_df"] = test["statistic"], int(test["df"])
    table["logrank_p"] = test["p_value"]
    return table[KM_RISK_GROUP_COLUMNS].reset_index(drop=True)
