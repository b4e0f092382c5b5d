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
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from haicpred.features.endpoints import Endpoint, model_availability_problems
from haicpred.io.errors import Problem, raise_if_any
from haicpred.io.tables import write_bytes, write_json, write_tsv
from haicpred.modeling.estimators import (MODEL_PACKAGES, final_estimator, model_spec,
                                          package_versions, xgboost_classifier)
from haicpred.modeling.explain import global_importance, shap_values, top_contributors
from haicpred.modeling.inputs import LABEL_COLUMN, check_inputs
# the final model handles features exactly as the cross-validation does (same checks, endpoint,
# radiomics step and XGBoost construction): the same functions, never a copy
from haicpred.modeling.outcomes import model_endpoint
from haicpred.modeling.scoring import (assign_risk_groups, feature_ranges, json_number,
                                       log_modalities_missing_for_everyone,
                                       modalities_missing_for_everyone, risk_group_cutoffs,
                                       sample_warnings)
from haicpred.modeling.settings import ModelSettings, resolve_model_settings
from haicpred.modeling.tuning import describe_search, tune_xgboost
from haicpred.radiomics.preprocessing import (BATCH_COLUMN, RADIOMICS_MODALITY,
                                              RadiomicsPreprocessor, is_single_batch_reason)

log = logging.getLogger(__name__)

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MODEL_FILE",
    "METADATA_FILE",
    "SHAP_FILE",
    "PREDICTIONS_FILE",
    "TRAINING_PREDICTION_COLUMNS",
    "N_TOP_CONTRIBUTORS",
    "FinalModel",
    "fit_final_model",
    "write_final_model",
    "training_data_sha256",
]

FORMAT = "haicpred final model"
FORMAT_VERSION = 1
MODEL_FILE = "xgboost_model.json"
METADATA_FILE = "model_metadata.json"
SHAP_FILE = "shap_importance.tsv"
PREDICTIONS_FILE = "predictions.tsv"
TRAINING_PREDICTION_COLUMNS = ["sample_id", "batch", "labelled", "probability", "risk_group",
                               "top_contributors", "warnings"]
N_TOP_CONTRIBUTORS = 3
# SHAP and ComBat shape what the folder holds, so their versions are recorded with the model's.
FINAL_MODEL_PACKAGES = (*MODEL_PACKAGES, "shap", "neuroCombat")


@dataclass
class FinalModel:
    """The fitted final model and what :func:`write_final_model` writes."""

    model: object  # xgboost.XGBClassifier
    preprocessor: RadiomicsPreprocessor | None  # the fitted radiomics step, if any
    metadata: dict  # without model_sha256 (added when the model file is written)
    shap_importance: pd.DataFrame
    predictions: pd.DataFrame

    @property
    def feature_names(self) -> list[str]:
        return list(self.metadata["feature_names"])


@dataclass
class _Training:
    """The inputs after the cross-validation's checks: raw features, labels, batches."""

    X: pd.DataFrame  # every sample, every candidate feature (float, raw)
    y: pd.Series  # label per sample, NaN = unlabelled
    batch: np.ndarray  # per sample, object (str or None)
    endpoint: Endpoint
    settings: ModelSettings
    modality: dict
    unit: dict

    @property
    def labelled(self) -> np.ndarray:
        return self.y.notna().to_numpy()


def _prepare(matrix: pd.DataFrame, labels: pd.DataFrame, dictionary: pd.DataFrame,
             settings: dict | ModelSettings | None) -> tuple[_Training, pd.DataFrame]:
    """Settings, endpoint and checked inputs exactly as ``cross_validate_models`` has them."""
    settings = resolve_model_settings(settings)
    # the survival models are cross-validated already; their frozen form comes later
    unavailable = model_availability_problems(dict(settings.endpoint))
    if unavailable:
        raise ValueError(f"{unavailable[0].message}; {unavailable[0].hint}")
    matrix = matrix.reset_index(drop=True)
    model_outcome = model_endpoint(settings)
    endpoint, labels = model_outcome.labels(labels)
    X, y, _ = check_inputs(matrix, labels, dictionary, None, settings.allow_post_treatment,
                           label_values=model_outcome.label_values,
                           label_column=model_outcome.label_column)
    batch = matrix[BATCH_COLUMN].map(lambda b: b if pd.isna(b) else str(b)).to_numpy(dtype=object)
    modality = dict(zip(dictionary["feature"], dictionary["modality"].fillna("")))
    unit = (dict(zip(dictionary["feature"], dictionary["unit"].fillna("")))
            if "unit" in dictionary.columns else {})
    return _Training(X, y, batch, endpoint, settings, modality, unit), matrix


def training_data_sha256(matrix: pd.DataFrame, labels: pd.DataFrame, dictionary: pd.DataFrame,
                         settings: dict | ModelSettings | None = None) -> str:
    """sha256 of the labelled training data as the final model sees it (see :func:`_checksum`):
    recompute it to check that a model was trained on a given matrix and labels."""
    training, matrix = _prepare(matrix, labels, dictionary, settings)
    return _checksum(training, matrix["sample_id"].astype(str).to_numpy())


def _checksum(training: _Training, ids: np.ndarray) -> str:
    """sha256 of the canonical TSV of the labelled rows: ``sample_id, batch``, the candidate
    features in matrix order and the label, rows by sample_id, floats as ``%.17g`` (exact),
    empty = missing, ``\\n`` line ends, UTF-8. Independent of row order and of how the matrix
    file was formatted."""
    keep = training.labelled
    frame = pd.DataFrame({"sample_id": ids[keep], BATCH_COLUMN: training.batch[keep]})
    frame = pd.concat([frame, training.X.loc[keep].reset_index(drop=True)], axis=1)
    frame["label"] = training.y[keep].astype(int).to_numpy()
    frame = frame.sort_values("sample_id", kind="mergesort")
    text = frame.to_csv(sep="\t", index=False, na_rep="", float_format="%.17g",
                        lineterminator="\n")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------------------------
# JSON values


def _json_value(value):
    """numpy scalars as plain JSON values (NaN as None); text as it is."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return json_number(value)
    return value


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
        params = {**settings.xgboost, **tuned}
        record = {"search": describe_search(tuning),
                  "chosen": tuned,
                  "trace": [{k: _json_value(v) for k, v in row.items()}
                            for row in trace.to_dict("records")]}
        return ({k: params[k] for k in sorted(params)},
                "tuned on all labelled patients (haicpred.modeling.tuning.tune_xgboost)", record)
    return (dict(settings.xgboost),
            "fixed (model.xgboost over haicpred.modeling.settings defaults)", None)


def _cv_metrics(cv_metrics: pd.DataFrame | None) -> dict | None:
    """The xgboost row of metrics.tsv as JSON values (numbers where numeric)."""
    if cv_metrics is None:
        return None
    rows = cv_metrics[cv_metrics["model"] == "xgboost"]
    if len(rows) != 1:
        raise ValueError("metrics.tsv must have exactly one xgboost row")
    out = {}
    for key, value in rows.iloc[0].items():
        if key == "model":
            out[key] = str(value)
            continue
        number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
        if pd.isna(value):
            out[key] = None
        elif pd.isna(number):
            out[key] = str(value)
        else:
            number = float(number)
            out[key] = (int(number) if number.is_integer() and key.startswith("n")
                        else json_number(number))
    return out


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
    training, matrix = _prepare(matrix, labels, dictionary, settings)
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
    default_spec = model_spec("xgboost", features,
                              lambda: xgboost_classifier(settings.xgboost, settings.seed,
                                                         settings.threads),
                              set(radiomic), settings.radiomics)
    params, params_source, tuning_record = _hyperparameters(
        settings, X_all.loc[labelled, default_spec.fit_columns].reset_index(drop=True), y,
        default_spec.factory)
    spec = model_spec("xgboost", features,
                      lambda: xgboost_classifier(params, settings.seed, settings.threads),
                      set(radiomic), settings.radiomics)
    estimator = spec.factory()
    estimator.fit(X_all.loc[labelled, spec.fit_columns].reset_index(drop=True), y)
    model = final_estimator(estimator)
    preprocessor = estimator.named_steps["radiomics"] if spec.radiomic else None
    if preprocessor is not None:
        X_model, _ = preprocessor.transform_with_mask(X_all[spec.fit_columns])
        reason = preprocessor.summary_["reason"]
        if preprocessor.combat_ is None and is_single_batch_reason(reason):
            # the cross-validation's log says it once for the run; the metadata has the reason
            log.info("final model: radiomic features not harmonised (a single batch)")
        elif preprocessor.combat_ is None:
            log.warning("final model: radiomic features not harmonised: %s", reason)
    else:
        X_model = X[features]
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

    ranges = feature_ranges(X.loc[labelled, model_features])
    combat = preprocessor.combat_ if preprocessor is not None else None
    warnings = sample_warnings(X[model_features], training.modality, ranges,
                               batches=training.batch, harmonisation=combat)
    cohort_missing = modalities_missing_for_everyone(X[model_features], training.modality)
    log_modalities_missing_for_everyone(cohort_missing, len(X))
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
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": "xgboost.XGBClassifier",
        "model_file": MODEL_FILE,
        "model_format": "xgboost JSON (Booster.save_model)",
        # the booster's inputs in order, after the radiomics filters: the matrix columns
        # haicpred.modeling.predict needs
        "feature_names": model_features,
        "n_features": len(model_features),
        "feature_modality": {f: str(training.modality.get(f, "")) for f in model_features},
        "feature_unit": {f: str(training.unit.get(f, "")) for f in model_features},
        "feature_ranges": ranges,
        "feature_ranges_definition": (
            "over the labelled training patients, raw matrix values (before ComBat): min, max, "
            "1st and 99th percentile of the non-missing values, fraction missing"),
        "candidate_features": features,
        "n_candidate_features": len(features),
        "radiomic_features": radiomic,
        "radiomics_preprocessing": preprocessor.to_dict() if preprocessor is not None else None,
        "endpoint": {"column": endpoint.name, "positive_class": 1, **endpoint.summary()},
        "n": n,
        "n_events": n_events,
        "n_unlabelled": int((~labelled).sum()),
        # said once here (and in the log), not in every row of predictions.tsv
        "modalities_missing_for_every_sample": cohort_missing,
        "training_data": {
            "sha256": _checksum(training, ids),
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
        "cv_metrics": _cv_metrics(cv_metrics),
        "risk_groups": groups,
        "shap": {
            "explainer": "shap.TreeExplainer (exact TreeSHAP), log-odds scale",
            "base_value": base_value,
            "importance_on": f"the {n} labelled training patients",
            "top_contributors": N_TOP_CONTRIBUTORS,
        },
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
    write_tsv(final.predictions[TRAINING_PREDICTION_COLUMNS], out / PREDICTIONS_FILE)
