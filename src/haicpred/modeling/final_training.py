"""What every kind of final model shares (:mod:`haicpred.modeling.final_model` for the binary
endpoints, :mod:`haicpred.modeling.survival_final` for time to event): the folder's file names
and format, the inputs checked exactly as the cross-validation checks them, the training-data
checksum and the JSON form of the cross-validated metrics.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from haicpred.features.endpoints import SURVIVAL_KIND
from haicpred.modeling.estimators import MODEL_PACKAGES
from haicpred.modeling.inputs import check_inputs
# the final model handles features exactly as the cross-validation does (same checks, endpoint,
# radiomics step and XGBoost construction): the same functions, never a copy
from haicpred.modeling.outcomes import model_endpoint
from haicpred.modeling.scoring import (feature_ranges, json_number,
                                       log_modalities_missing_for_everyone,
                                       modalities_missing_for_everyone, sample_warnings)
from haicpred.modeling.settings import ModelSettings, resolve_model_settings
from haicpred.radiomics.preprocessing import (BATCH_COLUMN, RadiomicsPreprocessor,
                                              is_single_batch_reason)

# the final model's log (both kinds), as before these steps were shared
log = logging.getLogger("haicpred.modeling.final_model")

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "SURVIVAL_FORMAT_VERSION",
    "LINEAR_START_FORMAT_VERSION",
    "MODEL_FILE",
    "METADATA_FILE",
    "SHAP_FILE",
    "PREDICTIONS_FILE",
    "NOMOGRAM_FILE",
    "N_TOP_CONTRIBUTORS",
    "FINAL_MODEL_PACKAGES",
    "TRAINING_PREDICTION_COLUMNS",
    "FinalModel",
    "TrainingInputs",
    "prepare_training",
    "training_checksum",
    "json_value",
    "cv_metrics_record",
    "model_inputs",
    "scoring_checks",
    "features_metadata",
    "shap_metadata",
]

FORMAT = "haicpred final model"
# 1: a binary model (XGBClassifier, a probability); 2: a survival model (Cox booster, Breslow
# baseline hazard, S(t) at the horizons; metadata "model_kind": "survival"). A binary model is
# still written as version 1, byte for byte as before, and earlier folders load unchanged.
FORMAT_VERSION = 1
SURVIVAL_FORMAT_VERSION = 2
LINEAR_START_FORMAT_VERSION = 3  # a binary model boosted from a linear start (its metadata)
MODEL_FILE = "xgboost_model.json"
METADATA_FILE = "model_metadata.json"
SHAP_FILE = "shap_importance.tsv"
PREDICTIONS_FILE = "predictions.tsv"
NOMOGRAM_FILE = "nomogram.json"
N_TOP_CONTRIBUTORS = 3
# SHAP and ComBat shape what the folder holds, so their versions are recorded with the model's.
FINAL_MODEL_PACKAGES = (*MODEL_PACKAGES, "shap", "neuroCombat")
# predictions.tsv of a binary final model (a survival model's: survival_final)
TRAINING_PREDICTION_COLUMNS = ["sample_id", "batch", "labelled", "probability", "risk_group",
                               "top_contributors", "warnings"]


@dataclass
class FinalModel:
    """The fitted final model and what ``final_model.write_final_model`` writes."""

    model: object  # xgboost.XGBClassifier, or survival_estimators.XGBoostCox
    preprocessor: RadiomicsPreprocessor | None  # the fitted radiomics step, if any
    metadata: dict  # without model_sha256 (added when the model file is written)
    shap_importance: pd.DataFrame
    predictions: pd.DataFrame
    # the columns of predictions.tsv, in order
    prediction_columns: list[str] = field(
        default_factory=lambda: list(TRAINING_PREDICTION_COLUMNS))
    nomogram: dict | None = None  # survival: the published-factor Cox nomogram, if fitted

    @property
    def feature_names(self) -> list[str]:
        return list(self.metadata["feature_names"])


@dataclass
class TrainingInputs:
    """The inputs after the cross-validation's checks: raw features, labels, batches."""

    X: pd.DataFrame  # every sample, every candidate feature (float, raw)
    y: pd.Series  # label per sample, NaN = unlabelled (survival: the signed time)
    batch: np.ndarray  # per sample, object (str or None)
    endpoint: object  # the labels record (features.endpoints.Endpoint or SurvivalOutcome)
    settings: ModelSettings
    modality: dict
    unit: dict
    model_outcome: object  # the CV engine's endpoint (haicpred.modeling.endpoint.ModelEndpoint)

    @property
    def labelled(self) -> np.ndarray:
        return self.y.notna().to_numpy()

    @property
    def survival(self) -> bool:
        return self.settings.endpoint["kind"] == SURVIVAL_KIND


def prepare_training(matrix: pd.DataFrame, labels: pd.DataFrame, dictionary: pd.DataFrame,
                     settings: dict | ModelSettings | None
                     ) -> tuple[TrainingInputs, pd.DataFrame]:
    """Settings, endpoint and checked inputs exactly as ``cross_validate_models`` has them;
    the matrix with a fresh index."""
    settings = resolve_model_settings(settings)
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
    return (TrainingInputs(X, y, batch, endpoint, settings, modality, unit, model_outcome),
            matrix)


def training_checksum(training: TrainingInputs, ids: np.ndarray) -> str:
    """sha256 of the canonical TSV of the labelled rows: ``sample_id, batch``, the candidate
    features in matrix order and the label (binary: 0/1; survival: the time, negative when
    censored), rows by sample_id, floats as ``%.17g`` (exact), empty = missing, ``\\n`` line
    ends, UTF-8. Independent of row order and of how the matrix file was formatted."""
    keep = training.labelled
    frame = pd.DataFrame({"sample_id": ids[keep], BATCH_COLUMN: training.batch[keep]})
    frame = pd.concat([frame, training.X.loc[keep].reset_index(drop=True)], axis=1)
    label = training.y[keep].to_numpy(dtype=float)
    frame["label"] = label if training.survival else label.astype(int)
    frame = frame.sort_values("sample_id", kind="mergesort")
    text = frame.to_csv(sep="\t", index=False, na_rep="", float_format="%.17g",
                        lineterminator="\n")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def json_value(value):
    """numpy scalars as plain JSON values (NaN as None); text as it is."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return json_number(value)
    return value


def cv_metrics_record(cv_metrics: pd.DataFrame | None) -> dict | None:
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


def model_inputs(estimator, spec, X_all: pd.DataFrame, X: pd.DataFrame
                 ) -> tuple[pd.DataFrame, RadiomicsPreprocessor | None]:
    """What the fitted final booster sees for every sample of the matrix (the fitted radiomics
    step applied when the model has radiomic features), and that step."""
    if not spec.radiomic:
        return X[spec.columns], None
    preprocessor = estimator.named_steps["radiomics"]
    X_model, _ = preprocessor.transform_with_mask(X_all[spec.fit_columns])
    reason = preprocessor.summary_["reason"]
    if preprocessor.combat_ is None and is_single_batch_reason(reason):
        # the cross-validation's log says it once for the run; the metadata has the reason
        log.info("final model: radiomic features not harmonised (a single batch)")
    elif preprocessor.combat_ is None:
        log.warning("final model: radiomic features not harmonised: %s", reason)
    return X_model, preprocessor


def scoring_checks(training: TrainingInputs, model_features: list[str],
                   preprocessor: RadiomicsPreprocessor | None
                   ) -> tuple[dict, list[str], list[str]]:
    """The training ranges of the model's features (over the labelled patients), each sample's
    warnings, and the modalities no sample has (logged once)."""
    X, labelled = training.X, training.labelled
    ranges = feature_ranges(X.loc[labelled, model_features])
    combat = preprocessor.combat_ if preprocessor is not None else None
    warnings = sample_warnings(X[model_features], training.modality, ranges,
                               batches=training.batch, harmonisation=combat)
    cohort_missing = modalities_missing_for_everyone(X[model_features], training.modality)
    log_modalities_missing_for_everyone(cohort_missing, len(X))
    return ranges, warnings, cohort_missing


def features_metadata(training: TrainingInputs, model_features: list[str], ranges: dict,
                      candidate_features: list[str], radiomic: list[str],
                      preprocessor: RadiomicsPreprocessor | None) -> dict:
    """The metadata every final model has about its file and the booster's inputs, in this key
    order: the booster's inputs in order, after the radiomics filters (the matrix columns
    haicpred.modeling.predict needs), their modality, unit and training range, the candidate
    and radiomic features, the fitted radiomics step."""
    return {
        "model_file": MODEL_FILE,
        "model_format": "xgboost JSON (Booster.save_model)",
        "feature_names": model_features,
        "n_features": len(model_features),
        "feature_modality": {f: str(training.modality.get(f, "")) for f in model_features},
        "feature_unit": {f: str(training.unit.get(f, "")) for f in model_features},
        "feature_ranges": ranges,
        "feature_ranges_definition": (
            "over the labelled training patients, raw matrix values (before ComBat): min, max, "
            "1st and 99th percentile of the non-missing values, fraction missing"),
        "candidate_features": candidate_features,
        "n_candidate_features": len(candidate_features),
        "radiomic_features": radiomic,
        "radiomics_preprocessing": preprocessor.to_dict() if preprocessor is not None else None,
    }


def shap_metadata(explainer: str, base_value: float, n: int) -> dict:
    """The metadata's ``shap`` entry: what the values are, their base value, who they are
    averaged over."""
    return {
        "explainer": explainer,
        "base_value": base_value,
        "importance_on": f"the {n} labelled training patients",
        "top_contributors": N_TOP_CONTRIBUTORS,
    }
