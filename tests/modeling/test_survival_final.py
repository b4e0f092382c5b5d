"""The frozen survival model (haicpred.modeling.survival_final through fit_final_model) and its
scoring of a new batch (haicpred.modeling.predict), with real XGBoost, SHAP and
scikit-survival on simulated cohorts built by the package's own feature steps, after a real
survival cross-validation of the same data."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from haicpred.io.errors import InputError
from haicpred.io.tables import read_tsv, write_tsv
from haicpred.modeling.final_model import (METADATA_FILE, MODEL_FILE, NOMOGRAM_FILE,
                                           PREDICTIONS_FILE, SHAP_FILE, fit_final_model,
                                           training_data_sha256, write_final_model)
from haicpred.modeling.predict import load_final_model, predict
from haicpred.modeling.scoring import assign_risk_groups, risk_group_cutoffs
from haicpred.modeling.survival_estimators import XGBoostCox, breslow_cumulative_hazard
from haicpred.modeling.survival_final import (survival_prediction_columns,
                                              survival_training_columns)
from haicpred.radiomics.preprocessing import BATCH_COLUMN
from predict_helpers import FAST_SURVIVAL_FINAL, SURVIVAL_ENDPOINT, rescored_by_the_cli

HORIZONS = SURVIVAL_ENDPOINT["horizons_months"]
SURV = [f"surv_{h}m" for h in HORIZONS]
FILES = (MODEL_FILE, METADATA_FILE, SHAP_FILE, PREDICTIONS_FILE, NOMOGRAM_FILE)


def folder_digests(folder) -> dict[str, str]:
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in FILES}


def model_inputs(final, matrix: pd.DataFrame) -> pd.DataFrame:
    """The matrix as the in-memory booster sees it: the fitted radiomics step, then the
    booster's features in order."""
    X = matrix[final.metadata["candidate_features"]].astype(float).copy()
    X[BATCH_COLUMN] = matrix[BATCH_COLUMN].to_numpy()
    return final.preprocessor.transform(X)[final.feature_names]


def labelled_follow_up(cohort) -> pd.DataFrame:
    known = cohort.labels["os_months"].notna()
    return cohort.labels.loc[known, ["sample_id", "os_months", "os_event"]].astype(
        {"os_months": float, "os_event": int})


def test_the_folder_holds_json_and_tables_with_the_survival_columns(trained_survival):
    folder = trained_survival.model_dir
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)
    metadata = json.loads((folder / METADATA_FILE).read_text())
    assert metadata["format_version"] == 2 and metadata["model_kind"] == "survival"
    assert metadata["model_sha256"] == hashlib.sha256(
        (folder / MODEL_FILE).read_bytes()).hexdigest()
    assert json.loads((folder / MODEL_FILE).read_text())["learner"]["objective"]["name"] == (
        "survival:cox")
    predictions = read_tsv(folder / PREDICTIONS_FILE)
    assert list(predictions.columns) == survival_training_columns(HORIZONS) == [
        "sample_id", "batch", "labelled", "risk", *SURV, "risk_group", "top_contributors",
        "warnings"]
    follow_up = labelled_follow_up(trained_survival.train)
    own = predictions.set_index("sample_id")
    assert len(own) == len(trained_survival.train.matrix)
    assert set(own.index[own["labelled"] == "1"]) == set(follow_up["sample_id"])
    assert (own["labelled"] == "0").sum() == 3  # the patients without follow-up
    endpoint = metadata["endpoint"]
    assert (endpoint["time_column"], endpoint["event_column"]) == ("os_months", "os_event")
    assert metadata["n"] == endpoint["n_labelled"] == len(follow_up)
    assert metadata["n_events"] == endpoint["n_events"] == int(follow_up["os_event"].sum())
    assert metadata["n_unlabelled"] == 3
    assert metadata["horizons_months"] == [float(h) for h in HORIZONS]
    # S(t) is a survival probability, falling with the horizon and with the risk
    surv = trained_survival.final.predictions[SURV].to_numpy()
    assert ((surv > 0) & (surv < 1)).all() and (np.diff(surv, axis=1) <= 0).all()
    order = np.argsort(trained_survival.final.predictions["risk"].to_numpy())
    assert (np.diff(surv[order], axis=0) <= 0).all()


def test_same_inputs_give_a_byte_identical_folder(trained_survival, tmp_path):
    train = trained_survival.train
    again = fit_final_model(train.matrix, train.labels, train.dictionary, FAST_SURVIVAL_FINAL,
                            cv_metrics=trained_survival.cv_metrics,
                            cv_oof=trained_survival.cv_oof)
    write_final_model(again, tmp_path)
    assert folder_digests(tmp_path) == folder_digests(trained_survival.model_dir)


def test_the_metadata_baseline_hazard_is_breslow_of_the_final_booster(trained_survival):
    """By definition: Breslow's H0 of the labelled patients' times and events under the final
    booster's risks, and S(h) = exp(-H0(h) exp(risk)) with H0 the step function."""
    final = trained_survival.final
    hazard = json.loads((trained_survival.model_dir / METADATA_FILE).read_text())[
        "baseline_hazard"]
    follow_up = labelled_follow_up(trained_survival.train).set_index("sample_id")
    own = final.predictions.set_index("sample_id").loc[follow_up.index]
    times, h0 = breslow_cumulative_hazard(follow_up["os_months"].to_numpy(),
                                          follow_up["os_event"].to_numpy(),
                                          own["risk"].to_numpy())
    np.testing.assert_allclose(hazard["event_times"], times, rtol=0, atol=0)
    np.testing.assert_allclose(hazard["cumulative_hazard"], h0, rtol=1e-12)
    events = follow_up.loc[follow_up["os_event"] == 1, "os_months"]
    assert hazard["event_times"] == sorted(set(events))
    for column, horizon in zip(SURV, HORIZONS):
        last = max(i for i, t in enumerate(hazard["event_times"]) if t <= horizon)
        expected = np.exp(-hazard["cumulative_hazard"][last] * np.exp(own["risk"]))
        np.testing.assert_allclose(own[column], expected, rtol=1e-12)


def test_scoring_with_the_frozen_model_reproduces_the_in_process_survival_exactly(
        trained_survival, tmp_path):
    """The acceptance test: the training matrix scored from the folder gives the final model's
    risk and S(t) bit for bit, in memory and after the TSV round trip, and both equal
    XGBoostCox.predict of the in-process model."""
    final, train = trained_survival.final, trained_survival.train
    scored = predict(train.matrix, train.dictionary, trained_survival.model_dir)
    assert list(scored.columns) == survival_prediction_columns(HORIZONS)
    own = final.predictions.set_index("sample_id")
    got = scored.set_index("sample_id").loc[own.index]
    for column in ["risk", *SURV]:
        assert np.array_equal(got[column].to_numpy(), own[column].to_numpy()), column
    in_process = pd.DataFrame(final.model.predict(model_inputs(final, train.matrix)),
                              index=train.matrix["sample_id"], columns=["risk", *SURV])
    assert isinstance(final.model, XGBoostCox)
    assert np.array_equal(in_process.loc[own.index].to_numpy(), own[["risk", *SURV]].to_numpy())
    for column in ("risk_group", "top_contributors", "warnings"):
        assert got[column].fillna("").tolist() == own[column].fillna("").tolist()
    # the written tables: the same text, cell for cell
    write_tsv(scored, tmp_path / "scored.tsv")
    written = read_tsv(trained_survival.model_dir / PREDICTIONS_FILE).set_index("sample_id")
    rescored = read_tsv(tmp_path / "scored.tsv").set_index("sample_id").loc[written.index]
    assert rescored[["risk", *SURV]].equals(written[["risk", *SURV]])
    # and a new batch: the frozen model equals the in-process one there too
    new = trained_survival.new
    scored_new = predict(new.matrix, new.dictionary, trained_survival.model_dir)
    expected = final.model.predict(model_inputs(final, new.matrix))
    by_id = dict(zip(new.matrix["sample_id"], expected))
    assert np.array_equal(scored_new[["risk", *SURV]].to_numpy(),
                          np.array([by_id[s] for s in scored_new["sample_id"]]))


def test_risk_groups_are_tertiles_of_the_out_of_fold_risk(trained_survival):
    metadata = trained_survival.final.metadata
    oof = trained_survival.cv_oof
    rows = oof[oof["model"] == "xgboost"]
    assert rows["repeat"].nunique() == 2
    mean = rows.assign(risk=rows["risk"].astype(float)).groupby("sample_id")["risk"].mean()
    groups = metadata["risk_groups"]
    assert groups["cutoffs"] == list(np.quantile(mean.to_numpy(), [1 / 3, 2 / 3]))
    assert "out-of-fold xgboost risks" in groups["rule"]
    assert groups["assignment"].startswith("low: risk < c1")
    predictions = trained_survival.final.predictions
    assert list(predictions["risk_group"]) == list(assign_risk_groups(predictions["risk"],
                                                                      groups))
    # the CV's xgboost row, with its C-index and CI
    cv = metadata["cv_metrics"]
    metrics = trained_survival.cv_metrics.set_index("model").loc["xgboost"]
    assert cv["c_index"] == float(metrics["c_index"]) and 0 < cv["c_index"] < 1
    assert cv["c_index_low"] < cv["c_index"] < cv["c_index_high"]


def test_fixed_risk_cutoffs_on_the_risk_scale():
    groups = risk_group_cutoffs([-0.5, 0.8], None, "", scale="risk")
    assert list(assign_risk_groups(np.array([-2, -0.5, 0.79, 0.8, 3]), groups)) == [
        "low", "intermediate", "intermediate", "high", "high"]
    for bad in ([0.8, -0.5], [0.1], [0, float("inf")], "quartiles"):
        with pytest.raises(ValueError, match="risk_groups"):
            risk_group_cutoffs(bad, np.linspace(-1, 1, 10), "", scale="risk")


def test_shap_is_on_the_log_relative_hazard_scale(trained_survival):
    """SHAP values plus the base value give back each patient's risk (the booster's margin, to
    XGBoost's float32), and the top contributors name features of the model."""
    from haicpred.modeling.explain import shap_values

    final, train = trained_survival.final, trained_survival.train
    X = model_inputs(final, train.matrix)
    values, base = shap_values(final.model.model_, X)
    np.testing.assert_allclose(values.sum(axis=1) + base, final.model.predict_risk(X),
                               atol=1e-4)
    assert "log relative hazard" in final.metadata["shap"]["explainer"]
    importance = read_tsv(trained_survival.model_dir / SHAP_FILE)
    assert set(importance["feature"]) == set(final.feature_names)
    first = final.predictions["top_contributors"].iloc[0].split("; ")[0].split(" (")[0]
    assert first.split("=missing")[0] in final.feature_names


def test_a_new_batch_gets_the_warnings_of_today(trained_survival):
    """Out-of-range values, a missing modality and an absent feature are named per sample, as
    for a binary model."""
    new = trained_survival.new
    matrix = new.matrix.copy()
    ranges = trained_survival.final.metadata["feature_ranges"]
    matrix.loc[0, "tumor_size_cm"] = ranges["tumor_size_cm"]["max"] + 10
    genotype = [f for f, m in trained_survival.final.metadata["feature_modality"].items()
                if m == "genotype"]
    matrix.loc[1, genotype] = np.nan
    matrix = matrix.drop(columns=["age"])
    scored = predict(matrix, new.dictionary, trained_survival.model_dir).set_index("sample_id")
    first, second = matrix["sample_id"].iloc[:2]
    assert "tumor_size_cm" in scored.loc[first, "warnings"]
    assert "> max" in scored.loc[first, "warnings"]
    assert "missing modality: genotype" in scored.loc[second, "warnings"]
    assert scored["warnings"].str.contains("features absent from the matrix, scored as "
                                           "missing: age").all()
    assert set(scored["risk_group"]) <= {"low", "intermediate", "high"}


def test_the_training_checksum_covers_the_follow_up(trained_survival):
    train = trained_survival.train
    metadata = trained_survival.final.metadata
    digest = training_data_sha256(train.matrix, train.labels, train.dictionary,
                                  FAST_SURVIVAL_FINAL)
    assert digest == metadata["training_data"]["sha256"]
    changed = train.labels.copy()
    first = int(np.flatnonzero(changed["os_event"].notna())[0])
    changed.loc[first, "os_months"] = str(float(changed.loc[first, "os_months"]) + 0.1)
    assert training_data_sha256(train.matrix, changed, train.dictionary,
                                FAST_SURVIVAL_FINAL) != digest


def test_tuning_chooses_the_final_cox_booster(trained_survival):
    train = trained_survival.train
    settings = {**FAST_SURVIVAL_FINAL, "tuning": {
        "enabled": True, "n_candidates": 2, "inner_folds": 2, "max_estimators": 40,
        "early_stopping_rounds": 5}}
    final = fit_final_model(train.matrix, train.labels, train.dictionary, settings)
    metadata = final.metadata
    assert "survival_tuning.tune_cox_xgboost" in metadata["hyperparameters"]
    chosen = metadata["tuning"]["chosen"]
    assert len(metadata["tuning"]["trace"]) == 2
    assert final.model.n_estimators == chosen["n_estimators"] <= 40
    assert metadata["xgboost_params"]["max_depth"] == chosen["max_depth"]


def test_a_model_folder_of_another_format_or_without_its_baseline_is_refused(
        trained_survival, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(trained_survival.model_dir, folder)
    path = folder / METADATA_FILE
    original = json.loads(path.read_text())
    path.write_text(json.dumps({**original, "format_version": 4}))
    with pytest.raises(InputError, match="format_version: is 4; this version of haicpred "
                                         "reads 1, 2, 3"):
        load_final_model(folder)
    broken = {**original, "baseline_hazard": {**original["baseline_hazard"],
                                              "cumulative_hazard": [1.0]}}
    path.write_text(json.dumps(broken))
    with pytest.raises(InputError, match="baseline_hazard: must have increasing event_times"):
        load_final_model(folder)
    path.write_text(json.dumps({k: v for k, v in original.items() if k != "baseline_hazard"}))
    with pytest.raises(InputError, match="lacks baseline_hazard"):
        load_final_model(folder)


def test_no_event_in_the_follow_up_is_refused_by_name(trained_survival):
    train = trained_survival.train
    labels = train.labels.assign(os_event=train.labels["os_event"].where(
        train.labels["os_event"].isna(), 0.0))
    with pytest.raises(InputError, match="column os_event: .* none with the event"):
        fit_final_model(train.matrix, labels, train.dictionary, FAST_SURVIVAL_FINAL)


def test_haicpred_predict_on_the_matrix_file_reproduces_the_training_survival(
        trained_survival, tmp_path):
    """As the workflow runs it: the final model fitted on feature_matrix.tsv as read from disk,
    then `haicpred predict` on the same file: risk and S(t) cells equal to the training run's
    predictions.tsv, character for character."""
    scored, written = rescored_by_the_cli(trained_survival.train, FAST_SURVIVAL_FINAL, tmp_path)
    assert list(scored.columns) == survival_prediction_columns(HORIZONS)[1:]
    columns = ["risk", *SURV, "risk_group", "top_contributors", "warnings"]
    assert scored.loc[written.index, columns].equals(written[columns])
