"""haicpred.modeling.cross_validation (and settings, inputs, endpoint) with real XGBoost on a small
synthetic cohort (no mocks)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import RepeatedStratifiedKFold

from haicpred.io.errors import InputError
from haicpred.modeling.cross_validation import (CV_METADATA_FILE, IMPORTANCE_COLUMNS, ModelResults,
                                                cross_validate_models, write_model_outputs)
from haicpred.modeling.endpoint import OOF_COLUMNS
from haicpred.modeling.evaluation import CALIBRATION_COLUMNS, METRIC_COLUMNS
from haicpred.modeling.inputs import PostTreatmentFeatureError
from haicpred.modeling.linear_start import LinearStartXGBClassifier
from haicpred.modeling.metrics import auc_score, calibration_intercept_slope
from haicpred.modeling.settings import ModelSettings, resolve_model_settings
from haicpred.radiomics.preprocessing import RadiomicsPreprocessor
from haicpred.io.tables import read_tsv, write_tsv
from haicpred.modeling.tuning import TUNED_PARAMETERS
from model_helpers import N, N_UNLABELLED, SETTINGS, make_cohort

# what only a fitted booster has: the CV metadata holds none of it (results/model/final/ does)
BOOSTER_KEYS = {"model", "model_format", "feature_names", "n_features", "model_file",
                "model_sha256", "radiomics_preprocessing"}
# modalities of make_cohort in column order: clinical, derived, radiomics, mutation
ABLATIONS = ["xgboost_clinical_only", "xgboost_without_clinical", "xgboost_derived_only",
             "xgboost_without_derived", "xgboost_radiomics_only", "xgboost_without_radiomics",
             "xgboost_mutation_only", "xgboost_without_mutation"]


@pytest.fixture(scope="module")
def cohort():
    return make_cohort()


@pytest.fixture(scope="module")
def results(cohort):
    matrix, labels, dictionary, truth = cohort
    return cross_validate_models(matrix, labels, dictionary, SETTINGS, truth=truth)


@pytest.fixture(scope="module")
def out_dir(results, tmp_path_factory):
    path = tmp_path_factory.mktemp("model")
    write_model_outputs(results, path)
    return path


def labelled_ids(labels):
    return sorted(labels.loc[labels["objective_response"].notna(), "sample_id"])


# --------------------------------------------------------------------------------------------


def test_folds_in_parallel_give_the_same_bytes(results, out_dir, cohort, tmp_path):
    """Outer folds and leave-one-batch-out splits run on `threads` worker threads: two
    threads must write exactly what one thread wrote (tuning, ComBat and all)."""
    matrix, labels, dictionary, truth = cohort
    parallel = cross_validate_models(matrix, labels, dictionary, {**SETTINGS, "threads": 2},
                                     truth=truth)
    write_model_outputs(parallel, tmp_path)
    written = sorted(path.name for path in out_dir.iterdir())
    assert written == sorted(path.name for path in tmp_path.iterdir())
    assert not results.lobo_metrics.empty and not results.tuning.empty
    for name in written:
        if name == "cv_metadata.json":  # records the thread count in its settings
            one = json.loads((out_dir / name).read_text())
            two = json.loads((tmp_path / name).read_text())
            assert one["settings"].pop("threads") == 1 and two["settings"].pop("threads") == 2
            assert one == two
        else:
            assert (out_dir / name).read_bytes() == (tmp_path / name).read_bytes(), name


def test_output_columns_and_rows(results, cohort):
    _, labels, _, _ = cohort
    assert list(results.oof.columns) == OOF_COLUMNS
    assert list(results.metrics.columns) == METRIC_COLUMNS
    assert list(results.calibration.columns) == CALIBRATION_COLUMNS
    assert list(results.importance.columns) == IMPORTANCE_COLUMNS
    models = ["xgboost", *ABLATIONS, "logistic_all_features", "logistic_baseline",
              "albi_score", "oracle"]
    assert list(results.metrics["model"]) == models
    n_features = results.metrics.set_index("model")["n_features"]
    assert n_features["xgboost_radiomics_only"] == 9  # rad_signal + 8 rad_noise
    assert n_features["xgboost_without_radiomics"] == 4
    assert n_features["xgboost"] == 13
    n_lab = len(labelled_ids(labels))
    fitted = results.metrics["model"] != "albi_score"
    assert (results.metrics.loc[fitted, "n"] == n_lab).all()
    assert (results.metrics.loc[fitted, "coverage"] == 1.0).all()
    # the published score: only the labelled patients who have it
    albi = results.metrics.set_index("model").loc["albi_score"]
    with_albi = sum(labels.set_index("sample_id").loc[labelled_ids(labels)].index.map(
        cohort[0].set_index("sample_id")["albi_score"]).notna())
    assert albi["n"] == with_albi < n_lab
    assert albi["coverage"] == pytest.approx(with_albi / n_lab)
    assert (results.metrics["n_unlabelled"] == N_UNLABELLED).all()
    assert results.n_unlabelled == N_UNLABELLED
    # logistic baseline uses only the Liu factors present in the matrix
    row = results.metrics.set_index("model").loc["logistic_baseline"]
    assert row["n_features"] == 2
    # oof sorted by model, repeat, sample_id; 1-based repeat/fold
    key = results.oof[["model", "repeat", "sample_id"]]
    assert key.equals(key.sort_values(["model", "repeat", "sample_id"]).reset_index(drop=True))
    assert results.oof["repeat"].min() == 1 and results.oof["fold"].min() == 1
    assert results.oof["fold"].max() == SETTINGS["cv_folds"]
    # calibration: 10 bins per model covering every labelled sample (a score: those with it)
    for model, part in results.calibration.groupby("model"):
        assert list(part["bin"]) == list(range(1, 11))
        assert part["n"].sum() == (with_albi if model == "albi_score" else n_lab)
    # importance normalised, sorted, ranked
    imp = results.importance
    assert imp["gain"].sum() == pytest.approx(1.0)
    assert list(imp["rank"]) == list(range(1, len(imp) + 1))
    assert (np.diff(imp["gain"].to_numpy()) <= 0).all()
    assert dict(zip(imp["feature"], imp["modality"]))["PIK3CD_mutated"] == "mutation"


def test_oof_covers_every_labelled_sample_once_per_repeat(results, cohort):
    _, labels, _, _ = cohort
    expected = labelled_ids(labels)
    matrix = cohort[0].set_index("sample_id")
    with_score = [s for s in expected if pd.notna(matrix.loc[s, "albi_score"])]
    for (model, repeat), part in results.oof.groupby(["model", "repeat"]):
        assert sorted(part["sample_id"]) == (with_score if model == "albi_score"
                                             else expected), (model, repeat)
        assert not part["sample_id"].duplicated().any()
        assert part["y_prob"].between(0, 1).all()
    assert set(results.oof["model"]) == {"xgboost", *ABLATIONS, "logistic_all_features",
                                         "logistic_baseline", "albi_score"}


def test_folds_are_the_stratified_splits_and_disjoint(results, cohort):
    matrix, labels, _, _ = cohort
    y_map = dict(zip(labels["sample_id"], labels["objective_response"]))
    ids = [s for s in matrix["sample_id"] if not np.isnan(y_map[s])]
    y = np.array([y_map[s] for s in ids], dtype=int)
    splitter = RepeatedStratifiedKFold(
        n_splits=SETTINGS["cv_folds"], n_repeats=SETTINGS["cv_repeats"],
        random_state=SETTINGS["seed"],
    )
    xgb_oof = results.oof[results.oof["model"] == "xgboost"]
    rate = y.mean()
    for split, (_, test) in enumerate(splitter.split(np.zeros(len(y)), y)):
        repeat, fold = divmod(split, SETTINGS["cv_folds"])
        part = xgb_oof[(xgb_oof["repeat"] == repeat + 1) & (xgb_oof["fold"] == fold + 1)]
        assert sorted(part["sample_id"]) == sorted(ids[i] for i in test)
        # stratified: the fold's responder share is close to the cohort's
        assert abs(part["y_true"].mean() - rate) < 0.05


def test_oof_prediction_never_uses_the_samples_own_label(results, cohort):
    """Refit on the training part only (radiomics step included): the OOF predictions must be
    reproduced exactly."""
    matrix, labels, dictionary, _ = cohort
    y_map = dict(zip(labels["sample_id"], labels["objective_response"]))
    keep = [not np.isnan(y_map[s]) for s in matrix["sample_id"]]
    lab = matrix[keep].reset_index(drop=True)
    y = lab["sample_id"].map(y_map).astype(int).to_numpy()
    train, test = next(
        RepeatedStratifiedKFold(
            n_splits=SETTINGS["cv_folds"], n_repeats=SETTINGS["cv_repeats"],
            random_state=SETTINGS["seed"],
        ).split(np.zeros(len(y)), y)
    )
    features = results.metadata["candidate_features"]
    radiomic = list(dictionary.loc[dictionary["modality"] == "radiomics", "feature"])
    pre = RadiomicsPreprocessor(radiomic_features=tuple(radiomic))
    train_x = pre.fit(lab.iloc[train][features + ["batch"]]).transform(
        lab.iloc[train][features + ["batch"]])
    assert pre.summary_["harmonised"]  # two batches, both in the training part
    # nested CV: the parameters tuned inside this training fold (tuning.tsv)
    tuned = results.tuning[(results.tuning["scheme"] == "cv") & (results.tuning["repeat"] == 1)
                           & (results.tuning["fold"] == 1)].iloc[0]
    params = {**results.metadata["xgboost_params"],
              **{k: tuned[k] for k in TUNED_PARAMETERS}}
    params["max_depth"], params["n_estimators"] = int(params["max_depth"]), int(
        params["n_estimators"])
    # the model of record boosts from a linear start that may leave the radiomics out
    model = LinearStartXGBClassifier(**params, linear_start=True,
                                     linear_folds=results.settings["tuning"]["inner_folds"],
                                     start_groups={"radiomics": radiomic})
    model.fit(train_x, y[train])
    expected = pd.Series(
        model.predict_proba(pre.transform(lab.iloc[test][features + ["batch"]]))[:, 1]
        .astype(float),
        index=lab["sample_id"].iloc[test],
    ).sort_index()
    got = results.oof[(results.oof["model"] == "xgboost") & (results.oof["repeat"] == 1)]
    got = got.set_index("sample_id").loc[expected.index, "y_prob"]
    np.testing.assert_array_equal(got.to_numpy(), expected.to_numpy())
    # the true labels in the OOF table are the labels, not something derived from predictions
    oof_y = results.oof.drop_duplicates("sample_id").set_index("sample_id")["y_true"]
    assert all(oof_y[s] == y_map[s] for s in oof_y.index)


def test_planted_signal_is_found(results):
    metrics = results.metrics.set_index("model")
    xgb = metrics.loc["xgboost"]
    # tuned (3 candidates, 2 inner folds) on ~140 patients per training fold: noisy choices
    assert xgb["auc"] > 0.67
    # the planted effects are linear: the penalised all-features logistic regression finds them
    assert metrics.loc["logistic_all_features", "auc"] > 0.72
    assert xgb["auc_low"] < xgb["auc"] < xgb["auc_high"]
    assert 0 < xgb["auc_repeat_sd"] < 0.1
    assert 0 < xgb["brier"] < 0.25
    for model in metrics.index:
        row = metrics.loc[model]
        assert row["auc_low"] <= row["auc"] <= row["auc_high"], model
    # oracle: true probability; the learned model does not beat it by much
    assert metrics.loc["oracle", "auc"] > 0.75
    assert metrics.loc["oracle", "auc_diff_vs_xgboost"] == pytest.approx(
        metrics.loc["oracle", "auc"] - xgb["auc"]
    )
    # the published score in its published direction carries some signal
    assert metrics.loc["albi_score", "auc"] > 0.5
    # planted features outrank the pure-noise ones
    rank = dict(zip(results.importance["feature"], results.importance["rank"]))
    assert rank["rad_signal"] <= 3 and rank["tumor_size_cm"] <= 3
    assert min(rank[f"rad_noise_{j}"] for j in range(8)) > 3


def test_noise_labels_give_chance_auc(cohort):
    matrix, labels, dictionary, _ = make_cohort(seed=11, noise_labels=True)
    res = cross_validate_models(matrix, labels, dictionary, SETTINGS)
    xgb = res.metrics.set_index("model").loc["xgboost"]
    # Leakage would push this well above 0.5. Under the null, CV AUCs scatter widely and are,
    # if anything, biased below 0.5 (anti-learning / stratification bias, Parker et al. 2007),
    # so only "not above chance" is asserted tightly.
    assert abs(xgb["auc"] - 0.5) < 0.15
    assert xgb["auc_low"] < 0.5
    assert xgb["auc_low"] <= xgb["auc"] <= xgb["auc_high"]
    assert "oracle" not in set(res.metrics["model"])


def test_unlabelled_samples_are_counted_but_not_trained_on(results, cohort):
    """(The final model scores them: tests/modeling/test_final_model.py.)"""
    matrix, labels, dictionary, _ = cohort
    unl = labels["objective_response"].isna().to_numpy()
    assert results.metadata["n_unlabelled"] == N_UNLABELLED
    assert results.metadata["n"] == N - N_UNLABELLED
    assert not set(results.oof["sample_id"]) & set(labels["sample_id"][unl])
    # scrambling the unlabelled samples' features changes nothing learned from the data
    changed = matrix.copy()
    features = results.metadata["candidate_features"]
    rng = np.random.default_rng(0)
    changed.loc[unl, features] = rng.normal(50, 10, size=(unl.sum(), len(features)))
    other = cross_validate_models(changed, labels, dictionary, SETTINGS)
    pd.testing.assert_frame_equal(other.oof, results.oof)
    pd.testing.assert_frame_equal(other.importance, results.importance)


def test_no_final_model_is_fitted(results, out_dir):
    """The one frozen model is results/model/final/ (haicpred.modeling.final_model): the CV returns
    and writes evaluation outputs only."""
    fields = set(ModelResults.__dataclass_fields__)
    assert not fields & {"model", "predictions", "feature_names"}
    assert not BOOSTER_KEYS & set(results.metadata)
    written = {p.name for p in out_dir.iterdir()}
    assert not written & {"xgboost_model.json", "model_metadata.json", "predictions.tsv"}
    assert not any(name.endswith((".json", ".ubj")) and name != CV_METADATA_FILE
                   for name in written)


def test_outputs_are_byte_identical(cohort, out_dir, tmp_path):
    matrix, labels, dictionary, truth = cohort
    again = cross_validate_models(matrix.copy(), labels.copy(), dictionary.copy(), SETTINGS,
                                  truth=truth.copy())
    write_model_outputs(again, tmp_path)
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(
        ["calibration.tsv", "cv_metadata.json", "decision_curve.tsv", "feature_importance.tsv",
         "lobo_metrics.tsv", "metrics.tsv", "oof_predictions.tsv", "radiomics_folds.tsv",
         "tuning.tsv"]
    )
    for name in names:
        assert (out_dir / name).read_bytes() == (tmp_path / name).read_bytes(), name


def test_written_tables_read_back(out_dir, results, cohort):
    metrics = read_tsv(out_dir / "metrics.tsv")
    assert list(metrics.columns) == METRIC_COLUMNS
    assert float(metrics.loc[0, "auc"]) == pytest.approx(results.metrics.loc[0, "auc"], abs=1e-9)
    assert metrics.loc[0, "auc_diff_vs_xgboost"] != metrics.loc[0, "auc_diff_vs_xgboost"]  # NaN
    meta = json.loads((out_dir / CV_METADATA_FILE).read_text())
    assert meta == json.loads(json.dumps(results.metadata))
    assert meta["candidate_features"] == [c for c in cohort[0].columns
                                          if c not in ("sample_id", "batch")]
    assert meta["radiomic_features"] == ["rad_signal", *(f"rad_noise_{j}" for j in range(8))]
    assert meta["n"] == int(results.metrics.loc[0, "n"])
    assert meta["n_unlabelled"] == N_UNLABELLED
    assert meta["label"]["column"] == "objective_response" and meta["label"]["positive_class"] == 1
    assert meta["models"] == list(results.metrics["model"][results.metrics["model"] != "oracle"])
    assert meta["cv_scheme"].startswith("RepeatedStratifiedKFold(n_splits=4, n_repeats=2")
    assert meta["tuning"]["enabled"] is True and "search" in meta["tuning"]
    assert {entry["model"] for entry in meta["radiomics_folds_summary"]} == {
        "xgboost", "xgboost_radiomics_only", "xgboost_without_clinical",
        "xgboost_without_derived", "xgboost_without_mutation", "logistic_all_features"}
    for key in ("auc_ci_method", "threshold", "leave_one_batch_out", "settings",
                "skipped_models", "allow_post_treatment", "post_treatment_features"):
        assert key in meta, key
    for package in ("haicpred", "xgboost", "scikit-learn", "numpy", "pandas"):
        assert package in meta["versions"]
    text = (out_dir / CV_METADATA_FILE).read_text()
    assert text == json.dumps(meta, sort_keys=True, indent=2) + "\n"


@pytest.mark.parametrize("how", ["prefix", "modality", "outcome"])
def test_post_treatment_columns_are_refused(cohort, how):
    matrix, labels, dictionary, _ = cohort
    matrix = matrix.copy()
    dictionary = dictionary.copy()
    name = {"prefix": "post_afp_ratio", "modality": "afp_response", "outcome": "pfs_months"}[how]
    matrix[name] = np.random.default_rng(0).normal(size=len(matrix))
    modality = "post_treatment" if how == "modality" else "biomarker"
    dictionary.loc[len(dictionary)] = [name, modality, "", "after treatment"]
    with pytest.raises(ValueError, match=name):
        cross_validate_models(matrix, labels, dictionary, SETTINGS)
    with pytest.raises(PostTreatmentFeatureError):
        cross_validate_models(matrix, labels, dictionary, SETTINGS)


def test_post_treatment_columns_only_with_allow_post_treatment(cohort):
    matrix, labels, dictionary, _ = cohort
    matrix, dictionary = matrix.copy(), dictionary.copy()
    for name, modality in [("post_afp_ratio", "post_treatment"),
                           ("afp_response", "post_treatment")]:
        matrix[name] = np.random.default_rng(0).normal(size=len(matrix))
        dictionary.loc[len(dictionary)] = [name, modality, "ratio", "after treatment"]
    with pytest.raises(PostTreatmentFeatureError, match="model.on_treatment"):
        cross_validate_models(matrix, labels, dictionary, SETTINGS)  # the default refuses
    with pytest.raises(PostTreatmentFeatureError):
        cross_validate_models(matrix, labels, dictionary,
                              {**SETTINGS, "allow_post_treatment": False})
    fast = {**SETTINGS, "cv_repeats": 1, "n_bootstrap": 0}
    results = cross_validate_models(matrix, labels, dictionary,
                                    {**fast, "allow_post_treatment": True})
    assert {"post_afp_ratio", "afp_response"} <= set(results.metadata["candidate_features"])
    assert {"post_afp_ratio", "afp_response"} <= set(results.importance["feature"])
    assert results.metadata["allow_post_treatment"] is True
    assert results.metadata["settings"]["allow_post_treatment"] is True
    assert results.metadata["post_treatment_features"] == ["post_afp_ratio", "afp_response"]
    # outcome columns stay refused whatever the setting
    matrix["pfs_months"] = labels["pfs_months"]
    dictionary.loc[len(dictionary)] = ["pfs_months", "clinical", "months", "outcome"]
    with pytest.raises(PostTreatmentFeatureError, match="pfs_months"):
        cross_validate_models(matrix, labels, dictionary, {**fast, "allow_post_treatment": True})


def test_default_metadata_records_no_post_treatment(results):
    assert results.metadata["allow_post_treatment"] is False
    assert results.metadata["post_treatment_features"] == []


def test_bad_inputs_are_collected(cohort):
    matrix, labels, dictionary, _ = cohort
    matrix = matrix.astype({"tumor_size_cm": object}).copy()
    matrix.loc[3, "tumor_size_cm"] = "big"
    matrix["undocumented"] = 1.0
    labels = labels.copy()
    labels.loc[5, "objective_response"] = 2
    with pytest.raises(InputError) as info:
        cross_validate_models(matrix, labels, dictionary, SETTINGS)
    text = str(info.value)
    assert "tumor_size_cm" in text and "undocumented" in text and "row 6" in text
    assert len(info.value.problems) == 3


def test_settings_defaults_and_errors():
    resolved = resolve_model_settings({})
    assert isinstance(resolved, ModelSettings) and resolve_model_settings(resolved) is resolved
    assert resolved.cv.folds == 5 and resolved.evaluation.n_bootstrap == 1000
    # resolved once, read-only afterwards
    with pytest.raises(dataclasses.FrozenInstanceError):
        resolved.cv.folds = 3
    with pytest.raises(TypeError):
        resolved.xgboost["max_depth"] = 3
    settings = resolved.as_dict()
    assert settings["cv_folds"] == 5 and settings["cv_repeats"] == 5
    assert settings["n_bootstrap"] == 1000 and settings["seed"] == 1
    assert settings["xgboost"]["max_depth"] == 2
    assert set(settings["score_baselines"]) == {"albi_grade", "palbi_grade", "child_pugh_class",
                                                "crafity", "gps", "bclc"}
    assert all(spec["direction"] == -1 for spec in settings["score_baselines"].values())
    assert resolve_model_settings({"xgboost": {"max_depth": 3}}).xgboost["n_estimators"] == 250
    assert settings["allow_post_treatment"] is False
    with pytest.raises(ValueError, match="allow_post_treatment"):
        resolve_model_settings({"allow_post_treatment": "yes"})
    with pytest.raises(ValueError, match="cv_fold"):
        resolve_model_settings({"cv_fold": 3})
    with pytest.raises(ValueError, match="random_state"):
        resolve_model_settings({"xgboost": {"random_state": 5}})
    with pytest.raises(ValueError, match="direction"):
        resolve_model_settings({"score_baselines": {"x": {"feature": "x", "direction": 2}}})


def test_statistics_helpers():
    rng = np.random.default_rng(5)
    p = rng.uniform(0.02, 0.98, 20000)
    y = (rng.random(p.size) < p).astype(int)
    intercept, slope = calibration_intercept_slope(y, p)
    assert abs(intercept) < 0.05 and abs(slope - 1) < 0.05
    # over-confident predictions: slope < 1
    extreme = 1 / (1 + np.exp(-2 * np.log(p / (1 - p))))
    assert calibration_intercept_slope(y, extreme)[1] == pytest.approx(0.5, abs=0.05)
    assert auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert auc_score([0, 1], [0.5, 0.5]) == pytest.approx(0.5)


def test_tables_read_as_text_are_accepted(cohort, tmp_path):
    """The workflow may hand over tables straight from read_tsv (strings, NaN for empty)."""
    matrix, labels, dictionary, _ = cohort
    for name, frame in (("m", matrix), ("l", labels), ("d", dictionary)):
        write_tsv(frame, tmp_path / f"{name}.tsv")
    text = {name: read_tsv(tmp_path / f"{name}.tsv") for name in ("m", "l", "d")}
    res = cross_validate_models(text["m"], text["l"], text["d"], SETTINGS)
    assert res.metrics.loc[0, "n"] == N - N_UNLABELLED
    assert res.metrics.loc[0, "n_unlabelled"] == N_UNLABELLED
    # nullable integer labels (as clinical.labels builds them) work too
    nullable = labels.copy()
    nullable["objective_response"] = nullable["objective_response"].astype("Int64")
    res2 = cross_validate_models(matrix, nullable, dictionary, SETTINGS)
    assert res2.metrics.loc[0, "n_unlabelled"] == N_UNLABELLED
