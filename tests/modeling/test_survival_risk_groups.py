"""Risk groups of the out-of-fold survival risk: tertile sizes, each group's Kaplan-Meier curve,
the log-rank test by definition and against scikit-survival, bad tables refused by row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sksurv.compare import compare_survival
from sksurv.nonparametric import kaplan_meier_estimator
from sksurv.util import Surv

from haicpred.io.errors import InputError
from haicpred.io.tables import read_tsv, write_tsv
from haicpred.modeling.survival_curves import KM_COLUMNS, kaplan_meier, numbers_at_risk
from haicpred.modeling.survival_endpoint import survival_oof_columns
from haicpred.modeling.survival_risk_groups import (KM_RISK_GROUP_COLUMNS, averaged_oof_risk,
                                                    km_risk_groups)
from survival_helpers import HORIZONS, weibull_cohort

N = 150


def oof_table(n: int = N, seed: int = 4) -> pd.DataFrame:
    """An oof_predictions.tsv of a survival run, as written: two repeats of a noisy estimate of
    the true linear predictor for xgboost and for another model, rows in the engine's order."""
    _, y, truth = weibull_cohort(n, seed)
    rng = np.random.default_rng(seed)
    ids = [f"HCC{i:04d}" for i in range(n)]
    frames = []
    for model in ("cox_all_features", "xgboost"):
        for repeat in (1, 2):
            risk = truth + rng.normal(scale=0.4, size=n)
            frame = pd.DataFrame({"sample_id": ids, "model": model, "repeat": repeat,
                                  "fold": rng.integers(1, 4, n), "time": y["time"],
                                  "event": y["event"].astype(int), "risk": risk})
            for h in HORIZONS:
                frame[f"surv_{h:g}m"] = np.exp(-np.exp(risk) * h / 20)
            frames.append(frame)
    return pd.concat(frames, ignore_index=True)[survival_oof_columns(HORIZONS)]


@pytest.fixture(scope="module")
def oof(tmp_path_factory) -> pd.DataFrame:
    """The table as the workflow reads it back: all strings."""
    path = tmp_path_factory.mktemp("oof") / "oof_predictions.tsv"
    write_tsv(oof_table(), path)
    return read_tsv(path)


def test_tertiles_of_the_repeat_averaged_xgboost_risk(oof):
    table = km_risk_groups(oof)
    assert list(table.columns) == KM_RISK_GROUP_COLUMNS
    groups = table.drop_duplicates("group").set_index("group")
    assert list(groups.index) == ["low", "intermediate", "high"]
    assert (groups["group_n"] == N // 3).all()  # continuous risks: exact thirds
    xgb = oof[oof["model"] == "xgboost"]
    risk = pd.to_numeric(xgb["risk"]).groupby(xgb["sample_id"]).mean()
    c1, c2 = np.quantile(risk, [1 / 3, 2 / 3])
    assert groups["cutoff_1"].iloc[0] == pytest.approx(c1, rel=1e-12)
    assert groups["cutoff_2"].iloc[0] == pytest.approx(c2, rel=1e-12)
    events = pd.to_numeric(xgb.drop_duplicates("sample_id").set_index("sample_id")["event"])
    assert groups.loc["low", "group_events"] == events[risk < c1].sum()
    assert groups.loc["high", "group_events"] == events[risk >= c2].sum()
    assert "tertiles" in groups["rule"].iloc[0] and (table["model"] == "xgboost").all()
    # higher risk, worse survival: the planted hazard separates the groups
    assert groups["logrank_p"].iloc[0] < 1e-3


def test_each_group_carries_its_kaplan_meier_curve_with_a_log_log_interval(oof):
    table = km_risk_groups(oof)
    patients = averaged_oof_risk(oof)
    c1, c2 = table["cutoff_1"].iloc[0], table["cutoff_2"].iloc[0]
    members = {"low": patients["risk"] < c1, "high": patients["risk"] >= c2,
               "intermediate": (patients["risk"] >= c1) & (patients["risk"] < c2)}
    for group, member in members.items():
        got = table[table["group"] == group].reset_index(drop=True)
        time, event = patients["time"][member], patients["event"][member]
        pd.testing.assert_frame_equal(got[KM_COLUMNS], kaplan_meier(time, event))
        # the interval: scikit-survival's log-log (Greenwood) confidence band
        _, survival, band = kaplan_meier_estimator(event.astype(bool).to_numpy(),
                                                   time.to_numpy(), conf_type="log-log")
        np.testing.assert_allclose(got["survival"], survival, rtol=1e-12)
        np.testing.assert_allclose(got["survival_low"], band[0], rtol=1e-10)
        np.testing.assert_allclose(got["survival_high"], band[1], rtol=1e-10)
        # numbers at risk at any time: the first row at or after it
        for t in (0.0, 12.0, 24.0, 36.0):
            later = got[got["time"] >= t]
            shown = int(later["n_at_risk"].iloc[0]) if len(later) else 0
            assert shown == numbers_at_risk(time, [t])[0]


def logrank_by_definition(time, event, in_second) -> tuple[float, float]:
    """Two-group log-rank, written out: at each event time, O - E and the hypergeometric
    variance of the second group's events; chi2 = (O - E)^2 / V on 1 df."""
    from scipy.stats import chi2

    observed_minus_expected, variance = 0.0, 0.0
    for t in np.unique(time[event == 1]):
        at_risk = time >= t
        n, n2 = at_risk.sum(), (at_risk & in_second).sum()
        d = ((time == t) & (event == 1)).sum()
        d2 = ((time == t) & (event == 1) & in_second).sum()
        observed_minus_expected += d2 - d * n2 / n
        if n > 1:
            variance += d * (n2 / n) * (1 - n2 / n) * (n - d) / (n - 1)
    statistic = observed_minus_expected**2 / variance
    return statistic, float(chi2.sf(statistic, 1))


def test_log_rank_by_definition_for_two_groups_and_sksurv_for_three(oof):
    patients = averaged_oof_risk(oof)
    time, event = patients["time"].to_numpy(), patients["event"].to_numpy()
    median = float(np.median(patients["risk"]))
    # fixed cut-offs on the risk scale (negative allowed) leaving the middle group empty
    two = km_risk_groups(oof, [median - 1e-9, median])
    assert set(two["group"]) == {"low", "high"}  # an empty group has no rows
    assert two["logrank_df"].iloc[0] == 1 and "fixed cut-offs" in two["rule"].iloc[0]
    statistic, p = logrank_by_definition(time, event, (patients["risk"] >= median).to_numpy())
    assert two["logrank_chi2"].iloc[0] == pytest.approx(statistic, rel=1e-10)
    assert two["logrank_p"].iloc[0] == pytest.approx(p, rel=1e-8)

    three = km_risk_groups(oof)
    c1, c2 = three["cutoff_1"].iloc[0], three["cutoff_2"].iloc[0]
    labels = np.where(patients["risk"] < c1, 0, np.where(patients["risk"] < c2, 1, 2))
    expected_chi2, expected_p = compare_survival(Surv.from_arrays(event == 1, time), labels)
    assert three["logrank_df"].iloc[0] == 2
    assert three["logrank_chi2"].iloc[0] == pytest.approx(expected_chi2, rel=1e-10)
    assert three["logrank_p"].iloc[0] == pytest.approx(expected_p, rel=1e-8)


def test_byte_identical_and_independent_of_row_order(oof, tmp_path):
    shuffled = oof.sample(frac=1.0, random_state=3).reset_index(drop=True)
    write_tsv(km_risk_groups(oof), tmp_path / "a.tsv")
    write_tsv(km_risk_groups(oof), tmp_path / "b.tsv")
    write_tsv(km_risk_groups(shuffled), tmp_path / "c.tsv")
    first = (tmp_path / "a.tsv").read_bytes()
    assert first == (tmp_path / "b.tsv").read_bytes() == (tmp_path / "c.tsv").read_bytes()


def test_unusable_tables_are_refused_with_file_row_and_column(oof):
    with pytest.raises(InputError) as error:
        km_risk_groups(oof.drop(columns=["risk"]), file="results/model/oof_predictions.tsv")
    assert "results/model/oof_predictions.tsv" in str(error.value) and "risk" in str(error.value)
    with pytest.raises(InputError, match="no rows of model 'xgboost'"):
        km_risk_groups(oof[oof["model"] != "xgboost"])
    bad = oof.copy()
    first_xgb = bad.index[bad["model"] == "xgboost"][0]
    bad.loc[first_xgb, "event"] = "2"
    bad.loc[first_xgb + 1, "risk"] = "high"
    with pytest.raises(InputError) as error:
        km_risk_groups(bad)
    text = str(error.value)
    assert f"row {first_xgb + 1} (sample {bad.loc[first_xgb, 'sample_id']}), column event" in text
    assert f"row {first_xgb + 2}" in text and "column risk" in text
    for rule in ("quartiles", [1.0, 0.5], [0.2], ["a", "b"]):
        with pytest.raises(ValueError, match="risk_groups"):
            km_risk_groups(oof, rule)
