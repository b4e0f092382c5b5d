"""haicpred.modeling.predict: a new simulated cohort scored with a saved final model (real XGBoost
and SHAP), its warnings, the checks of the model folder, and the workflow's scoring run."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil

import numpy as np
import pandas as pd
import pytest

from haicpred.io.errors import InputError
from haicpred.modeling.final_model import METADATA_FILE, MODEL_FILE
from haicpred.modeling.predict import PREDICTION_COLUMNS, load_final_model, predict
from haicpred.radiomics.preprocessing import BATCH_COLUMN
from haicpred.simulate import simulate_cohort
from haicpred.io.tables import read_tsv, write_tsv
from workflow_helpers import PANEL, SNPS, make_workdir, snakemake



def in_process_probabilities(final, matrix: pd.DataFrame) -> pd.Series:
    """The in-memory model (never written) on the matrix: radiomics step, then the booster."""
    X = matrix[final.feature_names].astype(float).copy()  # one block
    X[BATCH_COLUMN] = matrix[BATCH_COLUMN].to_numpy()
    X_model = final.preprocessor.transform(X)
    p = final.model.predict_proba(X_model[final.feature_names])[:, 1]
    return pd.Series(p, index=matrix["sample_id"].to_numpy())


def warnings_of(predictions: pd.DataFrame) -> pd.Series:
    return predictions.set_index("sample_id")["warnings"].fillna("")


def test_a_new_cohort_gets_the_probabilities_of_the_model_in_memory(trained):
    predictions = predict(trained.new.matrix, trained.new.dictionary, trained.model_dir)
    assert list(predictions.columns) == PREDICTION_COLUMNS
    assert list(predictions["sample_id"]) == sorted(trained.new.matrix["sample_id"])
    expected = in_process_probabilities(trained.final, trained.new.matrix)
    got = predictions.set_index("sample_id")["probability"]
    assert np.abs(got - expected.loc[got.index]).max() < 1e-6
    # and the training cohort as final_model scored it
    again = predict(trained.train.matrix, trained.train.dictionary, trained.model_dir)
    own = trained.final.predictions.set_index("sample_id")
    assert np.abs(again.set_index("sample_id")["probability"]
                  - own["probability"]).max() < 1e-6
    assert again["risk_group"].tolist() == own["risk_group"].tolist()
    assert again["top_contributors"].tolist() == own["top_contributors"].tolist()
    assert again["warnings"].fillna("").tolist() == own["warnings"].fillna("").tolist()


def test_columns_are_aligned_by_name_and_text_tables_are_read(trained):
    """Another column order, extra columns and every value as text (a table straight from
    read_tsv) give the same probabilities; the training batches are all harmonised."""
    matrix = trained.train.matrix
    expected = predict(matrix, None, trained.model_dir)
    assert not expected["warnings"].fillna("").str.contains("radiomics not harmonised").any()
    features = [c for c in matrix.columns if c not in ("sample_id", BATCH_COLUMN)]
    shuffled = matrix[["sample_id", BATCH_COLUMN] + features[::-1]].copy()
    shuffled["unused_extra"] = 1.0
    np.testing.assert_allclose(predict(shuffled, None, trained.model_dir)["probability"],
                               expected["probability"], rtol=0, atol=1e-12)
    as_text = matrix.astype(object).where(matrix.notna(), np.nan)
    as_text[features] = as_text[features].map(
        lambda v: v if isinstance(v, float) and np.isnan(v) else repr(float(v)))
    np.testing.assert_allclose(predict(as_text, None, trained.model_dir)["probability"],
                               expected["probability"], rtol=0, atol=1e-12)


def test_predictions_are_deterministic(trained, tmp_path):
    for name in ("a.tsv", "b.tsv"):
        write_tsv(predict(trained.new.matrix, trained.new.dictionary, trained.model_dir),
                  tmp_path / name)
    assert (tmp_path / "a.tsv").read_bytes() == (tmp_path / "b.tsv").read_bytes()


def test_a_shifted_feature_is_named_out_of_range(trained):
    matrix = trained.new.matrix.copy()
    matrix["tumor_size_cm"] = matrix["tumor_size_cm"] * 10
    warnings = warnings_of(predict(matrix, trained.new.dictionary, trained.model_dir))
    maximum = json.loads((trained.model_dir / METADATA_FILE).read_text())[
        "feature_ranges"]["tumor_size_cm"]["max"]
    above = matrix.set_index("sample_id")["tumor_size_cm"] > maximum
    assert above.sum() > 10
    flagged = warnings.str.contains(r"outside the training range: [^;]*tumor_size_cm \S+ > max")
    assert flagged.loc[above.index].equals(above)
    unshifted = warnings_of(predict(trained.new.matrix, None, trained.model_dir))
    assert not unshifted.str.contains("tumor_size_cm").any()


def test_missing_modalities_and_absent_columns_are_warned(trained):
    matrix = trained.new.matrix.copy()
    radiomic = [c for c in matrix.columns if c.startswith("rad_")]
    first = matrix["sample_id"].iloc[0]
    matrix.loc[0, radiomic] = np.nan
    warnings = warnings_of(predict(matrix, trained.new.dictionary, trained.model_dir))
    assert "missing modality: radiomics" in warnings[first]
    has_radiomics = trained.new.matrix.set_index("sample_id")[radiomic].notna().any(axis=1)
    others = has_radiomics.index[has_radiomics & (has_radiomics.index != first)]
    assert not warnings[others].str.contains("missing modality: radiomics").any()

    # a column the model needs is absent: warned for everyone and scored as missing
    dropped = matrix.drop(columns=["afp", "crp"])
    predictions = predict(dropped, None, trained.model_dir)
    assert predictions["warnings"].str.contains(
        "features absent from the matrix, scored as missing: afp, crp").all()
    as_missing = predict(matrix.assign(afp=np.nan, crp=np.nan), None, trained.model_dir)
    np.testing.assert_allclose(predictions["probability"], as_missing["probability"])


def test_an_unseen_batch_is_scored_unharmonised_with_a_warning(trained, caplog):
    matrix = trained.new.matrix.copy()
    matrix[BATCH_COLUMN] = matrix[BATCH_COLUMN].replace({"batch2": "hospital9"})
    with caplog.at_level(logging.WARNING, logger="haicpred.modeling.predict"):
        warnings = warnings_of(predict(matrix, None, trained.model_dir))
    batch = matrix.set_index("sample_id")[BATCH_COLUMN]
    has_radiomics = matrix.set_index("sample_id")["rad_original_shape_Sphericity"].notna()
    expected = (batch == "hospital9") & has_radiomics
    assert expected.sum() > 5
    flagged = warnings.str.contains("radiomics not harmonised: batch hospital9 not seen")
    assert flagged.loc[expected.index].equals(expected)
    # and once in the log: how many samples, which batch
    n_unseen = int((batch == "hospital9").sum())
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert (f"{n_unseen} sample(s) scored on unharmonised radiomic features: batch(es) not "
            "seen by ComBat in training: hospital9") in logged, logged
    # every batch seen in training: nothing logged
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="haicpred.modeling.predict"):
        predict(trained.new.matrix, None, trained.model_dir)
    assert not [r for r in caplog.records if "unharmonised" in r.getMessage()]


def test_a_unit_differing_from_training_is_flagged(trained):
    dictionary = trained.new.dictionary.copy()
    dictionary.loc[dictionary["feature"] == "afp", "unit"] = "IU/mL"
    predictions = predict(trained.new.matrix, dictionary, trained.model_dir)
    assert predictions["warnings"].str.contains(
        "unit differs from training: afp ('ng/mL' in training, 'IU/mL' here)",
        regex=False).all()


def copy_model(trained, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(trained.model_dir, folder)
    return folder


def rewrite_metadata(folder, change):
    metadata = json.loads((folder / METADATA_FILE).read_text())
    change(metadata)
    (folder / METADATA_FILE).write_text(json.dumps(metadata))


def refused(folder, *expected: str) -> str:
    with pytest.raises(InputError) as caught:
        load_final_model(folder)
    message = str(caught.value)
    for text in expected:
        assert text in message, message
    return message


def test_feature_order_and_checksums_are_checked(trained, tmp_path):
    folder = copy_model(trained, tmp_path)
    load_final_model(folder)  # intact

    def swap(metadata):
        names = metadata["feature_names"]
        names[0], names[1] = names[1], names[0]
    rewrite_metadata(folder, swap)
    refused(folder, str(folder / MODEL_FILE), "order included", "position 1")

    folder = copy_model(trained, tmp_path / "sha")
    rewrite_metadata(folder, lambda m: m.update(model_sha256="0" * 64))
    refused(folder, str(folder / MODEL_FILE), "not the metadata's model_sha256")

    folder = copy_model(trained, tmp_path / "ranges")
    rewrite_metadata(folder, lambda m: m["feature_ranges"].pop("age"))
    refused(folder, str(folder / METADATA_FILE), "no training range for age")


def test_missing_or_corrupt_files_are_refused_naming_the_file(trained, tmp_path):
    assert "does not exist" in refused(tmp_path / "nowhere", "nowhere")

    folder = copy_model(trained, tmp_path / "missing")
    (folder / MODEL_FILE).unlink()
    refused(folder, str(folder / MODEL_FILE), "is missing")

    # a truncated model file: its sha256 no longer matches
    folder = copy_model(trained, tmp_path / "truncated")
    data = (folder / MODEL_FILE).read_bytes()
    (folder / MODEL_FILE).write_bytes(data[: len(data) // 2])
    refused(folder, str(folder / MODEL_FILE), "sha256")

    # corrupt but re-hashed (someone "fixed" the checksum): XGBoost cannot read it
    folder = copy_model(trained, tmp_path / "rehashed")
    (folder / MODEL_FILE).write_bytes(b'{"learner": 42}')
    rewrite_metadata(folder, lambda m: m.update(model_sha256=hashlib.sha256(
        b'{"learner": 42}').hexdigest()))
    refused(folder, str(folder / MODEL_FILE), "not a readable XGBoost JSON model")

    folder = copy_model(trained, tmp_path / "metadata")
    (folder / METADATA_FILE).write_text('{"format": "haicpred final model", ')
    refused(folder, str(folder / METADATA_FILE), "not valid JSON")

    # metadata of another kind (no final-model format tag) is refused
    folder = copy_model(trained, tmp_path / "other")
    rewrite_metadata(folder, lambda m: m.pop("format"))
    refused(folder, str(folder / METADATA_FILE), "is not a 'haicpred final model' metadata file",
            "final_model rule")


def test_a_non_numeric_cell_is_refused_naming_the_column(trained):
    matrix = trained.new.matrix.astype({"age": object})
    matrix.loc[3, "age"] = "sixty"
    with pytest.raises(InputError, match="column age: non-numeric value"):
        predict(matrix, None, trained.model_dir)


def test_workflow_scores_a_new_cohort_without_training(demo_run, tmp_path):
    """A demo run trains (results/model/final); a second run on another simulated cohort with
    predict.model_dir only builds features and scores them."""
    final = demo_run / "results/model/final"
    for name in ["xgboost_model.json", "model_metadata.json", "shap_importance.tsv",
                 "predictions.tsv"]:
        assert (final / name).stat().st_size > 0, name
    workdir = make_workdir(tmp_path / "new", demo={"n_patients": 40, "n_batches": 2, "seed": 8})
    result = snakemake(workdir, "results/predictions/batch7.tsv", "--config",
                       f"predict={{model_dir: {final}, name: batch7}}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert not (workdir / "results/model").exists()
    out = read_tsv(workdir / "results/predictions/batch7.tsv")
    assert list(out.columns) == PREDICTION_COLUMNS
    matrix = read_tsv(workdir / "results/features/feature_matrix.tsv")
    assert sorted(out["sample_id"]) == sorted(matrix["sample_id"])
    expected = predict(matrix, None, final).set_index("sample_id")["probability"]
    assert np.abs(out.set_index("sample_id")["probability"].astype(float) - expected).max() < 1e-9
    # the default target of a scoring run is its predictions: nothing left to do, no training
    plan = snakemake(workdir, "--dry-run", "--config",
                     f"predict={{model_dir: {final}, name: batch7}}")
    assert plan.returncode == 0, plan.stderr[-3000:]
    assert "cross_validate_models" not in plan.stdout and "final_model" not in plan.stdout


def test_a_cohort_without_any_outcome_is_scored_in_full(demo_run, tmp_path):
    """A new batch before treatment: no best response, no survival columns filled. The
    scoring run accepts it and scores every patient; none is dropped for lacking a label."""
    cohort = tmp_path / "cohort"
    simulate_cohort(n_patients=40, n_batches=2, seed=9, out_dir=cohort, panel_path=PANEL,
                    snps_path=SNPS)
    clinical = read_tsv(cohort / "clinical.tsv")
    outcomes = [c for c in clinical.columns
                if c == "best_response" or c.startswith(("os_", "pfs_", "outcome_"))]
    assert "best_response" in outcomes
    write_tsv(clinical.assign(**{c: pd.NA for c in outcomes}), cohort / "clinical.tsv")
    final = demo_run / "results/model/final"
    workdir = make_workdir(tmp_path / "run",
                           predict={"model_dir": str(final), "name": "pre_treatment"},
                           **{key: str(cohort / f"{key}.tsv") for key in
                              ["samples", "clinical", "biomarkers", "radiomics"]})
    result = snakemake(workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    labels = read_tsv(workdir / "results/features/labels.tsv")
    assert labels["objective_response"].isna().all()
    out = read_tsv(workdir / "results/predictions/pre_treatment.tsv")
    assert sorted(out["sample_id"]) == sorted(read_tsv(cohort / "samples.tsv")["sample_id"])
    assert out["probability"].astype(float).between(0, 1).all()
    assert not (workdir / "results/model").exists()


def test_a_modality_no_sample_has_is_said_once_for_the_cohort(trained, caplog):
    """Issue 13 finding 8: a cohort without any genotype data gets one cohort-level note, not
    "missing modality: genotype" on every prediction; a modality that only some samples lack
    (radiomics here) is still warned per sample."""
    matrix = trained.new.matrix.copy()
    modality = json.loads((trained.model_dir / METADATA_FILE).read_text())["feature_modality"]
    genotype = [f for f, m in modality.items() if m == "genotype"]
    radiomic = [f for f, m in modality.items() if m == "radiomics"]
    assert genotype and radiomic
    matrix[genotype] = np.nan
    lacking = matrix["sample_id"].iloc[:3].tolist()
    matrix.loc[matrix["sample_id"].isin(lacking), radiomic] = np.nan
    with caplog.at_level(logging.WARNING, logger="haicpred"):
        predictions = predict(matrix, trained.new.dictionary, trained.model_dir)
    warnings = warnings_of(predictions)
    assert not warnings.str.contains("genotype").any()
    cohort_notes = [r.getMessage() for r in caplog.records
                    if "missing modality for the whole cohort" in r.getMessage()]
    assert cohort_notes == [f"missing modality for the whole cohort: genotype has no value in "
                            f"any of the {len(matrix)} scored sample(s); every prediction is "
                            "made without it (said once here, not in each sample's warnings)"]
    per_sample = warnings.str.contains(r"missing modality: [^;]*radiomics")
    without_radiomics = matrix.set_index("sample_id")[radiomic].isna().all(axis=1)
    assert without_radiomics[lacking].all() and not without_radiomics.all()
    assert per_sample.equals(without_radiomics.loc[per_sample.index].rename("warnings"))
    # a patient without a value is told so in its top contributors, e.g. "afp=missing (+0.2)"
    names = trained.final.feature_names
    contributions = predictions.set_index("sample_id")["top_contributors"]
    for sample in lacking:
        for part in filter(None, contributions[sample].split("; ")):
            name = part.split(" (")[0]
            if name.removesuffix("=missing") in radiomic:
                assert name.endswith("=missing")
    mentioned = [p.split(" (")[0] for text in contributions for p in text.split("; ") if p]
    assert all(m.removesuffix("=missing") in names for m in mentioned)
    present = matrix.set_index("sample_id")
    for sample, text in contributions.items():
        for part in filter(None, text.split("; ")):
            name = part.split(" (")[0]
            assert name.endswith("=missing") == pd.isna(present.loc[sample,
                                                                    name.removesuffix("=missing")])
