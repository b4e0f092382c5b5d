"""Published-score baselines judged on their own values, on the patients who have them, and the
availability of the Liu baseline's factors (issue 13 findings 2 and 7); ablations of a modality
without any value and n_features (finding 10). Real XGBoost through cross_validate_models, on a
cohort shaped like the real one that exposed the findings: BCLC, Child-Pugh class and GPS not
recorded for anybody, ALBI grade for ~60% of the patients, a coarse 3-level score for everyone,
a Liu factor constant (tumour number > 3 never recorded as yes) and one never recorded."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from haicpred.modeling.metrics import auc_score, delong_test
from haicpred.modeling.cross_validation import (CV_METADATA_FILE, cross_validate_models,
                                                write_model_outputs)
from haicpred.modeling.score_baselines import MIN_SCORE_PATIENTS, MIN_SCORE_PER_CLASS
from model_helpers import SETTINGS, make_cohort

SCORES = {name: {"feature": name, "direction": -1}
          for name in ("albi_grade", "bclc", "child_pugh_class", "gps", "crafity",
                       "palbi_grade")}


@pytest.fixture(scope="module")
def cohort():
    matrix, labels, dictionary, truth = make_cohort(seed=5)
    rng = np.random.default_rng(13)
    n = len(matrix)
    albi = matrix["albi_score"].fillna(-2.4)
    grade = np.where(albi <= -2.60, 1.0, np.where(albi <= -1.39, 2.0, 3.0))
    matrix["albi_grade"] = np.where(rng.random(n) < 0.6, grade, np.nan)
    # a coarse score for everybody: three levels of tumour size (many ties)
    matrix["crafity"] = np.digitize(matrix["tumor_size_cm"], [5.0, 9.0]).astype(float)
    # a score recorded for a handful of patients only
    few = np.full(n, np.nan)
    few[:15] = rng.integers(1, 4, 15)
    matrix["palbi_grade"] = few
    for absent in ("bclc", "child_pugh_class", "gps", "vp3_vp4"):
        matrix[absent] = np.nan  # columns present, no patient has a value
    matrix["tumor_number_gt3"] = 0.0  # never recorded as yes: constant
    matrix["rs_genotype"] = np.nan  # a whole modality without values
    extra = ["albi_grade", "crafity", "palbi_grade", "bclc", "child_pugh_class", "gps",
             "vp3_vp4", "tumor_number_gt3", "rs_genotype"]
    modality = {"vp3_vp4": "clinical", "tumor_number_gt3": "clinical",
                "rs_genotype": "genotype"}
    dictionary = pd.concat([dictionary, pd.DataFrame({
        "feature": extra, "modality": [modality.get(f, "derived") for f in extra],
        "unit": "", "description": "synthetic"})], ignore_index=True)
    return matrix, labels, dictionary, truth


@pytest.fixture(scope="module")
def results(cohort):
    matrix, labels, dictionary, _ = cohort
    settings = {**SETTINGS, "score_baselines": SCORES,
                "baseline_features": ["tumor_size_cm", "tumor_number_gt3", "albi_grade",
                                      "vp3_vp4", "extrahepatic_metastasis", "afp_ge_400"]}
    return cross_validate_models(matrix, labels, dictionary, settings)


def labelled_scores(cohort, feature):
    """(y, score) of the labelled patients with a value of ``feature``, by sample_id."""
    matrix, labels, _, _ = cohort
    frame = matrix.set_index("sample_id")[[feature]].join(
        labels.set_index("sample_id")["objective_response"]).dropna().sort_index()
    return frame["objective_response"].to_numpy(int), frame[feature].to_numpy(float), frame.index


def test_a_score_nobody_has_gets_no_row_and_is_listed_as_skipped(results):
    metrics = results.metrics.set_index("model")
    for name in ("bclc", "child_pugh_class", "gps"):
        assert name not in metrics.index
        assert f"{name}: no labelled patient has {name}" in results.skipped_models
        entry = results.metadata["baseline_factors"]["scores"][name]
        assert entry["status"] == "skipped" and entry["n"] == 0 and entry["coverage"] == 0
    assert set(results.metadata["skipped_models"]) == set(results.skipped_models)
    assert not {"bclc", "child_pugh_class", "gps"} & set(results.oof["model"])
    assert not {"bclc", "child_pugh_class", "gps"} & set(results.calibration["model"])


def test_a_score_with_too_few_patients_is_skipped_with_the_rule(results, cohort):
    y, _, _ = labelled_scores(cohort, "palbi_grade")
    assert len(y) < MIN_SCORE_PATIENTS
    assert "palbi_grade" not in set(results.metrics["model"])
    reason = next(s for s in results.skipped_models if s.startswith("palbi_grade: "))
    assert (f"{len(y)} labelled patient(s) have palbi_grade" in reason
            and f"fewer than {MIN_SCORE_PATIENTS} patients or fewer than "
                f"{MIN_SCORE_PER_CLASS} of a class" in reason)


def test_a_partly_recorded_score_is_judged_on_its_own_values_and_patients(results, cohort):
    """ALBI grade for ~60%: n = those patients, coverage ~0.6, AUC = sklearn's AUC of the raw
    grade in its published direction (no imputation, no recalibration)."""
    y, grade, ids = labelled_scores(cohort, "albi_grade")
    n_labelled = int(cohort[1]["objective_response"].notna().sum())
    row = results.metrics.set_index("model").loc["albi_grade"]
    assert row["n"] == len(y) and row["n_events"] == y.sum()
    assert row["coverage"] == pytest.approx(len(y) / n_labelled)
    assert 0.5 < row["coverage"] < 0.7
    assert row["auc"] == pytest.approx(roc_auc_score(y, -grade), abs=1e-12)
    assert row["auc_low"] <= row["auc"] <= row["auc_high"]
    assert pd.isna(row["auc_repeat_sd"])  # the score's AUC does not depend on the folds
    # paired with XGBoost on exactly these patients
    oof = results.oof
    xgb = (oof[oof["model"] == "xgboost"].groupby("sample_id")["y_prob"].mean()
           .loc[ids].to_numpy())
    assert row["auc_diff_vs_xgboost"] == pytest.approx(row["auc"] - auc_score(y, xgb),
                                                       abs=1e-12)
    assert row["delong_p_vs_xgboost"] == pytest.approx(
        delong_test(y, -grade, xgb)["p_value"], abs=1e-12)
    assert row["auc_diff_low"] <= row["auc_diff_vs_xgboost"] <= row["auc_diff_high"]
    # probabilities: in-fold recalibration, statistics per repeat, then averaged
    own = oof[oof["model"] == "albi_grade"]
    assert sorted(own["sample_id"].unique()) == sorted(ids)
    briers = [np.mean((part["y_prob"] - part["y_true"]) ** 2)
              for _, part in own.groupby("repeat")]
    assert len(briers) == SETTINGS["cv_repeats"]
    assert row["brier"] == pytest.approx(np.mean(briers), abs=1e-12)
    # within a repeat and fold the recalibration keeps the grade's order (non-negative slope)
    for _, part in own.groupby(["repeat", "fold"]):
        levels = part.assign(grade=part["sample_id"].map(dict(zip(ids, grade))))
        by_grade = levels.groupby("grade")["y_prob"].agg(["min", "max"])
        assert (by_grade["min"] == by_grade["max"]).all()  # ties stay ties
        assert by_grade["max"].is_monotonic_decreasing  # non-increasing
    calibration = results.calibration[results.calibration["model"] == "albi_grade"]
    assert calibration["n"].sum() == len(y)


def test_a_coarse_score_reports_its_own_auc_exactly(results, cohort):
    """The finding: averaging fold-refitted recalibrations broke a coarse score's ties (BCLC
    0.537 where the score gives 0.611). The reported AUC is the score's own."""
    y, score, _ = labelled_scores(cohort, "crafity")
    assert len(np.unique(score)) == 3
    row = results.metrics.set_index("model").loc["crafity"]
    assert row["auc"] == pytest.approx(roc_auc_score(y, -score), abs=1e-12)
    assert row["coverage"] == 1.0 and row["n_features"] == 1
    # what the old way gave: the repeat-averaged recalibrated probabilities rank otherwise
    own = results.oof[results.oof["model"] == "crafity"]
    averaged = own.groupby("sample_id").agg(y=("y_true", "first"), p=("y_prob", "mean"))
    assert averaged["p"].nunique() > 3  # ties broken by averaging: why it is not used


def test_liu_factors_available_are_recorded_and_the_rest_left_out(results, tmp_path):
    factors = results.metadata["baseline_factors"]["logistic_baseline"]
    assert factors["available"] == ["tumor_size_cm", "albi_grade", "extrahepatic_metastasis"]
    assert factors["left_out"] == {
        "tumor_number_gt3": "the same value (0) for every labelled patient who has it (184)",
        "vp3_vp4": "no value for any labelled patient",
        "afp_ge_400": "not in the feature matrix"}
    assert results.metrics.set_index("model").loc["logistic_baseline", "n_features"] == 3
    skipped = next(s for s in results.skipped_models if s.startswith("logistic_baseline"))
    assert "tumor_number_gt3 (the same value" in skipped and "vp3_vp4 (no value" in skipped
    assert "rule" in results.metadata["baseline_factors"]
    write_model_outputs(results, tmp_path)
    written = json.loads((tmp_path / CV_METADATA_FILE).read_text())
    assert written["baseline_factors"]["scores"]["albi_grade"]["status"] == "evaluated"
    metrics = pd.read_csv(tmp_path / "metrics.tsv", sep="\t")
    assert list(metrics.columns[:4]) == ["model", "n", "coverage", "n_events"]


def test_a_modality_without_values_gets_no_ablation_and_n_features_counts_filled_columns(
        results, cohort):
    metrics = results.metrics.set_index("model")
    assert not {"xgboost_genotype_only", "xgboost_without_genotype"} & set(metrics.index)
    assert ("xgboost_genotype_only, xgboost_without_genotype: no genotype feature has a value "
            "for any labelled patient") in results.skipped_models
    matrix, labels, _, _ = cohort
    labelled = matrix[labels["objective_response"].notna().to_numpy()]
    features = [c for c in matrix.columns if c not in ("sample_id", "batch")]
    filled = [f for f in features if labelled[f].notna().any()]
    assert len(filled) < len(features)
    assert metrics.loc["xgboost", "n_features"] == len(filled)
    clinical = ["tumor_size_cm", "extrahepatic_metastasis", "tumor_number_gt3"]  # vp3_vp4 empty
    assert metrics.loc["xgboost_clinical_only", "n_features"] == len(clinical)
    assert metrics.loc["xgboost_without_clinical", "n_features"] == len(filled) - len(clinical)


def test_the_report_says_how_baselines_were_judged_and_what_was_available(results, cohort,
                                                                          tmp_path):
    from haicpred.report.render import render_report

    matrix, labels, dictionary, _ = cohort
    write_model_outputs(results, tmp_path)
    out = tmp_path / "report.html"
    render_report(out, tmp_path / "metrics.tsv", tmp_path / "oof_predictions.tsv",
                  tmp_path / "calibration.tsv", tmp_path / "feature_importance.tsv",
                  dictionary, matrix, labels, results.settings,
                  cv_metadata=tmp_path / CV_METADATA_FILE,
                  decision_curve=tmp_path / "decision_curve.tsv",
                  tuning=tmp_path / "tuning.tsv")
    html = out.read_text()
    assert "<th>coverage</th>" in html
    for name in ("bclc", "child_pugh_class", "gps"):
        assert f"{name} (no labelled patient has {name})" in html
    few = len(labelled_scores(cohort, "palbi_grade")[0])
    assert f"palbi_grade ({few} labelled patient(s) have palbi_grade" in html
    assert ("<code>vp3_vp4</code> (no value for any labelled patient)" in html
            and "<code>tumor_number_gt3</code> (the same value (0)" in html)
    assert "available: <code>tumor_size_cm</code>, <code>albi_grade</code>" in html
    # the ROC curve of a score is that of its own values: the same AUC as metrics.tsv
    metrics = results.metrics.set_index("model")
    for name in ("albi_grade", "crafity"):
        assert f"{name} AUC {metrics.loc[name, 'auc']:.3f}" in html
    assert "own hyper-parameters" in html
