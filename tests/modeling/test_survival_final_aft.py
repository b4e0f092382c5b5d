"""The frozen survival model with XGBoost's AFT objective (setting ``survival_objective: aft``)
and its scoring by ``predict``: fitted as the cross-validation's xgboost spec fits it, S(t) from
the normal AFT distribution (no Breslow baseline), SHAP on the risk scale, and a scoring run that
reproduces the in-process risk and S(t) bit for bit. Real XGBoost, SHAP and scikit-survival on
simulated cohorts built by the package's own feature steps, after a real AFT cross-validation of
the same data."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xgboost
from scipy.stats import norm

from haicpred.io.errors import InputError
from haicpred.io.tables import read_tsv, write_tsv
from haicpred.modeling.cross_validation import cross_validate_models
from haicpred.modeling.explain import shap_values
from haicpred.modeling.final_model import (METADATA_FILE, MODEL_FILE, NOMOGRAM_FILE,
                                           PREDICTIONS_FILE, FinalModel, fit_final_model,
                                           write_final_model)
from haicpred.modeling.predict import load_final_model, predict
from haicpred.modeling.scoring import assign_risk_groups
from haicpred.modeling.survival_aft import XGBoostAFT
from haicpred.modeling.survival_estimators import cox_booster_params, survival_array
from haicpred.modeling.survival_final import (survival_prediction_columns,
                                              survival_training_columns)
from haicpred.radiomics.preprocessing import BATCH_COLUMN
from predict_helpers import (FAST_SURVIVAL_CV, FAST_SURVIVAL_FINAL, SURVIVAL_ENDPOINT, Cohort,
                             build_cohort, rescored_by_the_cli)

HORIZONS = SURVIVAL_ENDPOINT["horizons_months"]
SURV = [f"surv_{h}m" for h in HORIZONS]
AFT_FINAL = {**FAST_SURVIVAL_FINAL, "survival_objective": "aft"}
AFT_CV = {**FAST_SURVIVAL_CV, "survival_objective": "aft"}


@dataclass
class TrainedAFT:
    train: Cohort
    new: Cohort
    final: FinalModel
    model_dir: Path
    cv_oof: pd.DataFrame
    cox_dir: Path  # the Cox final model of the same data and settings


@pytest.fixture(scope="module")
def trained_aft(tmp_path_factory) -> TrainedAFT:
    """An AFT frozen model on 150 simulated patients (2 batches, 3 without follow-up), after an
    AFT cross-validation of the same data (its oof_predictions.tsv through the TSV file, as the
    workflow reads it); the Cox final model of the same data; a new cohort of 60 to score."""
    root = tmp_path_factory.mktemp("aft_final_model")
    train = build_cohort(root / "train", 150, 2, seed=21)
    train.labels.loc[[3, 40, 77], ["os_months", "os_event"]] = float("nan")
    new = build_cohort(root / "new", 60, 2, seed=22)
    cv = cross_validate_models(train.matrix, train.labels, train.dictionary, AFT_CV)
    write_tsv(cv.metrics, root / "metrics.tsv")
    write_tsv(cv.oof, root / "oof_predictions.tsv")
    cv_metrics, cv_oof = read_tsv(root / "metrics.tsv"), read_tsv(root / "oof_predictions.tsv")
    final = fit_final_model(train.matrix, train.labels, train.dictionary, AFT_FINAL,
                            cv_metrics=cv_metrics, cv_oof=cv_oof)
    write_final_model(final, root / "model")
    cox = fit_final_model(train.matrix, train.labels, train.dictionary, FAST_SURVIVAL_FINAL)
    write_final_model(cox, root / "cox")
    return TrainedAFT(train, new, final, root / "model", cv_oof, root / "cox")


def model_inputs(final: FinalModel, matrix: pd.DataFrame) -> pd.DataFrame:
    """The matrix as the in-memory booster sees it: the fitted radiomics step, then the
    booster's features in order."""
    X = matrix[final.metadata["candidate_features"]].astype(float).copy()
    X[BATCH_COLUMN] = matrix[BATCH_COLUMN].to_numpy()
    return final.preprocessor.transform(X)[final.feature_names]


def margin(final: FinalModel, X: pd.DataFrame) -> np.ndarray:
    """The booster's own margin: the predicted log time."""
    return final.model.get_booster().predict(xgboost.DMatrix(X), output_margin=True).astype(float)


def metadata_of(folder: Path) -> dict:
    return json.loads((folder / METADATA_FILE).read_text())


def test_the_folder_records_the_aft_objective_distribution_and_scale(trained_aft):
    folder = trained_aft.model_dir
    metadata = metadata_of(folder)
    assert metadata["format_version"] == 2 and metadata["model_kind"] == "survival"
    assert metadata["xgboost_params"]["objective"] == "survival:aft"
    assert metadata["xgboost_params"]["eval_metric"] == "aft-nloglik"
    aft = metadata["aft"]
    assert (aft["objective"], aft["distribution"], aft["scale"]) == (
        "survival:aft", "normal", 1.0)
    assert "1 - Phi((log t - mu(x)) / scale)" in aft["survival"]
    assert "baseline_hazard" not in metadata and aft["baseline_hazard"].startswith("none")
    assert "XGBoostAFT" in metadata["model"] and "predicted log time" in metadata["risk"]
    # the booster file says the same
    learner = json.loads((folder / MODEL_FILE).read_text())["learner"]
    assert learner["objective"]["name"] == "survival:aft"
    assert learner["objective"]["aft_loss_param"] == {"aft_loss_distribution": "normal",
                                                      "aft_loss_distribution_scale": "1"}
    predictions = read_tsv(folder / PREDICTIONS_FILE)
    assert list(predictions.columns) == survival_training_columns(HORIZONS)
    assert (predictions["labelled"] == "0").sum() == 3
    surv = trained_aft.final.predictions[SURV].to_numpy()
    assert ((surv > 0) & (surv < 1)).all() and (np.diff(surv, axis=1) < 0).all()
    order = np.argsort(trained_aft.final.predictions["risk"].to_numpy(), kind="mergesort")
    assert (np.diff(surv[order], axis=0) <= 0).all()


def test_the_booster_is_the_cross_validations_xgboost_fitted_on_every_labelled_patient(
        trained_aft):
    """By definition: XGBoostAFT with the endpoint's parameters (model.xgboost minus the binary
    keys, the seed, one thread), fitted on the radiomics step's output of the labelled rows,
    predicts what the final model does, exactly."""
    final, train = trained_aft.final, trained_aft.train
    assert isinstance(final.model, XGBoostAFT)
    settings = final.metadata["settings"]
    assert list(train.labels["sample_id"]) == list(train.matrix["sample_id"])
    labelled = train.labels["os_months"].notna().to_numpy()
    X = model_inputs(final, train.matrix)
    y = survival_array(train.labels.loc[labelled, "os_months"].astype(float),
                       train.labels.loc[labelled, "os_event"].astype(float) == 1)
    direct = XGBoostAFT(tuple(float(h) for h in HORIZONS), random_state=settings["seed"],
                        n_jobs=1, **cox_booster_params(settings["xgboost"]))
    direct.fit(X.loc[labelled].reset_index(drop=True), y)
    assert direct.n_estimators == final.model.n_estimators == 60
    assert np.array_equal(direct.predict(X), final.model.predict(X))


def test_survival_is_the_normal_aft_distribution_of_the_margin(trained_aft):
    """By definition: risk = -margin and S(h) = 1 - Phi((log h - margin) / scale), the margin
    read from the booster itself, the scale from the metadata."""
    final, train = trained_aft.final, trained_aft.train
    scale = final.metadata["aft"]["scale"]
    mu = pd.Series(margin(final, model_inputs(final, train.matrix)),
                   index=train.matrix["sample_id"].astype(str))
    own = final.predictions.set_index("sample_id")
    mu = mu.loc[own.index].to_numpy()
    assert np.array_equal(own["risk"].to_numpy(), -mu)
    for column, horizon in zip(SURV, HORIZONS):
        expected = 1.0 - norm.cdf((np.log(horizon) - mu) / scale)
        np.testing.assert_allclose(own[column].to_numpy(), expected, rtol=0, atol=1e-13)


def test_scoring_with_the_frozen_aft_model_reproduces_the_in_process_survival_exactly(
        trained_aft, tmp_path):
    """The acceptance test for AFT: the training matrix scored from the folder gives the final
    model's risk and S(t) bit for bit, in memory and after the TSV round trip, and a new batch
    scored from the folder equals XGBoostAFT.predict of the in-process model."""
    final, train = trained_aft.final, trained_aft.train
    frozen = load_final_model(trained_aft.model_dir)
    assert isinstance(frozen.model, XGBoostAFT) and frozen.model.scale == 1.0
    scored = predict(train.matrix, train.dictionary, trained_aft.model_dir)
    assert list(scored.columns) == survival_prediction_columns(HORIZONS)
    own = final.predictions.set_index("sample_id")
    got = scored.set_index("sample_id").loc[own.index]
    for column in ["risk", *SURV]:
        assert np.array_equal(got[column].to_numpy(), own[column].to_numpy()), column
    in_process = pd.DataFrame(final.model.predict(model_inputs(final, train.matrix)),
                              index=train.matrix["sample_id"], columns=["risk", *SURV])
    assert np.array_equal(in_process.loc[own.index].to_numpy(), own[["risk", *SURV]].to_numpy())
    for column in ("risk_group", "top_contributors", "warnings"):
        assert got[column].fillna("").tolist() == own[column].fillna("").tolist()
    write_tsv(scored, tmp_path / "scored.tsv")
    written = read_tsv(trained_aft.model_dir / PREDICTIONS_FILE).set_index("sample_id")
    rescored = read_tsv(tmp_path / "scored.tsv").set_index("sample_id").loc[written.index]
    assert rescored[["risk", *SURV, "risk_group", "top_contributors"]].equals(
        written[["risk", *SURV, "risk_group", "top_contributors"]])
    new = trained_aft.new
    scored_new = predict(new.matrix, new.dictionary, trained_aft.model_dir)
    expected = final.model.predict(model_inputs(final, new.matrix))
    by_id = dict(zip(new.matrix["sample_id"], expected))
    assert np.array_equal(scored_new[["risk", *SURV]].to_numpy(),
                          np.array([by_id[s] for s in scored_new["sample_id"]]))
    assert list(scored_new["risk_group"]) == list(
        assign_risk_groups(scored_new["risk"].to_numpy(), final.metadata["risk_groups"]))


def test_shap_is_the_margins_treeshap_on_the_risk_scale(trained_aft):
    """SHAP values plus the base value give back each patient's risk (minus the predicted log
    time, to XGBoost's float32), and are minus the TreeSHAP values of the booster's margin: +
    raises the risk. The metadata says so."""
    final, train = trained_aft.final, trained_aft.train
    X = model_inputs(final, train.matrix)
    raw, raw_base = shap_values(final.model.get_booster(), X)
    np.testing.assert_allclose(raw.sum(axis=1) + raw_base, margin(final, X), atol=1e-4)
    explainer = final.metadata["shap"]["explainer"]
    assert "predicted log time" in explainer and "sign flipped" in explainer
    assert final.metadata["shap"]["base_value"] == -raw_base
    own = final.predictions.set_index("sample_id")
    by_id = dict(zip(train.matrix["sample_id"], range(len(X))))
    first = own.index[0]
    name, value = own.loc[first, "top_contributors"].split("; ")[0].split(" (")
    feature = name.split("=missing")[0]
    assert float(value.rstrip(")")) == pytest.approx(-raw.iloc[by_id[first]][feature], abs=5e-4)


def test_risk_groups_are_tertiles_of_the_aft_out_of_fold_risk(trained_aft):
    rows = trained_aft.cv_oof[trained_aft.cv_oof["model"] == "xgboost"]
    mean = rows.assign(risk=rows["risk"].astype(float)).groupby("sample_id")["risk"].mean()
    groups = trained_aft.final.metadata["risk_groups"]
    assert groups["cutoffs"] == list(np.quantile(mean.to_numpy(), [1 / 3, 2 / 3]))
    assert "predicted log time" in groups["risk_of"]


def test_the_nomogram_is_the_cox_models_whatever_the_booster(trained_aft):
    """The nomogram is the Cox model on the published factors: the same file as the Cox final
    model's of the same data."""
    assert (trained_aft.model_dir / NOMOGRAM_FILE).read_bytes() == (
        trained_aft.cox_dir / NOMOGRAM_FILE).read_bytes()
    assert metadata_of(trained_aft.model_dir)["nomogram"] == metadata_of(
        trained_aft.cox_dir)["nomogram"]


def test_same_inputs_give_a_byte_identical_aft_folder(trained_aft, tmp_path):
    train = trained_aft.train
    again = fit_final_model(train.matrix, train.labels, train.dictionary, AFT_FINAL,
                            cv_metrics=read_tsv(trained_aft.model_dir.parent / "metrics.tsv"),
                            cv_oof=trained_aft.cv_oof)
    write_final_model(again, tmp_path)
    for path in sorted(trained_aft.model_dir.iterdir()):
        assert hashlib.sha256((tmp_path / path.name).read_bytes()).digest() == hashlib.sha256(
            path.read_bytes()).digest(), path.name


def test_tuning_chooses_the_final_aft_booster_on_its_inner_aft_nloglik(trained_aft):
    train = trained_aft.train
    settings = {**AFT_FINAL, "tuning": {
        "enabled": True, "n_candidates": 3, "inner_folds": 2, "max_estimators": 40,
        "early_stopping_rounds": 5}}
    final = fit_final_model(train.matrix, train.labels, train.dictionary, settings)
    tuning = final.metadata["tuning"]
    assert "for the AFT booster" in tuning["search"] and "aft-nloglik" in tuning["search"]
    trace = pd.DataFrame(tuning["trace"])
    assert "inner_aft_nloglik" in trace.columns and "inner_cox_nloglik" not in trace.columns
    best = trace.loc[trace["inner_aft_nloglik"].idxmin()]
    assert int(best["chosen"]) == 1 and int(trace["chosen"].sum()) == 1
    assert final.model.n_estimators == tuning["chosen"]["n_estimators"] == int(
        best["n_estimators"]) <= 40
    assert final.metadata["xgboost_params"]["max_depth"] == tuning["chosen"]["max_depth"]
    assert isinstance(final.model, XGBoostAFT)


def edited_copy(trained_aft, tmp_path, change) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(trained_aft.model_dir, folder)
    path = folder / METADATA_FILE
    path.write_text(json.dumps(change(json.loads(path.read_text()))))
    return folder


def with_params(metadata: dict, **params) -> dict:
    return {**metadata, "xgboost_params": {**metadata["xgboost_params"], **params}}


@pytest.mark.parametrize("change, message", [
    (lambda m: with_params(m, objective="survival:weibull"),
     "xgboost_params.objective: is 'survival:weibull'; this version of haicpred scores survival "
     "models of objective survival:cox or survival:aft"),
    (lambda m: {k: v for k, v in m.items() if k != "xgboost_params"},
     "xgboost_params.objective: is missing"),
    (lambda m: {k: v for k, v in m.items() if k != "aft"}, "keys: lacks aft"),
    (lambda m: {**m, "aft": {"distribution": "normal"}}, "aft: is incomplete (KeyError"),
    (lambda m: {**m, "aft": {**m["aft"], "distribution": "logistic"}},
     "aft: must have distribution 'normal' and a positive scale"),
    (lambda m: {**m, "aft": {**m["aft"], "scale": 0}},
     "aft: must have distribution 'normal' and a positive scale"),
    (lambda m: {**m, "aft": {**m["aft"], "scale": 2.0}},
     "objective: is survival:aft with distribution normal and scale 1, model_metadata.json aft "
     "has normal and 2: the files come from different runs"),
])
def test_a_folder_whose_objective_or_aft_parameters_are_unusable_is_refused(
        trained_aft, tmp_path, change, message):
    folder = edited_copy(trained_aft, tmp_path, change)
    with pytest.raises(InputError) as error:
        load_final_model(folder)
    assert message in str(error.value) and "model_" in str(error.value)
    assert "give the results/model/final folder of a training run" in str(error.value)


def test_an_aft_booster_under_cox_metadata_is_refused(trained_aft, tmp_path):
    """The metadata edited to say Cox (with a Cox folder's baseline): the booster's own
    objective disagrees, so S(t) would be computed the wrong way; refused, naming the model."""
    cox = metadata_of(trained_aft.cox_dir)
    folder = edited_copy(trained_aft, tmp_path, lambda m: {
        **with_params(m, objective="survival:cox"), "baseline_hazard": cox["baseline_hazard"]})
    with pytest.raises(InputError, match=f"{MODEL_FILE}: objective: is 'survival:aft', "
                                         f"{METADATA_FILE} xgboost_params.objective is "
                                         "'survival:cox'"):
        load_final_model(folder)


def test_haicpred_predict_on_the_matrix_file_reproduces_the_training_aft_survival(
        trained_aft, tmp_path):
    """As the workflow runs it: the AFT final model fitted on feature_matrix.tsv as read from
    disk, then `haicpred predict` on the same file: risk and S(t) cells equal to the training
    run's predictions.tsv, character for character."""
    scored, written = rescored_by_the_cli(trained_aft.train, AFT_FINAL, tmp_path)
    assert list(scored.columns) == survival_prediction_columns(HORIZONS)[1:]
    columns = ["risk", *SURV, "risk_group", "top_contributors", "warnings"]
    assert scored.loc[written.index, columns].equals(written[columns])
