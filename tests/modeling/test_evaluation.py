"""metrics.tsv columns, decision curve, leave-one-batch-out, ablation rows and the permutation
check, with real XGBoost on the synthetic cohort of test_model (no mocks)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from haicpred.modeling.evaluation import DECISION_CURVE_COLUMNS, DECISION_THRESHOLDS, LOBO_COLUMNS
from haicpred.modeling.metrics import (auc_score, average_precision, delong_test, net_benefit,
                                       net_benefit_treat_all, sensitivity_specificity)
from haicpred.modeling.cross_validation import cross_validate_models, write_model_outputs
from haicpred.modeling.permutation import PERMUTATION_COLUMNS, permutation_check
from haicpred.io.tables import read_tsv
from model_helpers import SETTINGS, make_cohort

FAST = {**SETTINGS, "cv_repeats": 2, "threshold": 0.4,
        "tuning": {"n_candidates": 2, "inner_folds": 2, "max_estimators": 40,
                   "early_stopping_rounds": 10}}


@pytest.fixture(scope="module")
def cohort():
    return make_cohort()


@pytest.fixture(scope="module")
def results(cohort):
    matrix, labels, dictionary, truth = cohort
    return cross_validate_models(matrix, labels, dictionary, FAST, truth=truth)


def averaged_oof(results):
    """Per model, the repeat-averaged OOF probability and the label, by sample_id."""
    oof = results.oof
    mean = oof.groupby(["model", "sample_id"], sort=True).agg(
        y=("y_true", "first"), p=("y_prob", "mean")).reset_index()
    return {name: part for name, part in mean.groupby("model")}


def test_new_metric_columns_are_the_metrics_functions(results):
    metrics = results.metrics.set_index("model")
    per_model = averaged_oof(results)
    xgb = per_model["xgboost"]
    for name, part in per_model.items():
        if name == "albi_score":  # a published score: its own values (test_score_baselines)
            continue
        y, p = part["y"].to_numpy(dtype=int), part["p"].to_numpy()
        row = metrics.loc[name]
        assert row["auc"] == pytest.approx(auc_score(y, p), abs=1e-12)
        assert row["auprc"] == pytest.approx(average_precision(y, p), abs=1e-12)
        sensitivity, specificity = sensitivity_specificity(y, p, 0.4)
        assert row["threshold"] == 0.4
        assert row["sensitivity"] == pytest.approx(sensitivity)
        assert row["specificity"] == pytest.approx(specificity)
        if name == "xgboost":
            assert pd.isna(row["delong_p_vs_xgboost"])
        else:
            np.testing.assert_array_equal(part["sample_id"].to_numpy(),
                                          xgb["sample_id"].to_numpy())
            expected = delong_test(y, p, xgb["p"].to_numpy())["p_value"]
            assert row["delong_p_vs_xgboost"] == pytest.approx(expected, abs=1e-12)
            assert 0 <= row["delong_p_vs_xgboost"] <= 1
    # the oracle row gets the DeLong test too, on the truth
    assert 0 <= metrics.loc["oracle", "delong_p_vs_xgboost"] <= 1
    assert "paired bootstrap" in results.metadata["auc_ci_method"]
    assert "DeLong" in results.metadata["auc_ci_method"]


def test_decision_curve_rows(results, tmp_path):
    curve = results.decision_curve
    assert list(curve.columns) == DECISION_CURVE_COLUMNS
    # published scores are judged on their own patients only: no curve against treat-all of
    # the whole cohort
    models = [m for m in results.metrics["model"] if m != "albi_score"] + ["treat_all",
                                                                           "treat_none"]
    assert list(dict.fromkeys(curve["model"])) == models
    assert DECISION_THRESHOLDS == [f"{t / 100:.2f}" for t in range(5, 100, 5)]
    for model in models:
        assert list(curve.loc[curve["model"] == model, "threshold"]) == DECISION_THRESHOLDS
    per_model = averaged_oof(results)
    y = per_model["xgboost"]["y"].to_numpy(dtype=int)
    indexed = curve.set_index(["model", "threshold"])["net_benefit"]
    for t in ("0.05", "0.50", "0.95"):
        assert indexed[("xgboost", t)] == pytest.approx(
            net_benefit(y, per_model["xgboost"]["p"].to_numpy(), float(t)))
        assert indexed[("treat_all", t)] == pytest.approx(net_benefit_treat_all(y, float(t)))
        assert indexed[("treat_none", t)] == 0.0
    # written without float noise
    write_model_outputs(results, tmp_path)
    text = (tmp_path / "decision_curve.tsv").read_text().splitlines()
    assert text[0] == "model\tthreshold\tnet_benefit"
    assert text[1].startswith("xgboost\t0.05\t")
    assert text[-1] == "treat_none\t0.95\t0"


def test_leave_one_batch_out_rows(results, cohort):
    matrix, labels, _, _ = cohort
    lobo = results.lobo_metrics
    assert list(lobo.columns) == LOBO_COLUMNS
    assert list(zip(lobo["held_out_batch"], lobo["model"])) == [
        ("B1", "xgboost"), ("B1", "logistic_baseline"), ("B2", "xgboost"),
        ("B2", "logistic_baseline")]
    y = labels.set_index("sample_id")["objective_response"]
    for row in lobo.itertuples(index=False):
        in_batch = matrix.loc[matrix["batch"] == row.held_out_batch, "sample_id"]
        assert row.n == int(y[in_batch].notna().sum())
        assert row.n_events == int(y[in_batch].sum())
        assert row.auc_low <= row.auc <= row.auc_high
        assert 0 < row.brier < 0.3
    # ComBat cannot harmonise a batch it has not seen: said in the note for the radiomic model
    xgb = lobo[lobo["model"] == "xgboost"]
    assert xgb["note"].str.contains("not harmonised").all()
    assert (lobo.loc[lobo["model"] == "logistic_baseline", "note"] == "").all()
    tuning = results.tuning[results.tuning["scheme"] == "lobo"]
    assert list(tuning["held_out_batch"]) == ["B1", "B2"]


def test_a_one_class_batch_is_skipped_with_the_reason(cohort):
    matrix, labels, dictionary, _ = cohort
    matrix = matrix.copy()
    labels = labels.copy()
    # a third batch of 12 non-responders
    rows = labels.index[labels["objective_response"] == 0][:12]
    matrix.loc[rows, "batch"] = "B3"
    labels.loc[rows, "batch"] = "B3"
    res = cross_validate_models(matrix, labels, dictionary,
                                {**FAST, "cv_repeats": 1, "n_bootstrap": 0,
                                 "tuning": {"enabled": False}})
    b3 = res.lobo_metrics[res.lobo_metrics["held_out_batch"] == "B3"]
    assert len(b3) == 2
    assert b3["note"].str.contains("one class only").all()
    assert b3["auc"].isna().all()
    assert (b3["n"] == 12).all() and (b3["n_events"] == 0).all()


def test_ablation_rows_present_or_skipped_with_reasons(cohort):
    matrix, labels, dictionary, _ = cohort
    matrix = matrix.copy()
    dictionary = dictionary.copy()
    # a modality whose only feature never varies: its "only" model is skipped, "without" kept
    matrix["ihc_constant"] = 1.0
    dictionary.loc[len(dictionary)] = ["ihc_constant", "ihc", "", "constant"]
    fast = {**FAST, "cv_repeats": 1, "n_bootstrap": 0, "tuning": {"enabled": False}}
    res = cross_validate_models(matrix, labels, dictionary, fast)
    names = list(res.metrics["model"])
    assert "xgboost_ihc_only" not in names and "xgboost_without_ihc" in names
    assert any(s.startswith("xgboost_ihc_only: every ihc feature is constant")
               for s in res.skipped_models)
    for modality in ("clinical", "derived", "radiomics", "mutation"):
        assert f"xgboost_{modality}_only" in names and f"xgboost_without_{modality}" in names
    n_features = res.metrics.set_index("model")["n_features"]
    assert n_features["xgboost_without_ihc"] == n_features["xgboost"] - 1
    assert n_features["logistic_all_features"] == n_features["xgboost"]
    assert res.metadata["skipped_models"] == res.skipped_models
    # one modality only: no ablations, each with its reason
    radiomic = [f for f in dictionary["feature"] if f.startswith("rad_")]
    only_rad = matrix[["sample_id", "batch", *radiomic]]
    res = cross_validate_models(only_rad, labels, dictionary, fast)
    assert not [m for m in res.metrics["model"] if m.startswith("xgboost_")]
    assert "xgboost_radiomics_only: every feature is of modality radiomics, so it would " \
           "repeat xgboost" in res.skipped_models
    assert "xgboost_without_radiomics: every feature is of modality radiomics" in \
           res.skipped_models


def test_permutation_check_gives_chance_auc(cohort):
    """Shuffled labels through the same CV: the mean AUC over permutations is 0.50 +- 0.05."""
    matrix, labels, dictionary, _ = cohort
    table = permutation_check(matrix, labels, dictionary, {**SETTINGS, "cv_repeats": 2}, 12)
    assert list(table.columns) == PERMUTATION_COLUMNS
    assert list(table["permutation"]) == list(range(1, 13))
    assert abs(table["auc"].mean() - 0.5) < 0.05, table["auc"].describe()
    assert table["auc"].max() < 0.7
    # deterministic
    again = permutation_check(matrix, labels, dictionary, {**SETTINGS, "cv_repeats": 2}, 3)
    pd.testing.assert_frame_equal(again, table.iloc[:3])


def test_permutation_written_table_reads_back(cohort, tmp_path):
    from haicpred.io.tables import write_tsv

    matrix, labels, dictionary, _ = cohort
    table = permutation_check(matrix, labels, dictionary,
                              {**SETTINGS, "cv_repeats": 1, "permutations": 2})
    assert len(table) == 2
    write_tsv(table, tmp_path / "permutation.tsv")
    back = read_tsv(tmp_path / "permutation.tsv")
    assert list(back.columns) == PERMUTATION_COLUMNS
