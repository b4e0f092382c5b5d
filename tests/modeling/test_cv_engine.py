"""The cross-validation engine is independent of the kind of outcome: a toy continuous endpoint
(regression, defined here) goes through the unchanged CV loop, leave-one-batch-out and
permutation check. Anything binary hard-coded in the loop (predict_proba, classes, AUC, y_prob,
stratifying by the raw label) makes these tests fail."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.model_selection import RepeatedStratifiedKFold
from sklearn.pipeline import Pipeline

from haicpred.io.errors import Problem
from haicpred.modeling.cross_validation import (IMPORTANCE_COLUMNS, RADIOMICS_FOLD_COLUMNS,
                                                cross_validate_models, run_cv, write_model_outputs)
from haicpred.modeling.endpoint import TUNING_SPLIT_COLUMNS, EndpointEvaluation, ModelEndpoint
from haicpred.modeling.estimators import ModelSpec, model_spec
from haicpred.modeling.inputs import prepare_data, to_float
from haicpred.modeling.permutation import permutation_check
from haicpred.modeling.settings import resolve_model_settings
from model_helpers import SETTINGS, make_cohort

TOY_OOF_COLUMNS = ["sample_id", "model", "repeat", "fold", "y_true", "y_pred"]


def ridge():
    return Pipeline([("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                     ("model", Ridge(alpha=1.0))])


class ToyContinuousEndpoint(ModelEndpoint):
    """A continuous outcome predicted by regression, judged by the mean absolute error."""

    label_column = "toy_value"
    held_out_models = ("ridge",)
    held_out_columns = ["held_out_batch", "model", "n", "mae", "note"]
    count_columns = ("n",)
    permutation_statistic_name = "mae"

    def __init__(self, values: dict, radiomics):
        self.values = values  # sample_id -> outcome (missing = unlabelled)
        self.radiomics = radiomics

    def labels(self, labels):
        value = labels["sample_id"].map(self.values)
        outcome = SimpleNamespace(name="toy_value", summary=lambda: {
            "definition": "a toy continuous outcome", "n_labelled": int(value.notna().sum())})
        return outcome, labels.assign(toy_value=value)

    def label_values(self, raw):
        values = to_float(raw)
        problems = [Problem("labels.tsv", f"row {row + 1}", "toy_value must be a number")
                    for row in np.flatnonzero((values.isna() & raw.notna()).to_numpy())]
        return values, problems

    def training_labels(self, values):
        return values.to_numpy(dtype=float)

    def check_class_sizes(self, outcome, y, folds):
        if len(y) < 2 * folds:
            raise ValueError("too few patients")

    def stratify(self, y):
        return (y > np.median(y)).astype(int)  # the two halves of the outcome

    def counts(self, y):
        return {"n": len(y)}

    def label_metadata(self, outcome):
        return {"column": outcome.name, **outcome.summary()}

    def model_specs(self, data):
        plain = [f for f in data.features if f not in data.radiomic]
        return ([ModelSpec("ridge", plain, ridge),
                 model_spec("ridge_all", data.features, ridge, set(data.radiomic),
                            self.radiomics),
                 ModelSpec("mean", plain, DummyRegressor)],
                ["toy_model: skipped on purpose"])

    def predict(self, estimator, X):
        return estimator.predict(X).astype(float)

    def oof_table(self, ids, y, predictions, fold_of):
        rows = [pd.DataFrame({"sample_id": ids, "model": name, "repeat": repeat + 1,
                              "fold": fold_of[repeat], "y_true": y, "y_pred": values[repeat]})
                for name, values in predictions.items() for repeat in range(fold_of.shape[0])]
        return pd.concat(rows, ignore_index=True).sort_values(
            ["model", "repeat", "sample_id"], kind="mergesort").reset_index(drop=True)

    def evaluate(self, data, predictions, fold_of, n_features, n_unlabelled, oof):
        metrics = pd.DataFrame([{"model": name, "n": data.n, "n_features": n_features[name],
                                 "mae": float(np.mean(np.abs(values.mean(axis=0) - data.y)))}
                                for name, values in predictions.items()])
        return EndpointEvaluation(
            metrics=metrics, calibration=pd.DataFrame(columns=["model", "bin"]),
            decision_curve=pd.DataFrame(columns=["model", "threshold", "net_benefit"]),
            oof=oof, skipped=["toy_score: no published score"], models=[],
            metadata={"toy_metric": "mean absolute error of the repeat-averaged prediction"})

    def held_out_metrics(self, y, prediction, rng):
        return {"mae": float(np.mean(np.abs(prediction - y)))}

    def permutation_statistic(self, y, prediction):
        return float(np.mean(np.abs(prediction - y)))


@pytest.fixture(scope="module")
def toy():
    matrix, labels, dictionary, _ = make_cohort()
    rng = np.random.default_rng(11)
    value = 3.0 * matrix["tumor_size_cm"] + rng.normal(0, 1.0, len(matrix))
    value[labels["objective_response"].isna().to_numpy()] = np.nan  # unlabelled as in the cohort
    settings = resolve_model_settings({**SETTINGS, "cv_repeats": 2})
    endpoint = ToyContinuousEndpoint(dict(zip(matrix["sample_id"], value)), settings.radiomics)
    results = cross_validate_models(matrix, labels, dictionary, settings, endpoint=endpoint)
    return matrix, labels, dictionary, settings, endpoint, value, results


def test_a_continuous_endpoint_runs_through_the_unchanged_loop(toy, tmp_path):
    matrix, labels, dictionary, settings, endpoint, value, results = toy
    labelled = ~np.isnan(value.to_numpy())
    y = value.to_numpy()[labelled]
    n = int(labelled.sum())
    # the endpoint's own tables and OOF columns, one prediction per patient, model and repeat
    assert list(results.metrics["model"]) == ["ridge", "ridge_all", "mean"]
    assert list(results.oof.columns) == TOY_OOF_COLUMNS
    counts = results.oof.groupby(["model", "repeat"])["sample_id"].nunique()
    assert (counts == n).all() and len(counts) == 3 * settings.cv.repeats
    # the regression finds the planted signal; predicting the training mean does not
    mae = results.metrics.set_index("model")["mae"]
    assert mae["ridge"] < 0.5 * mae["mean"]
    # every held-out prediction of "mean" is the mean outcome of its own training part: the
    # loop fitted each model on the training rows of the endpoint's stratified folds only
    splits = RepeatedStratifiedKFold(n_splits=settings.cv.folds, n_repeats=settings.cv.repeats,
                                     random_state=settings.seed).split(
        np.zeros(n), endpoint.stratify(y))
    ids = matrix["sample_id"].to_numpy()[labelled].astype(str)
    mean_oof = results.oof[results.oof["model"] == "mean"].set_index(["repeat", "sample_id"])
    for split, (train, test) in enumerate(splits):
        repeat = split // settings.cv.folds + 1
        got = mean_oof.loc[[(repeat, i) for i in ids[test]], "y_pred"].to_numpy()
        np.testing.assert_allclose(got, y[train].mean(), rtol=0, atol=1e-9)
    # the radiomics step ran inside the folds of the model with radiomic columns
    assert list(results.radiomics_folds.columns) == RADIOMICS_FOLD_COLUMNS
    assert set(results.radiomics_folds["model"]) == {"ridge_all"}
    assert len(results.radiomics_folds) == settings.cv.folds * settings.cv.repeats
    # nothing tuned, no booster gains: empty tables with their columns
    assert list(results.tuning.columns) == list(TUNING_SPLIT_COLUMNS) and results.tuning.empty
    assert list(results.importance.columns) == IMPORTANCE_COLUMNS and results.importance.empty
    # leave-one-batch-out through the endpoint: its models and statistic per held-out batch
    lobo = results.lobo_metrics
    assert list(lobo.columns) == endpoint.held_out_columns
    assert list(lobo["held_out_batch"]) == ["B1", "B2"] and (lobo["model"] == "ridge").all()
    assert np.isfinite(lobo["mae"]).all() and lobo["n"].sum() == n
    # the metadata: the endpoint's label, counts and evaluation entries; skipped from both
    metadata = results.metadata
    assert metadata["label"] == {"column": "toy_value", "definition": "a toy continuous outcome",
                                 "n_labelled": n}
    assert metadata["n"] == n and "n_events" not in metadata
    assert metadata["toy_metric"].startswith("mean absolute error")
    assert metadata["models"] == ["ridge", "ridge_all", "mean"]
    assert results.skipped_models == ["toy_model: skipped on purpose",
                                      "toy_score: no published score"]
    assert metadata["leave_one_batch_out"].count("models ridge;") == 1
    write_model_outputs(results, tmp_path)
    assert (tmp_path / "oof_predictions.tsv").read_text().startswith(
        "\t".join(TOY_OOF_COLUMNS) + "\n")


def test_the_permutation_check_asks_the_endpoint(toy):
    matrix, labels, dictionary, settings, endpoint, _, results = toy
    table = permutation_check(matrix, labels, dictionary, settings, n_permutations=2,
                              endpoint=endpoint)
    assert list(table.columns) == ["permutation", "mae"]
    assert list(table["permutation"]) == [1, 2]
    # shuffled outcomes: the headline model's error is worse than on the real ones
    assert (table["mae"] > results.metrics.set_index("model").loc["ridge", "mae"]).all()


class ToyIntervalEndpoint(ToyContinuousEndpoint):
    """The toy outcome predicted as several numbers per patient (a point and the bounds of a
    band around it), as a survival model predicts a risk and S(t) at each horizon."""

    def predict(self, estimator, X):
        point = estimator.predict(X).astype(float)
        return np.column_stack([point, point - 1.0, point + 1.0])

    def oof_table(self, ids, y, predictions, fold_of):
        return super().oof_table(ids, y, {name: values[..., 0]
                                          for name, values in predictions.items()}, fold_of)

    def evaluate(self, data, predictions, fold_of, n_features, n_unlabelled, oof):
        return super().evaluate(data, {name: values[..., 0]
                                       for name, values in predictions.items()},
                                fold_of, n_features, n_unlabelled, oof)

    def held_out_metrics(self, y, prediction, rng):
        return super().held_out_metrics(y, prediction[:, 0], rng)


def test_a_prediction_of_several_numbers_per_patient_keeps_its_columns(toy):
    matrix, labels, dictionary, settings, endpoint, value, results = toy
    interval = ToyIntervalEndpoint(endpoint.values, endpoint.radiomics)
    data = prepare_data(matrix, labels, dictionary, interval, settings.cv.folds)
    specs, _ = interval.model_specs(data)
    run = run_cv(data, specs, interval, settings.cv, tune=False)
    for spec in specs:
        held_out = run.predictions[spec.name]
        assert held_out.shape == (settings.cv.repeats, data.n, 3)
        assert not np.isnan(held_out).any()  # every patient held out once per repeat
        np.testing.assert_allclose(held_out[..., 2] - held_out[..., 1], 2.0)
    # the point column is what the one-number endpoint predicted in the same folds
    single = results.oof[results.oof["model"] == "ridge"].sort_values(["repeat", "sample_id"])
    order = np.argsort(data.ids, kind="mergesort")
    point = run.predictions["ridge"][..., 0][:, order].ravel()
    np.testing.assert_allclose(point, single["y_pred"].to_numpy(dtype=float), atol=1e-12)
