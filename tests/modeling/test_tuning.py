"""haicpred.modeling.tuning and the nested CV of haicpred.modeling.cross_validation, with real
XGBoost (no mocks)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xgboost
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.model_selection import RepeatedStratifiedKFold
from sklearn.pipeline import Pipeline

import haicpred.modeling.tuning as tuning_module
from haicpred.modeling.cross_validation import cross_validate_models
from haicpred.modeling.outcomes import model_endpoint
from haicpred.modeling.estimators import xgboost_classifier
from haicpred.modeling.inputs import prepare_data
from haicpred.modeling.settings import (DEFAULT_TUNING, TuningSettings, resolve_model_settings,
                                        resolve_tuning)
from haicpred.modeling.tuning import (SEARCH_SPACE, TRACE_COLUMNS, TUNED_PARAMETERS,
                                      TUNING_COLUMNS, sample_candidates, tune_xgboost)
from model_helpers import SETTINGS, make_cohort

TUNING = {"n_candidates": 4, "ablation_candidates": 2, "inner_folds": 3, "max_estimators": 80,
          "early_stopping_rounds": 10}


def labelled_data(seed: int = 7):
    matrix, labels, dictionary, _ = make_cohort(seed)
    y = labels["objective_response"].to_numpy()
    keep = ~np.isnan(y)
    X = matrix.loc[keep].drop(columns=["sample_id"]).reset_index(drop=True)
    return X, y[keep].astype(int)


def plain_settings(**tuning):
    return resolve_model_settings({"seed": 3, "threads": 1, "xgboost": SETTINGS["xgboost"],
                                   "tuning": {**TUNING, **tuning}})


def classifier(settings):
    """The plain XGBoost classifier of resolved settings, as the CV builds it."""
    return xgboost_classifier(settings.xgboost, settings.seed, settings.threads)


def prepared(matrix, labels, dictionary, resolved):
    """The CV's prepared data and its endpoint."""
    endpoint = model_endpoint(resolved)
    return prepare_data(matrix, labels, dictionary, endpoint, resolved.cv.folds), endpoint


def test_resolve_tuning_defaults_and_errors():
    assert resolve_tuning(None).as_dict() == DEFAULT_TUNING
    assert resolve_tuning(None) == TuningSettings()
    assert resolve_tuning({"n_candidates": 5}).n_candidates == 5
    with pytest.raises(ValueError, match="unknown key"):
        resolve_tuning({"n_candidate": 5})
    with pytest.raises(ValueError, match="inner_folds must be >= 2"):
        resolve_tuning({"inner_folds": 1})
    with pytest.raises(ValueError, match="enabled"):
        resolve_tuning({"enabled": "yes"})
    assert resolve_model_settings({}).as_dict()["tuning"] == DEFAULT_TUNING


def test_candidates_are_reproducible_and_inside_the_space():
    defaults = {"max_depth": 2, "learning_rate": 0.05, "subsample": 0.8,
                "colsample_bytree": 0.8, "min_child_weight": 3, "reg_lambda": 1.0,
                "reg_alpha": 0.0, "scale_pos_weight": None}
    first = sample_candidates(30, 5, defaults)
    assert first == sample_candidates(30, 5, defaults)
    assert first != sample_candidates(30, 6, defaults)
    assert first[0] == {**defaults, "scale_pos_weight": "none"}  # the fixed parameters
    for candidate in first[1:]:
        for name, spec in SEARCH_SPACE.items():
            value = candidate[name]
            if spec[0] == "choice":
                assert value in spec[1]
            elif spec[0] == "zero_or_log_uniform":
                assert value == 0 or spec[1] <= value <= spec[2]
            else:
                assert spec[1] <= value <= spec[2], (name, value)
    assert {c["max_depth"] for c in first[1:]} == {1, 2, 3, 4}


def test_tuning_is_deterministic_and_independent_of_threads():
    X, y = labelled_data()
    X = X.drop(columns=["batch"])
    settings = plain_settings()
    params, trace = tune_xgboost(X, y, settings.tuning, 3, lambda: classifier(settings))
    again, trace_again = tune_xgboost(X, y, settings.tuning, 3, lambda: classifier(settings),
                                      threads=2)
    assert params == again
    pd.testing.assert_frame_equal(trace, trace_again)
    assert list(trace.columns) == TRACE_COLUMNS
    assert set(params) == set(TUNED_PARAMETERS)
    assert trace["chosen"].sum() == 1
    chosen = trace[trace["chosen"] == 1].iloc[0]
    # the lowest inner log loss wins; candidate 0 (the fixed parameters) can only lose to better
    assert chosen["inner_logloss"] == trace["inner_logloss"].min()
    assert chosen["inner_logloss"] <= trace.loc[0, "inner_logloss"]
    assert 1 <= params["n_estimators"] <= TUNING["max_estimators"]
    assert 0.5 < chosen["inner_auc"] <= 1
    # the default make_estimator (plain classifier of the settings) gives the same answer
    default_params, _ = tune_xgboost(X.assign(batch="B1"), y, settings.tuning, settings.seed,
                                     base_params=settings.xgboost)
    assert default_params == params
    # a different seed is a different search
    assert not tune_xgboost(X, y, settings.tuning, 4, lambda: classifier(settings))[
        1].equals(trace)


class RowSpy(TransformerMixin, BaseEstimator):
    """Records the rows each clone is fitted on and transforms (drops `batch`)."""

    fitted: list = []
    transformed: list = []

    def fit(self, X, y=None):
        RowSpy.fitted.append(list(X.index))
        self.n_rows_ = len(X)  # a fitted attribute, for sklearn's is-fitted check
        return self

    def transform(self, X):
        RowSpy.transformed.append(list(X.index))
        return X.drop(columns=["batch"])


def test_preprocessing_is_refitted_on_every_inner_training_part():
    X, y = labelled_data()
    RowSpy.fitted, RowSpy.transformed = [], []
    settings = plain_settings(inner_folds=3, n_candidates=2)
    tune_xgboost(X, y, settings.tuning, 3, lambda: Pipeline(
        [("spy", RowSpy()), ("model", classifier(settings))]))
    assert len(RowSpy.fitted) == 3
    for fitted in RowSpy.fitted:
        held_out = set(range(len(y))) - set(fitted)
        # about a third held out, never fitted on; every row held out exactly once
        assert abs(len(held_out) - len(y) / 3) <= 1
    assert sorted(sum((sorted(set(range(len(y))) - set(f)) for f in RowSpy.fitted), [])) == \
        list(range(len(y)))


def test_too_few_per_class_is_refused():
    X, y = labelled_data()
    y = np.zeros_like(y)
    y[:2] = 1
    with pytest.raises(ValueError, match="at least 3 patients of each class"):
        settings = plain_settings()
        tune_xgboost(X.drop(columns=["batch"]), y, settings.tuning, settings.seed)


@pytest.fixture(scope="module")
def spied_run():
    """A nested CV whose calls to tune_xgboost are recorded (the real function runs)."""
    matrix, labels, dictionary, truth = make_cohort()
    calls = []
    real = tuning_module.tune_xgboost

    def recording(X, y, *args, **kwargs):
        calls.append({"index": list(X.index), "y": np.asarray(y).copy()})
        return real(X, y, *args, **kwargs)

    settings = {**SETTINGS, "cv_repeats": 1, "n_bootstrap": 0, "tuning": TUNING}
    tuning_module.tune_xgboost = recording
    try:
        results = cross_validate_models(matrix, labels, dictionary, settings, truth=truth)
    finally:
        tuning_module.tune_xgboost = real
    return matrix, labels, dictionary, settings, results, calls


def test_outer_held_out_fold_is_never_seen_by_the_search(spied_run):
    matrix, labels, dictionary, settings, results, calls = spied_run
    y_all = labels["objective_response"].to_numpy()
    y = y_all[~np.isnan(y_all)].astype(int)
    splits = list(RepeatedStratifiedKFold(n_splits=settings["cv_folds"], n_repeats=1,
                                          random_state=settings["seed"]).split(
        np.zeros(len(y)), y))
    # one search per XGBoost model (the full one and every ablation) and split
    per_split = len(set(results.tuning.loc[results.tuning["scheme"] == "cv", "model"]))
    assert per_split == 1 + sum(m.startswith("xgboost_") for m in results.metrics["model"])
    cv_calls = calls[:len(splits) * per_split]
    for index, call in enumerate(cv_calls):
        train, test = splits[index // per_split]
        assert call["index"] == list(train)  # exactly the outer training rows
        assert not set(call["index"]) & set(test)
        np.testing.assert_array_equal(call["y"], y[train])
    # then one search per held-out batch (leave-one-batch-out), on the other batches only
    batches = matrix.loc[~np.isnan(y_all), "batch"].to_numpy()
    lobo_calls = calls[len(cv_calls):]
    assert len(lobo_calls) == len(set(batches))
    for batch, call in zip(sorted(set(batches)), lobo_calls):
        assert not any(batches[i] == batch for i in call["index"])


def first_training_fold(labels, settings):
    """The labelled rows, their labels and the training rows of the first outer fold, as the
    cross-validation splits them."""
    y_all = labels["objective_response"].to_numpy()
    keep = ~np.isnan(y_all)
    y = y_all[keep].astype(int)
    train, _ = next(RepeatedStratifiedKFold(n_splits=settings["cv_folds"], n_repeats=1,
                                            random_state=settings["seed"]).split(
        np.zeros(len(y)), y))
    return keep, y, train


def test_tuning_table_matches_a_direct_search_on_the_training_fold(spied_run):
    matrix, labels, dictionary, settings, results, calls = spied_run
    tuning = results.tuning
    assert list(tuning.columns) == TUNING_COLUMNS
    cv = tuning[(tuning["scheme"] == "cv") & (tuning["model"] == "xgboost")]
    assert list(cv["fold"]) == list(range(1, settings["cv_folds"] + 1))
    assert (cv["n_candidates"] == TUNING["n_candidates"]).all()
    # redo fold 1's search by hand on its training rows only: same parameters
    keep, y, train = first_training_fold(labels, settings)
    resolved = resolve_model_settings(settings)
    data, endpoint = prepared(matrix, labels, dictionary, resolved)
    spec = endpoint.model_specs(data)[0][0]
    X_lab = matrix.loc[keep].drop(columns=["sample_id"]).reset_index(drop=True)
    X_lab[spec.columns] = X_lab[spec.columns].astype(float)
    params, _ = tune_xgboost(X_lab.iloc[train][spec.fit_columns], y[train], resolved.tuning,
                             resolved.seed, spec.factory)
    row = cv.iloc[0]
    for name in TUNED_PARAMETERS:
        assert row[name] == pytest.approx(params[name]), name
    # scrambling the held-out rows' labels does not change that search (it never sees them)
    assert calls[0]["index"] == list(train)


def test_tuning_disabled_uses_the_fixed_parameters():
    matrix, labels, dictionary, _ = make_cohort()
    settings = {**SETTINGS, "cv_repeats": 1, "n_bootstrap": 0, "tuning": {"enabled": False}}
    results = cross_validate_models(matrix, labels, dictionary, settings)
    assert (results.tuning["note"] == "tuning disabled: fixed parameters").all()
    assert (results.tuning["n_estimators"] == SETTINGS["xgboost"]["n_estimators"]).all()
    assert results.metadata["tuning"] == {"enabled": False}
    # the OOF predictions are those of the fixed-parameter classifier
    assert isinstance(classifier(resolve_model_settings(settings)), xgboost.XGBClassifier)


def test_every_ablation_is_searched_on_its_own_columns(spied_run):
    """Issue 13 finding 10: an ablation does not inherit the full model's parameters; fold 1's
    row of xgboost_clinical_only is the search on the clinical columns of that training fold,
    over the first `ablation_candidates` of the full model's candidates."""
    matrix, labels, dictionary, settings, results, _ = spied_run
    tuning = results.tuning[results.tuning["scheme"] == "cv"]
    ablations = [m for m in results.metrics["model"] if m.startswith("xgboost_")]
    assert ablations and set(tuning["model"]) == {"xgboost", *ablations}
    for model in ablations:
        assert list(tuning.loc[tuning["model"] == model, "fold"]) == list(
            range(1, settings["cv_folds"] + 1))
    keep, y, train = first_training_fold(labels, settings)
    resolved = resolve_model_settings(settings)
    data, endpoint = prepared(matrix, labels, dictionary, resolved)
    specs = endpoint.model_specs(data)[0]
    spec = next(s for s in specs if s.name == "xgboost_clinical_only")
    assert spec.columns == ["tumor_size_cm", "extrahepatic_metastasis"]
    X_lab = matrix.loc[keep].drop(columns=["sample_id"]).reset_index(drop=True)
    X_lab[spec.columns] = X_lab[spec.columns].astype(float)
    budget = resolved.tuning.with_candidates(TUNING["ablation_candidates"])
    params, _ = tune_xgboost(X_lab.iloc[train][spec.fit_columns], y[train], budget,
                             resolved.seed, spec.factory)
    assert (tuning.loc[tuning["model"] != "xgboost", "n_candidates"]
            == TUNING["ablation_candidates"]).all()
    row = tuning[tuning["model"] == "xgboost_clinical_only"].iloc[0]
    for name in TUNED_PARAMETERS:
        assert row[name] == pytest.approx(params[name]), name
    full = tuning[tuning["model"] == "xgboost"].iloc[0]
    # its own columns: another inner loss (the parameters may agree: both may keep the
    # linear start alone, n_estimators 0)
    assert row["inner_logloss"] != pytest.approx(full["inner_logloss"])
