"""The cross-validation engine: every model of the comparison fitted from scratch in the
training part of every outer split, predicted on the held-out part, for any endpoint.

The engine knows nothing about the kind of outcome: labels, the models compared, how a fitted
model predicts, tuning and the tables computed from the out-of-fold (OOF) predictions come from
the endpoint (:class:`haicpred.modeling.endpoint.ModelEndpoint`; today's binary endpoints:
:class:`~haicpred.modeling.endpoint.BinaryEndpoint`, label ``objective_response`` by default,
1 = mRECIST best response CR or PR, 0 = SD or PD). Only labelled samples are used for training
and evaluation; unlabelled ones are counted. This module fits no final model: the one frozen
model is :mod:`haicpred.modeling.final_model`'s (``results/model/final/``), which also scores
every sample, labelled or not.

Validation scheme (TRIPOD+AI): repeated stratified K-fold (stratified by what the endpoint
says). Inside every training fold each model is fitted from scratch, including all of its
preprocessing (an sklearn ``Pipeline``): median imputation and scaling for the logistic
baseline; XGBoost handles missing values natively. Published scores are not fitted:
:mod:`haicpred.modeling.score_baselines` judges each on its own values on the patients who have
it (a logistic recalibration per training fold only for the probability metrics). Every model
that uses radiomic features (dictionary modality ``radiomics``) starts with
:class:`haicpred.radiomics.preprocessing.RadiomicsPreprocessor`: near-constant filter, ComBat batch
harmonisation (setting ``harmonisation``) and correlation filter (``radiomics_max_correlation``),
all fitted on the training fold; a fold whose held-out batches are not all in its training part
is not harmonised, and every fold's counts and harmonisation status are in
``radiomics_folds.tsv``. XGBoost's hyper-parameters are searched inside every outer training
fold (nested CV, :mod:`haicpred.modeling.tuning`; each per-modality ablation searched on its own
feature set; ``tuning.enabled: false`` = the fixed ``xgboost`` parameters). The outer folds run
in parallel on ``threads`` worker threads, each fit on one
thread, with the same results for any thread count. Leave-one-batch-out validation:
:mod:`haicpred.modeling.lobo`; the label-permutation check: :mod:`haicpred.modeling.permutation`.

Metrics of the fitted models are computed on the out-of-fold (OOF) probability of each sample
averaged over the repeats; the 95% CI of the AUC comes from a stratified bootstrap of those
probabilities (the
same resamples for every model, so differences to XGBoost are paired).

Outputs written by :func:`write_model_outputs` (all TSVs through
:func:`haicpred.io.tables.write_tsv`; the tables of the binary endpoints, another endpoint's have
its own columns):

``oof_predictions.tsv``  ``sample_id, model, repeat, fold, y_true, y_prob``
    sorted by model, repeat, sample_id; repeat and fold are 1-based.
``metrics.tsv``          see :data:`haicpred.modeling.evaluation.METRIC_COLUMNS`; rows xgboost,
    xgboost_radiomics_only and
    xgboost_without_radiomics (when the matrix has radiomic and other features),
    logistic_baseline, the evaluated score baselines (by name), then ``oracle`` when the
    simulation truth is given.
``calibration.tsv``      ``model, bin, mean_predicted, observed_rate, n`` (10 quantile bins).
``feature_importance.tsv`` ``feature, modality, gain, gain_sd, rank``.
``radiomics_folds.tsv``  see :data:`RADIOMICS_FOLD_COLUMNS`: per model using radiomic features,
    repeat and fold, the radiomic features in, after each filter, and harmonised yes/no + why.
``decision_curve.tsv``, ``lobo_metrics.tsv``, ``tuning.tsv``: see
    :mod:`haicpred.modeling.evaluation` and :data:`haicpred.modeling.tuning.TUNING_COLUMNS`.
``cv_metadata.json``     the evaluation's metadata (:data:`CV_METADATA_FILE`): candidate and
    radiomic features, the radiomics fold summary, counts, label definition, settings, CV
    scheme, models and skipped models, ``baseline_factors`` (the Liu factors available or left
    out and why; per published score its patients, coverage and status), versions, CI method,
    threshold, tuning and
    leave-one-batch-out descriptions. Nothing about a fitted booster: that is in
    ``results/model/final/model_metadata.json``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import RepeatedStratifiedKFold

from haicpred.io.tables import write_json, write_tsv
from haicpred.modeling.endpoint import ModelEndpoint
from haicpred.modeling.estimators import (ModelSpec, fold_estimator, normalised_gain,
                                          package_versions)
from haicpred.modeling.evaluation import DECISION_CURVE_COLUMNS, LOBO_COLUMNS
from haicpred.modeling.inputs import PreparedData, is_post_treatment, prepare_data
from haicpred.modeling.lobo import leave_one_batch_out
from haicpred.modeling.outcomes import model_endpoint
from haicpred.modeling.parallel import map_in_order, single_threaded_blas
from haicpred.modeling.settings import CVSettings, ModelSettings, resolve_model_settings
from haicpred.modeling.tuning import TUNING_COLUMNS, describe_search, unseen_batch_reason
from haicpred.radiomics.preprocessing import harmonisation_warnings

log = logging.getLogger(__name__)

__all__ = [
    "CV_METADATA_FILE",
    "IMPORTANCE_COLUMNS",
    "RADIOMICS_FOLD_COLUMNS",
    "CVRun",
    "ModelResults",
    "cross_validate_models",
    "importance_table",
    "radiomics_fold_summary",
    "run_cv",
    "write_model_outputs",
]

IMPORTANCE_COLUMNS = ["feature", "modality", "gain", "gain_sd", "rank"]
CV_METADATA_FILE = "cv_metadata.json"
RADIOMICS_FOLD_COLUMNS = [
    "model",
    "repeat",
    "fold",
    "n_in",
    "n_after_near_constant",
    "n_after_correlation",
    "n_harmonised",
    "harmonised",
    "reason",
]


@dataclass
class ModelResults:
    """Everything :func:`cross_validate_models` produced; :func:`write_model_outputs` writes it."""

    metrics: pd.DataFrame
    oof: pd.DataFrame
    calibration: pd.DataFrame
    importance: pd.DataFrame
    metadata: dict  # written as cv_metadata.json
    settings: dict  # the resolved settings (ModelSettings.as_dict)
    n_unlabelled: int
    skipped_models: list[str] = field(default_factory=list)
    radiomics_folds: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=RADIOMICS_FOLD_COLUMNS))
    decision_curve: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=DECISION_CURVE_COLUMNS))
    lobo_metrics: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=LOBO_COLUMNS))
    tuning: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=TUNING_COLUMNS))


# --------------------------------------------------------------------------------------------
# the loop


@dataclass
class CVRun:
    """Out-of-fold predictions and per-fold records of one repeated K-fold run."""

    predictions: dict  # model -> repeats x n (x the columns of a multi-column prediction)
    fold_of: np.ndarray  # repeats x n, 1-based
    gains: list  # per fold: normalised total gain of the full XGBoost model's features
    radiomics_rows: list
    tuning_rows: list


@dataclass
class _FoldResult:
    """What one outer training/held-out split gives: per-model held-out predictions, the
    radiomics rows, the tuning rows and the full XGBoost model's normalised gains."""

    predictions: dict
    radiomics_rows: list
    tuning_rows: list
    gain: np.ndarray | None


def run_cv(data: PreparedData, specs: list[ModelSpec], endpoint: ModelEndpoint, cv: CVSettings,
           y=None, tune: bool = True, importance: bool = True) -> CVRun:
    """Repeated stratified K-fold: every spec fitted on each training part (every tunable
    model, the ablations too, tuned there on its own columns when ``tune``), predicted on
    the held-out part by the endpoint. ``y`` defaults to the labels (the permutation check
    passes shuffled ones). Splits run on ``cv.threads`` worker threads
    (:func:`haicpred.modeling.parallel.map_in_order`)."""
    y = data.y if y is None else y
    folds, repeats = cv.folds, cv.repeats
    n = len(y)
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats,
                                       random_state=cv.seed)
    splits = list(enumerate(splitter.split(np.zeros(n), endpoint.stratify(y))))

    def fit_split(item) -> _FoldResult:
        split, (train, test) = item
        repeat, fold = divmod(split, folds)
        skip_reason = unseen_batch_reason(data.batch_lab[train], data.batch_lab[test])
        X_train, X_test = data.X_lab.iloc[train], data.X_lab.iloc[test]
        tuned, tuning_rows = {}, []
        if tune:
            # every XGBoost model, ablations included, searched on its own feature set: the
            # full model's parameters do not fit another one (issue 13 finding 10: 5 trees
            # chosen for 2,000 radiomic features gave the clinical-only model AUC 0.41)
            for spec in (m for m in specs if m.tunable):
                tuned[spec.name], row = endpoint.tune(spec, X_train, y[train], skip_reason)
                tuning_rows.append({"scheme": "cv", "model": spec.name, "repeat": repeat + 1,
                                    "fold": fold + 1, "held_out_batch": "", **row})
        predictions, radiomics_rows, gain = {}, [], None
        for spec in specs:
            estimator = fold_estimator(spec, skip_reason, tuned.get(spec.name))
            estimator.fit(X_train[spec.fit_columns], y[train])
            predictions[spec.name] = endpoint.predict(estimator, X_test[spec.fit_columns])
            if spec.radiomic:
                summary = estimator.named_steps["radiomics"].summary_
                radiomics_rows.append({"model": spec.name, "repeat": repeat + 1,
                                       "fold": fold + 1, **summary,
                                       "harmonised": "yes" if summary["harmonised"] else "no"})
            if importance and spec.gain_importance:
                gain = normalised_gain(estimator, data.features, X_train[spec.fit_columns])
        return _FoldResult(predictions, radiomics_rows, tuning_rows, gain)

    with single_threaded_blas():
        results = map_in_order(fit_split, splits, cv.threads)
    # repeats x patients, times whatever one patient's prediction is (a probability: nothing;
    # a survival model's risk and S(t) at each horizon: one column each)
    predictions = {spec.name: np.full((repeats, n) + np.shape(results[0].predictions[spec.name])
                                      [1:], np.nan) for spec in specs}
    fold_of = np.zeros((repeats, n), dtype=int)
    gains, radiomics_rows, tuning_rows = [], [], []
    for (split, (_, test)), result in zip(splits, results):
        repeat, fold = divmod(split, folds)
        fold_of[repeat, test] = fold + 1
        for name, values in result.predictions.items():
            predictions[name][repeat, test] = values
        radiomics_rows += result.radiomics_rows
        tuning_rows += result.tuning_rows
        if result.gain is not None:
            gains.append(result.gain)
    return CVRun(predictions, fold_of, gains, radiomics_rows, tuning_rows)


# --------------------------------------------------------------------------------------------
# tables of the run


def radiomics_fold_summary(folds: pd.DataFrame) -> list[dict]:
    """Per model: fold count, feature counts (min, median, max) and harmonisation status."""
    out = []
    for model in dict.fromkeys(folds["model"]):
        part = folds[folds["model"] == model]
        entry = {"model": model, "n_folds": int(len(part))}
        for column in ("n_in", "n_after_near_constant", "n_after_correlation", "n_harmonised"):
            values = part[column].to_numpy(dtype=float)
            entry[column] = {"min": int(values.min()), "median": float(np.median(values)),
                             "max": int(values.max())}
        entry["n_folds_harmonised"] = int((part["harmonised"] == "yes").sum())
        reasons = part.loc[part["harmonised"] == "no", "reason"]
        entry["skipped_reasons"] = {str(k): int(v) for k, v in
                                    sorted(reasons.value_counts().items())}
        out.append(entry)
    return out


def importance_table(data: PreparedData, gains: list) -> pd.DataFrame:
    """Per-fold normalised total gain of the full XGBoost model: mean and SD over folds."""
    if not gains:  # no model of the endpoint reports gains
        return pd.DataFrame(columns=IMPORTANCE_COLUMNS)
    gain_matrix = np.vstack(gains)
    mean_gain = gain_matrix.mean(axis=0)
    if mean_gain.sum() > 0:
        mean_gain = mean_gain / mean_gain.sum()
    gain_sd = (gain_matrix.std(axis=0, ddof=1) if len(gains) > 1
               else np.zeros(len(data.features)))
    importance = pd.DataFrame({"feature": data.features,
                               "modality": [data.modality.get(f, "") for f in data.features],
                               "gain": mean_gain, "gain_sd": gain_sd})
    importance = importance.sort_values(
        ["gain", "feature"], ascending=[False, True], kind="mergesort").reset_index(drop=True)
    importance["rank"] = np.arange(1, len(importance) + 1)
    return importance[IMPORTANCE_COLUMNS]


# --------------------------------------------------------------------------------------------
# the entry point


def cross_validate_models(
    matrix: pd.DataFrame,
    labels: pd.DataFrame,
    dictionary: pd.DataFrame,
    settings: dict | ModelSettings | None,
    truth: pd.DataFrame | None = None,
    endpoint: ModelEndpoint | None = None,
) -> ModelResults:
    """Nested, repeated stratified CV of XGBoost (all features, per-modality ablations), the
    logistic and published-score baselines; leave-one-batch-out validation. No final model is
    fitted here (:func:`haicpred.modeling.final_model.fit_final_model` does that).

    ``settings``: the config's model settings (resolved here,
    :func:`haicpred.modeling.settings.resolve_model_settings`) or resolved ones. ``endpoint``:
    the outcome as the engine sees it (default: the one of the settings,
    :func:`haicpred.modeling.outcomes.model_endpoint`).

    Raises :class:`~haicpred.modeling.inputs.PostTreatmentFeatureError` (a ValueError) for
    post-treatment/outcome columns, ``InputError`` for malformed inputs, ValueError for bad
    settings.
    """
    settings = resolve_model_settings(settings)
    endpoint = model_endpoint(settings) if endpoint is None else endpoint
    matrix = matrix.reset_index(drop=True)
    data = prepare_data(matrix, labels, dictionary, endpoint, settings.cv.folds,
                        settings.allow_post_treatment, truth)
    features, modality, radiomic = data.features, data.modality, data.radiomic
    n_unlabelled = int((~data.labelled).sum())
    folds, repeats = settings.cv.folds, settings.cv.repeats

    specs, skipped = endpoint.model_specs(data)
    for reason in skipped:
        log.info("model skipped: %s", reason)
    run = run_cv(data, specs, endpoint, settings.cv)
    radiomics_folds = pd.DataFrame(run.radiomics_rows, columns=RADIOMICS_FOLD_COLUMNS)
    radiomics_folds = radiomics_folds.sort_values(
        ["model", "repeat", "fold"], kind="mergesort").reset_index(drop=True)
    fold_summary = radiomics_fold_summary(radiomics_folds)
    for entry in fold_summary:
        log.info("%s: radiomic features per training fold %d in, median %.0f after the "
                 "near-constant filter, %.0f after the correlation filter; harmonised in %d "
                 "of %d folds", entry["model"], entry["n_in"]["max"],
                 entry["n_after_near_constant"]["median"],
                 entry["n_after_correlation"]["median"], entry["n_folds_harmonised"],
                 entry["n_folds"])
    for message in harmonisation_warnings(fold_summary):  # a single batch: said once
        log.warning("%s", message)
    oof = endpoint.oof_table(data.ids, data.y, run.predictions, run.fold_of)

    # n_features: the columns with at least one value among the patients trained on
    with_values = set(data.X_lab.columns[data.X_lab.notna().any()])
    evaluation = endpoint.evaluate(
        data, run.predictions, run.fold_of,
        {spec.name: sum(c in with_values for c in spec.columns) for spec in specs},
        n_unlabelled, oof)
    skipped += evaluation.skipped
    for reason in evaluation.skipped:
        log.info("model skipped: %s", reason)
    importance = importance_table(data, run.gains)
    lobo, lobo_tuning = leave_one_batch_out(
        data, specs, endpoint, settings.cv,
        harmonising=settings.radiomics.harmonisation.method == "combat")
    tuning_table = endpoint.tuning_table(run.tuning_rows + lobo_tuning)
    tuning = settings.tuning
    evaluation_metadata = {
        **endpoint.metadata(),
        "tuning": {
            **tuning.as_dict(),
            "search": describe_search(tuning),
            "scope": ("every XGBoost model (the full one and each per-modality ablation, on its "
                      "own feature set) is tuned inside every outer training fold, and the "
                      "full one on the training batches of every leave-one-batch-out split; "
                      "the chosen parameters per model and fold are in tuning.tsv"),
        } if tuning.enabled else {"enabled": False},
        "leave_one_batch_out": ("train on every other batch, test on the held-out one; "
                                f"models {', '.join(endpoint.held_out_models)}; ComBat off (it "
                                "cannot harmonise an unseen batch); lobo_metrics.tsv"),
    }

    # the evaluation only: nothing about a fitted booster (results/model/final/ has that)
    resolved = settings.as_dict()
    metadata = {
        "candidate_features": features,
        "n_candidate_features": len(features),
        "radiomic_features": radiomic,
        "radiomics_folds_summary": fold_summary,
        **endpoint.counts(data.y),
        "n_unlabelled": n_unlabelled,
        "label": endpoint.label_metadata(data.outcome),
        # the fixed XGBoost parameters the CV's models are built with (with nested tuning
        # on, each training set's tuned ones are in tuning.tsv)
        "xgboost_params": {
            **settings.xgboost,
            "random_state": settings.seed,
            "n_jobs": 1,  # every fold fit; the folds run on `threads` worker threads
            "tree_method": "hist",
        },
        "settings": resolved,
        # the on-treatment variant: post-treatment predictors allowed, and which were used
        "allow_post_treatment": settings.allow_post_treatment,
        "post_treatment_features": [f for f in features if is_post_treatment(f, modality)],
        "cv_scheme": (
            f"RepeatedStratifiedKFold(n_splits={folds}, n_repeats={repeats}, "
            f"random_state={settings.seed}); all preprocessing, including the radiomics "
            "filters and ComBat harmonisation, fitted within training folds"
        ),
        "models": [spec.name for spec in specs] + evaluation.models,
        "skipped_models": skipped,
        **evaluation.metadata,
        "versions": package_versions(),
    }
    return ModelResults(
        metrics=evaluation.metrics,
        oof=evaluation.oof,
        calibration=evaluation.calibration,
        importance=importance,
        metadata={**metadata, **evaluation_metadata},
        settings=resolved,
        n_unlabelled=n_unlabelled,
        skipped_models=skipped,
        radiomics_folds=radiomics_folds,
        decision_curve=evaluation.decision_curve,
        lobo_metrics=lobo,
        tuning=tuning_table,
    )


# --------------------------------------------------------------------------------------------
# persistence


def write_model_outputs(results: ModelResults, out_dir) -> None:
    """Write the cross-validation's TSVs and ``cv_metadata.json`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_tsv(results.oof, out / "oof_predictions.tsv")
    write_tsv(results.metrics, out / "metrics.tsv")
    write_tsv(results.calibration, out / "calibration.tsv")
    write_tsv(results.importance, out / "feature_importance.tsv")
    write_tsv(results.radiomics_folds, out / "radiomics_folds.tsv")
    write_tsv(results.decision_curve, out / "decision_curve.tsv")
    write_tsv(results.lobo_metrics, out / "lobo_metrics.tsv")
    write_tsv(results.tuning, out / "tuning.tsv")
    write_json(results.metadata, out / CV_METADATA_FILE)
