"""The final model: XGBoost fitted on every labelled patient of the configured endpoint, frozen
with everything needed to score and explain a new cohort (:mod:`haicpred.modeling.predict`).

Feature handling is the cross-validation's (:mod:`haicpred.modeling.cross_validation`): the same
input checks (:mod:`haicpred.modeling.inputs`), endpoint (:mod:`haicpred.modeling.endpoint`),
radiomics step (near-constant filter, ComBat per batch, correlation filter) and XGBoost
construction (:mod:`haicpred.modeling.estimators`), here fitted once on all labelled patients.
It is the run's one frozen model: the cross-validation fits its models per training fold only
and keeps none. Hyper-parameters are the fixed, regularised ones of the settings
(``model.xgboost`` over :data:`haicpred.modeling.settings.DEFAULT_XGBOOST_PARAMS`); when nested
tuning is switched on (``tuning.enabled``) they come from
:func:`haicpred.modeling.tuning.tune_xgboost`, run on the same labelled patients.

Written by :func:`write_final_model` into one folder (``results/model/final/``), never a pickle:

``xgboost_model.json``   the booster in XGBoost's JSON format (``Booster.save_model``).
``model_metadata.json``  the booster's input features in order, their modality, unit and
    training range (min, max, 1st and 99th percentile, fraction missing, over the labelled
    patients, before the radiomics step), the modalities no sample of the matrix has, the
    endpoint and its label counts, the fitted
    radiomics step (filters, ComBat parameters), the training-data sha256
    (:func:`training_data_sha256`), hyper-parameters and their source, the cross-validated
    metrics of the ``xgboost`` row of ``metrics.tsv``, the risk-group cut-offs and their rule,
    package versions and the model file's sha256.
``shap_importance.tsv``  ``feature, modality, mean_abs_shap, rank``: mean |SHAP| (log-odds)
    over the labelled training patients (:func:`haicpred.modeling.explain.global_importance`).
``predictions.tsv``      every sample of the training matrix: ``sample_id, batch, labelled,
    probability, risk_group, top_contributors, warnings`` (the columns of
    :func:`haicpred.modeling.predict.predict`, plus batch and labelled).

Risk groups and per-sample warnings: :mod:`haicpred.modeling.scoring` (shared with
:mod:`haicpred.modeling.predict`).

A survival endpoint (``endpoint.kind: survival``) gets the frozen Cox booster of
:mod:`haicpred.modeling.survival_final` (same entry point, same folder, plus
``nomogram.json``); what both kinds share is in :mod:`haicpred.modeling.final_training`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from haicpred.io.errors import Problem, raise_if_any
from haicpred.io.tables import write_bytes, write_json, write_tsv
from haicpred.modeling.estimators import (final_estimator, model_spec, package_versions,
                                          xgboost_factory)
from haicpred.modeling.explain import global_importance, shap_values, top_contributors
from haicpred.modeling.final_training import (FINAL_MODEL_PACKAGES, FORMAT, FORMAT_VERSION,
                                              LINEAR_START_FORMAT_VERSION,
                                              METADATA_FILE, MODEL_FILE, N_TOP_CONTRIBUTORS,
                                              NOMOGRAM_FILE, PREDICTIONS_FILE, SHAP_FILE,
                                              TRAINING_PREDICTION_COLUMNS, FinalModel,
                                              cv_metrics_record, features_metadata, json_value,
                                              model_inputs, prepare_training, scoring_checks,
                                              shap_metadata, training_checksum)
from haicpred.modeling.inputs import LABEL_COLUMN
from haicpred.modeling.linear_start import linear_start_of
from haicpred.modeling.scoring import assign_risk_groups, risk_group_cutoffs
from haicpred.modeling.settings import ModelSettings
from haicpred.modeling.survival_final import fit_survival_final_model
from haicpred.modeling.tuning import PREFIT_START, describe_search, tune_xgboost
from haicpred.radiomics.preprocessing import BATCH_COLUMN, RADIOMICS_MODALITY

log = logging.getLogger(__name__)

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MODEL_FILE",
    "METADATA_FILE",
    "SHAP_FILE",
    "PREDICTIONS_FILE",
    "NOMOGRAM_FILE",
    "TRAINING_PREDICTION_COLUMNS",
    "N_TOP_CONTRIBUTORS",
    "FinalModel",
    "fit_final_model",
    "write_final_model",
    "training_data_sha256",
]


def training_data_sha256(matrix: pd.DataFrame, labels: pd.DataFrame, dictionary: pd.DataFrame,
                         settings: dict | ModelSettings | None = None) -> str:
    """sha256 of the labelled training data as the final model sees it
    (:func:`haicpred.modeling.final_training.training_checksum`): recompute it to check that a
    model was trained on a given matrix and labels."""
    training, matrix = prepare_training(matrix, labels, dictionary, settings)
    return training_checksum(training, matrix["sample_id"].astype(str).to_numpy())


# --------------------------------------------------------------------------------------------
# fitting


def _hyperparameters(settings: ModelSettings, X_fit: pd.DataFrame, y: np.ndarray, make_estimator
                     ) -> tuple[dict, str, dict | None]:
    """The XGBoost parameters of the final model, where they came from, and the search record
    (None without tuning). ``X_fit``: the labelled rows as the estimator is fitted on them."""
    tuning = settings.tuning
    if tuning.enabled:
        tuned, trace = tune_xgboost(X_fit, y, tuning, settings.seed, make_estimator,
                                    threads=settings.threads)
        tuned.pop(PREFIT_START, None)  # the final fit refits the start (a fraction of a second)
        params = {**settings.xgboost, **tuned}
        record = {"search": describe_search(tuning),
                  "chosen": tuned,
                  "trace": [{k: json_value(v) for k, v in row.items()}
                            for row in trace.to_dict("records")]}
        return ({k: params[k] for k in sorted(params)},
                "tuned on all labelled patients (haicpred.modeling.tuning.tune_xgboost)", record)
    return (dict(settings.xgboost),
            "fixed (model.xgboost over haicpred.modeling.settings defaults)", None)


def _oof_probabilities(cv_oof: pd.DataFrame | None, ids: list[str]) -> np.ndarray | None:
    """Mean out-of-fold xgboost probability over repeats of each labelled sample."""
    if cv_oof is None:
        return None
    rows = cv_oof[cv_oof["model"] == "xgboost"]
    mean = rows.assign(y_prob=rows["y_prob"].astype(float)).groupby("sample_id")["y_prob"].mean()
    missing = sorted(set(ids) - set(mean.index))
    if missing:
        raise ValueError(f"oof_predictions.tsv has no xgboost probability for {len(missing)} "
                         f"labelled sample(s), e.g. {missing[0]}: it is from another run")
    return mean.loc[ids].to_numpy(dtype=float)


def fit_final_model(matrix: pd.DataFrame, labels: pd.DataFrame, dictionary: pd.DataFrame,
                    settings: dict | ModelSettings | None, cv_metrics: pd.DataFrame | None = None,
                    cv_oof: pd.DataFrame | None = None, risk_groups="tertiles") -> FinalModel:
    """Fit XGBoost (and its radiomics step) on every labelled patient; explain and score every
    sample of the matrix. ``cv_metrics``/``cv_oof``: ``metrics.tsv`` and
    ``oof_predictions.tsv`` of the cross-validation of the same data and settings."""
    training, matrix = prepare_training(matrix, labels, dictionary, settings)
    if training.survival:
        return fit_survival_final_model(training, matrix, cv_metrics, cv_oof, risk_groups)
    settings = training.settings
    X, labelled = training.X, training.labelled
    ids = matrix["sample_id"].astype(str).to_numpy()
    features = list(X.columns)
    y = training.y[labelled].astype(int).to_numpy()
    n, n_events = len(y), int(y.sum())
    if n_events == 0 or n_events == n:
        raise_if_any([Problem("labels.tsv", f"column {LABEL_COLUMN}",
                              f"{n} labelled samples, {n_events} with {training.endpoint.name} "
                              "= 1: the final model needs both classes")])

    X_all = X.assign(**{BATCH_COLUMN: training.batch})
    radiomic = [f for f in features
                if str(training.modality.get(f, "")).strip().lower() == RADIOMICS_MODALITY]
    # the estimator as the cross-validation builds it: tuning starts from it, the final fit
    # uses it with the chosen parameters
    default_spec = model_spec("xgboost", features, xgboost_factory(settings, radiomic),
                              set(radiomic), settings.radiomics)
    params, params_source, tuning_record = _hyperparameters(
        settings, X_all.loc[labelled, default_spec.fit_columns].reset_index(drop=True), y,
        default_spec.factory)
    spec = model_spec("xgboost", features, xgboost_factory(settings, radiomic, params),
                      set(radiomic), settings.radiomics)
    estimator = spec.factory()
    estimator.fit(X_all.loc[labelled, spec.fit_columns].reset_index(drop=True), y)
    model = final_estimator(estimator)
    X_model, preprocessor = model_inputs(estimator, spec, X_all, X)
    model_features = list(X_model.columns)
    probability = model.predict_proba(X_model)[:, 1].astype(float)

    values, base_value = shap_values(model, X_model)
    importance = global_importance(values.loc[labelled], training.modality)
    top = top_contributors(values, N_TOP_CONTRIBUTORS, missing=X[model_features].isna())

    oof = _oof_probabilities(cv_oof, list(ids[labelled]))
    if oof is not None:
        source = ("the cross-validated out-of-fold xgboost probabilities (mean over repeats) "
                  f"of the {n} labelled patients")
    else:
        source = f"the final model's probabilities on the {n} labelled patients"
    groups = risk_group_cutoffs(risk_groups, oof if oof is not None else probability[labelled],
                                source)
    groups["probability_of"] = f"{training.endpoint.name} = 1"

    ranges, warnings, cohort_missing = scoring_checks(training, model_features, preprocessor)
    predictions = pd.DataFrame({
        "sample_id": ids,
        "batch": matrix[BATCH_COLUMN].to_numpy(),
        "labelled": labelled.astype(int),
        "probability": probability,
        "risk_group": assign_risk_groups(probability, groups),
        "top_contributors": top,
        "warnings": warnings,
    }).sort_values("sample_id", kind="mergesort").reset_index(drop=True)

    endpoint = training.endpoint
    start = linear_start_of(model)
    metadata = {
        "format": FORMAT,
        # a model with a linear start must not be read by a haicpred that would ignore it
        "format_version": FORMAT_VERSION if start is None else LINEAR_START_FORMAT_VERSION,
        "model": "xgboost.XGBClassifier" + ("" if start is None else
                                            " boosted from a penalised logistic start"),
        # what scoring adds to the booster's output (log-odds), None = nothing
        "linear_start": None if start is None else start.to_dict(model_features),
        **features_metadata(training, model_features, ranges, features, radiomic, preprocessor),
        "endpoint": {"column": endpoint.name, "positive_class": 1, **endpoint.summary()},
        "n": n,
        "n_events": n_events,
        "n_unlabelled": int((~labelled).sum()),
        # said once here (and in the log), not in every row of predictions.tsv
        "modalities_missing_for_every_sample": cohort_missing,
        "training_data": {
            "sha256": training_checksum(training, ids),
            "definition": (
                "sha256 of the TSV of the labelled rows: sample_id, batch, the candidate "
                "features in matrix order, label; rows by sample_id, floats %.17g, empty = "
                "missing, \\n line ends, UTF-8 "
                "(haicpred.modeling.final_model.training_data_sha256)"),
            "n_rows": n,
        },
        "xgboost_params": {**params, "random_state": settings.seed,
                           "n_jobs": settings.threads, "tree_method": "hist"},
        "hyperparameters": params_source,
        "tuning": tuning_record,
        "settings": settings.as_dict(),
        "allow_post_treatment": settings.allow_post_treatment,
        "cv_metrics": cv_metrics_record(cv_metrics),
        "risk_groups": groups,
        "shap": shap_metadata("shap.TreeExplainer (exact TreeSHAP), log-odds scale"
                              + ("" if start is None else ", plus the linear start's exact "
                                 "contributions (coefficient x standardised value)"),
                              base_value, n),
        "versions": package_versions(FINAL_MODEL_PACKAGES),
    }
    return FinalModel(model=model, preprocessor=preprocessor, metadata=metadata,
                      shap_importance=importance, predictions=predictions)


def _model_json_bytes(model) -> bytes:
    """The booster as ``Booster.save_model`` writes it in JSON format."""
    booster = model.get_booster() if hasattr(model, "get_booster") else model
    fd, tmp = tempfile.mkstemp(prefix="haicpred_model_", suffix=".json")
    os.close(fd)
    try:
        booster.save_model(tmp)
        return Path(tmp).read_bytes()
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_final_model(final: FinalModel, out_dir) -> None:
    """Write the model folder: model JSON, metadata (with the model's sha256), SHAP importance
    and the training cohort's predictions. Never a pickle."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model_bytes = _model_json_bytes(final.model)
    write_bytes(model_bytes, out / MODEL_FILE)
    metadata = {**final.metadata, "model_sha256": hashlib.sha256(model_bytes).hexdigest()}
    write_json(metadata, out / METADATA_FILE)
    write_tsv(final.shap_importance, out / SHAP_FILE)
    write_tsv(final.predictions[final.prediction_columns], out / PREDICTIONS_FILE)
    if final.nomogram is not None:
        write_json(final.nomogram, out / NOMOGRAM_FILE)
