"""Survival metrics (haicpred.modeling.survival_metrics): Harrell's C against its definition,
the IPCW statistics against scikit-survival, the paired stratified bootstrap, horizons past
the follow-up, determinism, and Harrell's C on a real cohort."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sksurv.metrics import (concordance_index_censored, concordance_index_ipcw,
                            cumulative_dynamic_auc, integrated_brier_score)
from sksurv.util import Surv

from haicpred.modeling.survival_curves import km_survival_at
from haicpred.modeling.survival_metrics import (bootstrap_replicates, bootstrap_weights,
                                                calibration_by_risk_decile, check_survival_data,
                                                evaluable_horizons, harrell_c,
                                                integrated_brier, survival_metric_columns,
                                                survival_metric_tables, time_dependent_auc, uno_c)
from real_cohorts import DAYS_PER_MONTH, needs_cohorts, sysucc_baseline

HORIZONS = np.array([12.0, 24.0, 36.0])
SHAPE, SCALE, BETA = 1.3, 30.0, 0.7


def cohort(n: int = 400, seed: int = 3):
    """A censored cohort like a trial's: Weibull proportional hazards on one factor, random and
    administrative (48 months) censoring, times recorded in whole months (tied times, events
    and censorings at the same month), a risk score on a coarse grid (tied risks), and the
    true S(t) at the horizons."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    event_time = SCALE * rng.weibull(SHAPE, n) * np.exp(-BETA * x / SHAPE)
    censor_time = np.minimum(rng.exponential(70.0, n), 48.0)
    time = np.maximum(np.ceil(np.minimum(event_time, censor_time)), 1.0)
    event = (event_time <= censor_time).astype(int)
    risk = np.round(x + rng.normal(scale=0.5, size=n), 1)
    surv = np.exp(-((HORIZONS[None, :] / SCALE) ** SHAPE) * np.exp(BETA * x)[:, None])
    return time, event, risk, surv, x


def harrell_by_definition(time, event, risk) -> float:
    """Harrell's C from its definition: over pairs whose earlier time is an event (an event and
    a censoring at the same time count, the event being earlier; two events at the same time
    do not), the share where the earlier one has the higher risk, ties in risk one half."""
    time, event, risk = (np.asarray(a, dtype=float) for a in (time, event, risk))
    concordant = ties = comparable = 0
    for i in np.flatnonzero(event == 1):
        later = (time > time[i]) | ((time == time[i]) & (event == 0))
        comparable += int(later.sum())
        concordant += int((later & (risk[i] > risk)).sum())
        ties += int((later & (risk[i] == risk)).sum())
    return (concordant + 0.5 * ties) / comparable


def test_harrell_c_equals_the_pair_definition_on_a_censored_sample_with_ties():
    time, event, risk, _, _ = cohort()
    # the sample does exercise every rule: tied times (event with event, event with censoring)
    # and tied risks
    tied = pd.DataFrame({"t": time, "e": event}).groupby("t")["e"].agg(["sum", "size"])
    assert (tied["sum"] >= 2).any() and ((tied["sum"] >= 1) & (tied["sum"] < tied["size"])).any()
    assert len(np.unique(risk)) < len(risk) / 4
    assert 0.2 < 1 - event.mean() < 0.5
    assert harrell_c(time, event, risk) == harrell_by_definition(time, event, risk)


def test_perfect_risk_gives_one_reversed_gives_zero():
    rng = np.random.default_rng(0)
    time = rng.permutation(np.arange(1.0, 201.0))  # distinct times: no tied pair
    event = (rng.random(200) < 0.7).astype(int)
    assert harrell_c(time, event, -time) == 1.0
    assert harrell_c(time, event, time) == 0.0
    assert harrell_c(time, event, np.zeros(200)) == 0.5
    metrics, _ = survival_metric_tables(time, event, {"xgboost": -time, "reversed": time}, {},
                                        [50.0, 100.0], n_bootstrap=50, seed=1)
    perfect, reversed_ = metrics.iloc[0], metrics.iloc[1]
    assert (perfect["c_index_low"], perfect["c_index_high"], perfect["uno_c"]) == (1.0, 1.0, 1.0)
    assert perfect["auc_50m"] == 1.0 and reversed_["auc_50m"] == 0.0
    assert (reversed_["c_index"], reversed_["c_index_diff_vs_xgboost"]) == (0.0, -1.0)


def test_ipcw_point_estimates_are_scikit_survivals():
    time, event, risk, surv, _ = cohort()
    y = Surv.from_arrays(event.astype(bool), time)
    assert uno_c(time, event, risk, 36.0) == concordance_index_ipcw(y, y, risk, tau=36.0)[0]
    assert np.array_equal(time_dependent_auc(time, event, risk, HORIZONS),
                          cumulative_dynamic_auc(y, y, risk, HORIZONS)[0])
    assert integrated_brier(time, event, surv, HORIZONS) == integrated_brier_score(
        y, y, surv, HORIZONS)


def test_bootstrap_replicates_equal_the_metrics_of_the_drawn_samples():
    """A resample as weights gives what scikit-survival gives on the resample written out
    (the censoring distribution held at the full sample's, as documented)."""
    time, event, risk, surv, _ = cohort(n=250, seed=5)
    weights = bootstrap_weights(event, 3, np.random.default_rng(11))
    assert np.array_equal(weights[:, event == 1].sum(axis=1), np.full(3, event.sum()))
    replicates = bootstrap_replicates(time, event, risk, surv, HORIZONS, weights)
    # an event at the last follow-up time (48 m) has G = 0 there and makes scikit-survival's
    # IPCW raise; the module censors it (no horizon reaches 48 m), so the check does too
    assert (event[time == 48.0] == 1).any()
    ipcw_event = event.astype(bool) & (time < 48.0)
    full = Surv.from_arrays(ipcw_event, time)
    for b in range(3):
        drawn = np.repeat(np.arange(len(time)), weights[b].astype(int))
        assert replicates["c_index"][b] == pytest.approx(
            concordance_index_censored(event[drawn].astype(bool), time[drawn], risk[drawn])[0],
            abs=1e-12)
        y = Surv.from_arrays(ipcw_event[drawn], time[drawn])
        assert replicates["uno_c"][b] == pytest.approx(
            concordance_index_ipcw(full, y, risk[drawn], tau=36.0)[0], abs=1e-12)
        assert replicates["auc"][b] == pytest.approx(
            cumulative_dynamic_auc(full, y, risk[drawn], HORIZONS)[0], abs=1e-12)
        assert replicates["ibs"][b] == pytest.approx(
            integrated_brier_score(full, y, surv[drawn], HORIZONS), abs=1e-12)


def test_bootstrap_cis_cover_the_estimates_and_differences_are_paired():
    time, event, risk, surv, x = cohort()
    worse = np.round(x + np.random.default_rng(9).normal(scale=1.5, size=len(x)), 1)
    risks = {"xgboost": risk, "xgboost_again": risk.copy(), "worse": worse}
    metrics, _ = survival_metric_tables(time, event, risks, {"xgboost": surv}, HORIZONS,
                                        n_bootstrap=300, seed=4)
    assert list(metrics.columns) == survival_metric_columns(HORIZONS)
    for column in ["c_index", "uno_c", "auc_12m", "auc_24m", "auc_36m"]:
        assert (metrics[f"{column}_low"] <= metrics[column]).all()
        assert (metrics[column] <= metrics[f"{column}_high"]).all()
    again = metrics.set_index("model").loc["xgboost_again"]
    assert (again["c_index_diff_vs_xgboost"], again["c_index_diff_low"],
            again["c_index_diff_high"]) == (0.0, 0.0, 0.0)
    # the paired difference of the worse model: its CI is that of the per-resample differences
    weights = bootstrap_weights(event, 300, np.random.default_rng(4))
    diff = (bootstrap_replicates(time, event, worse, None, HORIZONS, weights)["c_index"]
            - bootstrap_replicates(time, event, risk, None, HORIZONS, weights)["c_index"])
    row = metrics.set_index("model").loc["worse"]
    assert (row["c_index_diff_low"], row["c_index_diff_high"]) == tuple(
        np.percentile(diff, [2.5, 97.5]))
    assert row["c_index_diff_high"] < 0 < row["c_index"] - 0.5
    # independent resamples would give a wider interval than the paired one
    assert row["c_index_diff_high"] - row["c_index_diff_low"] < (
        row["c_index_high"] - row["c_index_low"])
    reference = metrics.iloc[0]
    assert reference["ibs_low"] <= reference["ibs"] <= reference["ibs_high"]
    assert np.isnan(metrics.iloc[1]["ibs"])
    assert "no survival probabilities" in metrics.iloc[1]["note"]


def test_same_seed_gives_identical_tables():
    time, event, risk, surv, x = cohort()
    args = (time, event, {"xgboost": risk, "oracle": x}, {"xgboost": surv, "oracle": surv},
            HORIZONS)
    first = survival_metric_tables(*args, n_bootstrap=100, seed=8)
    second = survival_metric_tables(*args, n_bootstrap=100, seed=8)
    for a, b in zip(first, second):
        assert a.to_csv(sep="\t", index=False) == b.to_csv(sep="\t", index=False)
    other = survival_metric_tables(*args, n_bootstrap=100, seed=9)[0]
    assert other["c_index_low"].iloc[0] != first[0]["c_index_low"].iloc[0]
    assert other["c_index"].iloc[0] == first[0]["c_index"].iloc[0]


def test_horizons_beyond_follow_up_are_dropped_with_a_note():
    time, event, risk, surv, _ = cohort()  # follow-up ends at 48 months
    horizons = np.append(HORIZONS, 60.0)
    surv60 = np.column_stack([surv, surv[:, -1] * 0.9])
    y = Surv.from_arrays(event.astype(bool), time)
    with pytest.raises(ValueError, match="within follow-up"):  # what scikit-survival does
        cumulative_dynamic_auc(y, y, risk, horizons)
    metrics, calibration = survival_metric_tables(time, event, {"xgboost": risk},
                                                  {"xgboost": surv60}, horizons, 100, 1)
    row = metrics.iloc[0]
    assert np.isnan(row["auc_60m"]) and np.isnan(row["auc_60m_low"])
    assert "horizon 60 m outside the follow-up" in row["note"]
    assert "Uno's C truncated at 36 m" in row["note"]
    assert row["auc_36m"] == cumulative_dynamic_auc(y, y, risk, HORIZONS)[0][-1]
    assert row["ibs"] == integrated_brier_score(y, y, surv, HORIZONS)
    assert row["uno_c"] == concordance_index_ipcw(y, y, risk, tau=36.0)[0]
    # calibration at 60 m: the prediction is reported; the Kaplan-Meier estimate is undefined
    # past a bin's follow-up, except in bins whose curve has already reached 0
    late = calibration[calibration["horizon"] == 60.0]
    assert len(late) == 10 and late["observed_km"].isna().sum() >= 5
    assert (late["observed_km"].dropna() == 0.0).all()
    assert late["mean_predicted"].notna().all()


def test_a_training_set_with_shorter_follow_up_truncates_the_ipcw_metrics():
    time, event, risk, surv, _ = cohort()
    train_time, train_event = np.minimum(time, 30.0), event * (time <= 30.0)
    ok, notes = evaluable_horizons(time, HORIZONS, train_time, train_event)
    assert ok.tolist() == [True, True, False] and "horizon 36 m" in notes[0]
    metrics, _ = survival_metric_tables(time, event, {"xgboost": risk}, {"xgboost": surv},
                                        HORIZONS, 50, 2, train_time, train_event)
    row = metrics.iloc[0]
    train = Surv.from_arrays(train_event.astype(bool), train_time)
    # censoring the evaluation data at the end of training follow-up changes nothing before it
    cut = Surv.from_arrays(event.astype(bool) & (time < 30.0), np.minimum(time, 30.0))
    assert [row["auc_12m"], row["auc_24m"]] == cumulative_dynamic_auc(
        train, cut, risk, HORIZONS[:2])[0].tolist()
    assert row["uno_c"] == concordance_index_ipcw(train, cut, risk, tau=24.0)[0]
    assert np.isnan(row["auc_36m"]) and row["ibs"] == integrated_brier_score(
        train, cut, surv[:, :2], HORIZONS[:2])


def test_calibration_bins_compare_predicted_with_kaplan_meier():
    time, event, _, surv, x = cohort(n=1000, seed=12)
    rows = pd.DataFrame(calibration_by_risk_decile("oracle", time, event, x, surv, HORIZONS))
    assert len(rows) == 30 and (rows.groupby("horizon")["n"].sum() == 1000).all()
    top = np.argsort(x, kind="stable")[-100:]
    last = rows[(rows["horizon"] == 24.0) & (rows["bin"] == 10)].iloc[0]
    assert last["observed_km"] == km_survival_at(time[top], event[top], 24.0)[0]
    assert last["mean_predicted"] == surv[top, 1].mean()
    # the true survival function is calibrated: predicted and observed agree within noise,
    # and both fall from the lowest to the highest risk decile
    at_24 = rows[rows["horizon"] == 24.0]
    assert (at_24["mean_predicted"] - at_24["observed_km"]).abs().mean() < 0.06
    assert at_24["observed_km"].iloc[0] > at_24["observed_km"].iloc[-1] + 0.4


def test_bad_survival_data_names_the_rows():
    with pytest.raises(ValueError, match=r"rows \[1\] have a missing, zero or negative time.*"
                                         r"rows \[2\] have an event other than 0/1"):
        check_survival_data([3.0, -1.0, 5.0], [1, 0, 2])
    with pytest.raises(ValueError, match="no events"):
        harrell_c([1.0, 2.0], [0, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="horizons must be increasing"):
        survival_metric_tables([1.0, 2.0], [1, 0], {"xgboost": [1.0, 0.0]}, {}, [24, 12], 0, 1)


@needs_cohorts
def test_harrell_c_of_a_simple_score_on_real_overall_survival():
    """SYSUCC intermediate-stage HCC, baseline visit: a crude score (vascular invasion +
    distant metastasis + Child-Pugh score, many ties) on real censored OS."""
    b = sysucc_baseline()
    b = b[b["OStime_day"] > 0]  # follow-up of 0 days: excluded (a known defect of the export)
    time = (b["OStime_day"] / DAYS_PER_MONTH).to_numpy()
    event = b["Status_of_death"].to_numpy().astype(int)
    score = (b["Vascular.Invasion"] + b["Distant.Metastasis"] + b["Child_pugh_score"]).to_numpy(
        dtype=float)
    c = harrell_c(time, event, score)
    assert np.isfinite(c) and 0.5 < c < 1
    assert c == harrell_by_definition(time, event, score)
    metrics, _ = survival_metric_tables(time, event, {"xgboost": score, "afp": np.log1p(
        b["AFP"].to_numpy(dtype=float))}, {}, HORIZONS, n_bootstrap=100, seed=1)
    assert metrics[["c_index_low", "c_index_high", "auc_36m", "uno_c"]].notna().all().all()
