"""The real cohorts of ../shared/realdata/cohorts, converted as a user would (tests/real_cohorts.py)
and run end to end through `snakemake --configfile`: every output is produced, nobody is
silently dropped, and the derived ALBI and Child-Pugh values equal a by-hand computation from
the source CSV. Nested tuning is off here to keep CI short (the search is tested elsewhere)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from haicpred.modeling.survival_endpoint import survival_oof_columns
from haicpred.modeling.survival_metrics import harrell_c
from real_cohorts import (SURVIVAL_ENDPOINT, child_pugh_class, needs_cohorts, sysucc_baseline,
                          uci_albi_by_hand, uci_child_pugh_by_hand, uci_table, write_sysucc,
                          write_sysucc_survival, write_uci)
from workflow_helpers import PANEL, SNPS, snakemake

pytestmark = needs_cohorts

REAL_MODEL = {"seed": 1, "cv_folds": 5, "cv_repeats": 2, "n_bootstrap": 200,
              "tuning": {"enabled": False}}
OUTPUTS = ["results/features/feature_matrix.tsv", "results/features/feature_dictionary.tsv",
           "results/features/labels.tsv", "results/features/biomarker_qc.tsv",
           "results/features/data_checks.tsv",
           "results/model/metrics.tsv", "results/model/oof_predictions.tsv",
           "results/model/decision_curve.tsv", "results/model/calibration.tsv",
           "results/model/cv_metadata.json", "results/model/final/xgboost_model.json",
           "results/model/final/model_metadata.json", "results/model/final/predictions.tsv",
           "results/model/final/shap_importance.tsv", "results/report/report.html",
           "results/provenance.json"]


SURVIVAL_OUTPUTS = [*OUTPUTS, "results/model/km_risk_groups.tsv",
                    "results/model/final/nomogram.json"]


def _run(tmp_path_factory, name, write):
    folder = tmp_path_factory.mktemp(name)
    config = write(folder / "input", model=REAL_MODEL)
    # the resources by absolute path: this run's folder is not the checkout
    extra = folder / "resources.yaml"
    extra.write_text(f"panel: {PANEL}\nsnps: {SNPS}\n")
    workdir = folder / "run"
    workdir.mkdir()
    result = snakemake(workdir, "--configfile", str(config), str(extra))
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir


@pytest.fixture(scope="module")
def sysucc_run(tmp_path_factory):
    return _run(tmp_path_factory, "sysucc", write_sysucc)


@pytest.fixture(scope="module")
def uci_run(tmp_path_factory):
    return _run(tmp_path_factory, "uci", write_uci)


@pytest.fixture(scope="module")
def sysucc_os_run(tmp_path_factory):
    """SYSUCC with overall survival as a time-to-event endpoint (issue 15)."""
    return _run(tmp_path_factory, "sysucc_os", write_sysucc_survival)


def _matrix(workdir):
    return pd.read_csv(workdir / "results/features/feature_matrix.tsv", sep="\t",
                       dtype={"sample_id": str}).set_index("sample_id")


def _every_output(workdir):
    missing = [p for p in OUTPUTS if not (workdir / p).is_file() or
               (workdir / p).stat().st_size == 0]
    assert not missing, missing


def test_sysucc_produces_every_output_and_keeps_every_patient(sysucc_run):
    _every_output(sysucc_run)
    baseline = sysucc_baseline()
    matrix = _matrix(sysucc_run)
    assert sorted(matrix.index) == sorted(baseline["sample_id"])  # 2,360, none dropped
    metrics = pd.read_csv(sysucc_run / "results/model/metrics.tsv", sep="\t").set_index("model")
    months = baseline["OStime_day"] / (365.25 / 12)
    died = (months <= 24) & (baseline["Status_of_death"] == 1)
    followed = months >= 24
    xgb = metrics.loc["xgboost"]
    # labelled: died within 24 months, or followed for 24 months; the rest are unlabelled
    assert xgb["n"] == int((died | followed).sum())
    assert xgb["n_events"] == int(died.sum())
    assert xgb["n_unlabelled"] == len(baseline) - int((died | followed).sum())
    assert 0.5 < xgb["auc"] < 1 and xgb["auc_low"] < xgb["auc"] < xgb["auc_high"]
    # the recorded vascular invasion (grade unknown) and the lesion-count groups reach the
    # matrix: the Liu factors are not constant
    assert matrix["vascular_invasion_any"].sum() == baseline["Vascular.Invasion"].sum()
    assert matrix["tumor_number_gt3"].sum() == int(
        (baseline["Amount.of.Hepatic.Lesions"] == 4).sum())


def test_sysucc_child_pugh_is_the_recorded_score_and_albi_is_not_invented(sysucc_run):
    matrix = _matrix(sysucc_run)
    baseline = sysucc_baseline().set_index("sample_id")
    # ten patients across the recorded scores, chosen by value, not by position
    chosen = []
    for score in sorted(baseline["Child_pugh_score"].unique()):
        chosen += list(baseline.index[baseline["Child_pugh_score"] == score][:2])
    chosen = chosen[:10]
    assert len(chosen) == 10
    for sample in chosen:
        score = baseline.loc[sample, "Child_pugh_score"]
        assert matrix.loc[sample, "child_pugh_points"] == score
        assert matrix.loc[sample, "child_pugh_class"] == child_pugh_class(score)
        # no bilirubin or albumin in this cohort: ALBI cannot be computed, so it is missing
        assert math.isnan(matrix.loc[sample, "albi_score"])


def test_uci_produces_every_output_and_keeps_every_patient(uci_run):
    _every_output(uci_run)
    table = uci_table()
    matrix = _matrix(uci_run)
    assert sorted(matrix.index) == sorted(table["sample_id"])
    metrics = pd.read_csv(uci_run / "results/model/metrics.tsv", sep="\t").set_index("model")
    xgb = metrics.loc["xgboost"]
    assert xgb["n"] == 165
    # the endpoint column as recorded: 1 = survives one year (the favourable class)
    assert xgb["n_events"] == int((table["1_survives_0_dies"] == 1).sum())
    # the labs haicpred does not know are features, with the unit recorded
    dictionary = pd.read_csv(uci_run / "results/features/feature_dictionary.tsv", sep="\t")
    units = dict(zip(dictionary["feature"], dictionary["unit"]))
    assert units["creatinine"] == "mg/dL" and units["haemoglobin"] == "g/dL"
    assert matrix["creatinine"].notna().sum() == table["Creatinine (mg/dL)"].notna().sum()


def test_uci_albi_and_child_pugh_equal_a_hand_computation(uci_run):
    matrix = _matrix(uci_run)
    table = uci_table().set_index("sample_id")
    inputs = ["Total Bilirubin(mg/dL)", "Albumin (mg/dL)", "International Normalised Ratio",
              "Ascites degree", "Encefalopathy degree"]
    complete = table.dropna(subset=inputs)
    # ten patients spread over the cohort (every k-th complete row)
    chosen = complete.index[:: max(1, len(complete) // 10)][:10]
    assert len(chosen) == 10
    for sample in chosen:
        row = complete.loc[sample]
        assert matrix.loc[sample, "albi_score"] == pytest.approx(uci_albi_by_hand(row),
                                                                 abs=1e-9)
        points = uci_child_pugh_by_hand(row)
        assert matrix.loc[sample, "child_pugh_points"] == points
        assert matrix.loc[sample, "child_pugh_class"] == child_pugh_class(points)
    # a patient without albumin has no ALBI (missing stays missing)
    no_albumin = table.index[table["Albumin (mg/dL)"].isna()]
    assert len(no_albumin) and matrix.loc[no_albumin, "albi_score"].isna().all()


def test_uci_platelets_in_mixed_units_are_converted(uci_run):
    """The UCI platelet column is labelled G/L but mostly written per microlitre; the converter
    declares each value's unit and haicpred converts both to 10^9/L."""
    matrix = _matrix(uci_run)
    table = uci_table().set_index("sample_id")
    raw = table["Platelets (G/L)"].dropna()
    expected = np.where(raw > 2000, raw / 1000, raw)
    assert np.allclose(matrix.loc[raw.index, "platelets"], expected)


def test_real_runs_record_the_endpoint_used(sysucc_run, uci_run):
    for workdir, name, favourable in ((sysucc_run, "os_event_by_24_months", False),
                                      (uci_run, "outcome_survives_1y", True)):
        metadata = json.loads((workdir / "results/model/cv_metadata.json").read_text())
        assert metadata["label"]["name"] == name
        assert metadata["label"]["positive_is_favourable"] is favourable


def test_sysucc_scores_without_data_are_skipped_and_liu_factors_named(sysucc_run):
    """SYSUCC records no bilirubin, albumin, CRP or BCLC: those scores get no metrics row and
    are listed as skipped with the reason; the recorded Child-Pugh score is judged on its own
    patients; the Liu baseline names the factors it lacks (no Vp grade, no ALBI)."""
    metrics = pd.read_csv(sysucc_run / "results/model/metrics.tsv", sep="\t").set_index("model")
    metadata = json.loads((sysucc_run / "results/model/cv_metadata.json").read_text())
    scores = metadata["baseline_factors"]["scores"]
    for name in ("albi_grade", "palbi_grade", "bclc", "crafity", "gps"):
        assert name not in metrics.index
        assert scores[name]["status"] != "evaluated" and scores[name]["reason"]
        assert any(entry.startswith(name) for entry in metadata["skipped_models"])
    assert scores["child_pugh_class"]["status"] == "evaluated"
    child_pugh = metrics.loc["child_pugh_class"]
    assert child_pugh["n"] == metrics.loc["xgboost", "n"] and child_pugh["coverage"] == 1
    liu = metadata["baseline_factors"]["logistic_baseline"]
    assert set(liu["left_out"]) == {"vp3_vp4", "albi_grade"}
    assert set(liu["available"]) == {"tumor_size_cm", "tumor_number_gt3", "afp_ge_400",
                                     "extrahepatic_metastasis"}


def test_uci_scores_are_judged_on_the_patients_who_have_them(uci_run):
    metrics = pd.read_csv(uci_run / "results/model/metrics.tsv", sep="\t").set_index("model")
    matrix = _matrix(uci_run)
    for score in ("albi_grade", "child_pugh_class"):
        have = int(matrix[score].notna().sum())
        row = metrics.loc[score]
        assert row["n"] == have < 165
        assert row["coverage"] == pytest.approx(have / 165)


def test_sysucc_overall_survival_end_to_end(sysucc_os_run):
    """Every output of a survival run is produced; every patient with follow-up is labelled
    (censored or not), the 6 never followed are excluded and counted; every C-index row has a
    CI; XGBoost's out-of-fold C is the C of its own out-of-fold risks."""
    missing = [p for p in SURVIVAL_OUTPUTS if not (sysucc_os_run / p).is_file()
               or (sysucc_os_run / p).stat().st_size == 0]
    assert not missing, missing
    baseline = sysucc_baseline()
    never_followed = (baseline["OStime_day"] <= 0) & (baseline["Status_of_death"] == 0)
    metrics = pd.read_csv(sysucc_os_run / "results/model/metrics.tsv", sep="\t")
    metrics = metrics.set_index("model")
    xgb = metrics.loc["xgboost"]
    assert xgb["n"] == len(baseline) - int(never_followed.sum()) == 2354
    assert xgb["n_events"] == int(baseline["Status_of_death"].sum()) == 1346
    assert xgb["n_unlabelled"] == int(never_followed.sum()) == 6
    rated = metrics[metrics["c_index"].notna()]
    assert {"xgboost", "cox_all_features", "cox_baseline"} <= set(rated.index)
    assert (rated["c_index_low"] <= rated["c_index"]).all()
    assert (rated["c_index"] <= rated["c_index_high"]).all()
    assert (rated["c_index_high"] - rated["c_index_low"] > 0).all()
    assert 0.55 < xgb["c_index"] < 0.9

    oof = pd.read_csv(sysucc_os_run / "results/model/oof_predictions.tsv", sep="\t")
    assert list(oof.columns) == survival_oof_columns(SURVIVAL_ENDPOINT["horizons_months"])
    xgb_oof = oof[oof["model"] == "xgboost"].groupby("sample_id").agg(
        time=("time", "first"), event=("event", "first"), risk=("risk", "mean"))
    assert harrell_c(xgb_oof["time"].to_numpy(), xgb_oof["event"].to_numpy(),
                     xgb_oof["risk"].to_numpy()) == pytest.approx(xgb["c_index"], abs=1e-9)
    # a death on the baseline day keeps its event at half a day
    same_day_deaths = baseline.loc[(baseline["OStime_day"] <= 0)
                                   & (baseline["Status_of_death"] == 1), "sample_id"]
    assert len(same_day_deaths) == 2
    assert (xgb_oof.loc[same_day_deaths, "event"] == 1).all()

    km = pd.read_csv(sysucc_os_run / "results/model/km_risk_groups.tsv", sep="\t")
    groups = km.drop_duplicates("group").set_index("group")
    assert list(groups.index) == ["low", "intermediate", "high"]
    assert groups["group_n"].sum() == xgb["n"]
    assert groups["group_events"].sum() == xgb["n_events"]
    assert 0 <= groups["logrank_p"].iloc[0] < 0.05  # the groups separate on 2,354 patients

    predictions = pd.read_csv(sysucc_os_run / "results/model/final/predictions.tsv", sep="\t")
    assert len(predictions) == len(baseline)
    horizons = [f"surv_{h}m" for h in SURVIVAL_ENDPOINT["horizons_months"]]
    survival = predictions[horizons].to_numpy()
    assert ((survival > 0) & (survival < 1)).all()
    assert (survival[:, 1:] <= survival[:, :-1]).all()  # S(t) falls with t
    report = (sysucc_os_run / "results/report/report.html").read_text()
    assert f"{xgb['c_index']:.3f}" in report
