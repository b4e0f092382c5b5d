"""Score a new cohort with a frozen final model (a ``results/model/final/`` folder).

The new cohort's tables go through the same feature steps as the training cohort (in practice a
second Snakemake run with the new cohort's config and ``predict.model_dir``; docs/predict.md);
:func:`predict` takes the resulting ``feature_matrix.tsv`` (and its dictionary) and the model
folder, and returns per sample ``sample_id, probability, risk_group,
top_contributors, warnings`` sorted by sample_id (a survival model, ``model_kind`` survival:
``sample_id, risk, surv_<h>m`` per horizon, ``risk_group, top_contributors, warnings``: the
risk is the Cox booster's log relative hazard and S(h) = exp(-H0(h) exp(risk)) with the
training run's Breslow baseline H0 from the metadata; for an AFT booster (``xgboost_params``
``objective`` ``survival:aft``) the risk is minus its predicted log time mu and S(h) = 1 -
Phi((log h - mu) / scale) with the metadata's ``aft`` distribution and scale: the same numbers
the training run's ``predictions.tsv`` has for the same features). Nothing is fitted: the
radiomics step is the training run's (filters and ComBat parameters from the metadata), the
cut-offs of the risk groups are the training run's.

The folder is checked before anything is scored (:func:`load_final_model`): both files present
and readable, the metadata valid JSON of this format with the keys scoring needs, the model
file's sha256 equal to the metadata's ``model_sha256``, the model a readable XGBoost JSON model
whose feature names, in order, are the metadata's ``feature_names`` (and the radiomics step's
kept features); for a survival model also an objective this version scores (``survival:cox``
with its Breslow baseline, ``survival:aft`` with its distribution and scale), the same as the
booster's own. Any failure is an :class:`~haicpred.io.errors.InputError` naming the file. Only
JSON is read; nothing is unpickled.

Warnings per sample (:func:`haicpred.modeling.scoring.sample_warnings`): model features
absent from the matrix (scored as missing, as XGBoost routes missing values), a modality with
every feature missing (a modality that no sample of the cohort has is not repeated on every row:
it is logged once, "missing modality for the whole cohort: ..."), values outside the training
range (named, with the bound), radiomic features left unharmonised because ComBat never saw the
sample's batch (a new hospital or scanner: the raw values are used; also logged once, with the
count of such samples and their batches), and a feature whose unit or modality in the new
dictionary differs from training.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from haicpred.io.errors import InputError, Problem, raise_if_any
from haicpred.modeling.explain import shap_values, top_contributors
from haicpred.modeling.final_training import (FORMAT, FORMAT_VERSION,
                                              LINEAR_START_FORMAT_VERSION, METADATA_FILE,
                                              MODEL_FILE, N_TOP_CONTRIBUTORS,
                                              SURVIVAL_FORMAT_VERSION)
from haicpred.modeling.linear_start import LinearStart, LinearStartXGBClassifier
from haicpred.modeling.scoring import (assign_risk_groups, log_modalities_missing_for_everyone,
                                       modalities_missing_for_everyone, sample_warnings)
from haicpred.modeling.survival_aft import AFT_DISTRIBUTION, XGBoostAFT
from haicpred.modeling.survival_final import (SURVIVAL_MODEL_KIND, SURVIVAL_OBJECTIVE_KEYS,
                                              frozen_survival_model, survival_objective,
                                              survival_prediction_columns, survival_shap)
from haicpred.modeling.survival_endpoint import prediction_columns
from haicpred.radiomics.preprocessing import BATCH_COLUMN, RadiomicsPreprocessor

log = logging.getLogger(__name__)

__all__ = ["PREDICTION_COLUMNS", "FrozenModel", "load_final_model", "predict"]

PREDICTION_COLUMNS = ["sample_id", "probability", "risk_group", "top_contributors", "warnings"]
_REQUIRED_METADATA = ("format", "format_version", "feature_names", "feature_modality",
                      "feature_ranges", "risk_groups", "model_sha256", "radiomics_preprocessing")
_HINT = ("give the results/model/final folder of a training run, unchanged (rerun the training "
         "workflow's final_model rule to rebuild it)")
# the folder formats this version reads: 1 (a binary model), 2 (a survival model), 3 (a binary
# model boosted from a linear start, metadata linear_start)
_READABLE_VERSIONS = (FORMAT_VERSION, SURVIVAL_FORMAT_VERSION, LINEAR_START_FORMAT_VERSION)


class FrozenModel:
    """A loaded, checked model folder."""

    def __init__(self, model, metadata: dict, preprocessor: RadiomicsPreprocessor | None,
                 folder: Path):
        self.model = model
        self.metadata = metadata
        self.preprocessor = preprocessor
        self.folder = folder

    @property
    def feature_names(self) -> list[str]:
        return list(self.metadata["feature_names"])

    @property
    def survival(self) -> bool:
        """A survival model (risk and S(t)) rather than a binary one (a probability)."""
        return self.metadata.get("model_kind") == SURVIVAL_MODEL_KIND


def _problem(path: Path, where: str, message: str) -> InputError:
    return InputError([Problem(str(path), where, message, _HINT)])


def load_final_model(model_dir) -> FrozenModel:
    """Read and check a model folder (see the module docstring); InputError naming the file."""
    import xgboost

    folder = Path(model_dir)
    if not folder.is_dir():
        raise _problem(folder, "model folder", "does not exist or is not a folder")
    model_path, metadata_path = folder / MODEL_FILE, folder / METADATA_FILE
    raise_if_any([Problem(str(path), "file", "is missing from the model folder", _HINT)
                  for path in (model_path, metadata_path) if not path.is_file()])
    try:
        metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _problem(metadata_path, "content", f"is not valid JSON ({error})") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise _problem(metadata_path, "format",
                       f"is not a {FORMAT!r} metadata file (write one with the training "
                       "workflow's final_model rule, "
                       "haicpred.modeling.final_model.write_final_model)")
    if metadata.get("format_version") not in _READABLE_VERSIONS:
        raise _problem(metadata_path, "format_version",
                       f"is {metadata.get('format_version')!r}; this version of haicpred reads "
                       f"{', '.join(map(str, _READABLE_VERSIONS))} (a newer haicpred wrote it?)")
    survival = metadata.get("model_kind") == SURVIVAL_MODEL_KIND
    objective = survival_objective(metadata) if survival else None
    if survival and (not isinstance(objective, str) or objective not in SURVIVAL_OBJECTIVE_KEYS):
        raise _problem(metadata_path, "xgboost_params.objective",
                       ("is missing" if objective is None else f"is {objective!r}")
                       + "; this version of haicpred scores survival models of "
                       f"objective {' or '.join(SURVIVAL_OBJECTIVE_KEYS)} (the booster's "
                       "objective, which says how its risk becomes S(t))")
    required = _REQUIRED_METADATA + (SURVIVAL_OBJECTIVE_KEYS[objective] if survival else ())
    absent = [key for key in required if key not in metadata]
    if absent:
        raise _problem(metadata_path, "keys", "lacks " + ", ".join(absent))
    names = metadata["feature_names"]
    if (not isinstance(names, list) or not names
            or not all(isinstance(n, str) for n in names) or len(set(names)) != len(names)):
        raise _problem(metadata_path, "feature_names", "is not a list of distinct names")
    lacking = [n for n in names if n not in metadata["feature_ranges"]]
    if lacking:
        raise _problem(metadata_path, "feature_ranges",
                       "has no training range for " + ", ".join(lacking))

    model_bytes = model_path.read_bytes()
    digest = hashlib.sha256(model_bytes).hexdigest()
    if digest != metadata["model_sha256"]:
        raise _problem(model_path, "sha256",
                       f"is {digest}, not the metadata's model_sha256 {metadata['model_sha256']}:"
                       " the model file was changed or comes from another run")
    if objective == XGBoostAFT.objective:
        _check_aft(metadata_path, metadata)
    elif survival:
        _check_baseline_hazard(metadata_path, metadata)
    model = xgboost.XGBRegressor() if survival else LinearStartXGBClassifier()
    try:
        model.load_model(bytearray(model_bytes))
    except (xgboost.core.XGBoostError, ValueError, TypeError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise _problem(model_path, "content", f"is not a readable XGBoost JSON model ({first})"
                       ) from None
    booster_names = model.get_booster().feature_names
    if booster_names is None or list(booster_names) != list(names):
        raise _problem(model_path, "feature names",
                       _first_difference(list(booster_names or []), list(names)))
    if survival:
        _check_booster_objective(model_path, model.get_booster(), metadata)
        model = frozen_survival_model(model, metadata)
    else:
        model.start_ = _linear_start(metadata_path, metadata, names)
    preprocessor = None
    state = metadata["radiomics_preprocessing"]
    if state is not None:
        try:
            preprocessor = RadiomicsPreprocessor.from_dict(state)
        except (KeyError, TypeError, ValueError) as error:
            raise _problem(metadata_path, "radiomics_preprocessing",
                           f"is incomplete ({type(error).__name__}: {error})") from None
        if list(preprocessor.kept_features_) != list(names):
            raise _problem(metadata_path, "radiomics_preprocessing",
                           "kept features differ from feature_names")
    return FrozenModel(model, metadata, preprocessor, folder)


def _linear_start(path: Path, metadata: dict, names: list[str]) -> LinearStart | None:
    """The binary model's linear start (format 3), None for a model boosted from a constant."""
    state = metadata.get("linear_start")
    if metadata["format_version"] != LINEAR_START_FORMAT_VERSION:
        if state is not None:
            raise _problem(path, "linear_start", f"is set in a format_version "
                           f"{metadata['format_version']} file (only {LINEAR_START_FORMAT_VERSION} "
                           "models have one)")
        return None
    try:
        start = LinearStart.from_dict(state)
    except (KeyError, TypeError, ValueError) as error:
        raise _problem(path, "linear_start",
                       f"is incomplete ({type(error).__name__}: {error})") from None
    if list(state["features"]) != list(names):
        raise _problem(path, "linear_start", "features differ from feature_names")
    return start


def _check_baseline_hazard(path: Path, metadata: dict) -> None:
    """The survival metadata's horizons and Breslow baseline: numbers, H0 non-decreasing."""
    hazard, horizons = metadata["baseline_hazard"], metadata["horizons_months"]
    try:
        times = np.asarray(hazard["event_times"], dtype=float)
        cumulative = np.asarray(hazard["cumulative_hazard"], dtype=float)
        horizons = np.asarray(horizons, dtype=float)
    except (KeyError, TypeError, ValueError) as error:
        raise _problem(path, "baseline_hazard",
                       f"is incomplete ({type(error).__name__}: {error})") from None
    if (times.ndim != 1 or times.shape != cumulative.shape or not times.size
            or np.any(np.diff(times) <= 0) or np.any(np.diff(cumulative) < 0)
            or not np.all(np.isfinite(cumulative)) or horizons.ndim != 1 or not horizons.size):
        raise _problem(path, "baseline_hazard",
                       "must have increasing event_times and a non-decreasing "
                       "cumulative_hazard of the same length, and horizons_months a list")


def _check_aft(path: Path, metadata: dict) -> None:
    """The AFT model's horizons, distribution (the normal one, the only one S(t) is computed
    for) and scale (a positive number)."""
    entry, horizons = metadata["aft"], metadata["horizons_months"]
    try:
        distribution, scale = entry["distribution"], float(entry["scale"])
        horizons = np.asarray(horizons, dtype=float)
    except (KeyError, TypeError, ValueError) as error:
        raise _problem(path, "aft", f"is incomplete ({type(error).__name__}: {error}): it "
                       "needs the distribution and scale of the AFT model, what S(t) is "
                       "computed from") from None
    if (distribution != AFT_DISTRIBUTION or not np.isfinite(scale) or scale <= 0
            or horizons.ndim != 1 or not horizons.size):
        raise _problem(path, "aft",
                       f"must have distribution {AFT_DISTRIBUTION!r} and a positive scale, "
                       f"and horizons_months a list (got distribution {distribution!r}, scale "
                       f"{scale!r})")


def _check_booster_objective(path: Path, booster, metadata: dict) -> None:
    """The booster's own objective (and AFT distribution and scale) is the metadata's: S(t) is
    computed the way the booster was trained."""
    objective = json.loads(booster.save_config())["learner"]["objective"]
    own = objective.get("name")
    expected = survival_objective(metadata)
    if own == XGBoostAFT.objective and expected == own:
        param = objective.get("aft_loss_param", {})
        own_pair = (param.get("aft_loss_distribution"),
                    float(param.get("aft_loss_distribution_scale", "nan")))
        pair = (metadata["aft"]["distribution"], float(metadata["aft"]["scale"]))
        if own_pair != pair:
            raise _problem(path, "objective",
                           f"is {own} with distribution {own_pair[0]} and scale {own_pair[1]:g}, "
                           f"{METADATA_FILE} aft has {pair[0]} and {pair[1]:g}: the files come "
                           "from different runs")
    elif own != expected:
        raise _problem(path, "objective",
                       f"is {own!r}, {METADATA_FILE} xgboost_params.objective is {expected!r}: "
                       "the files come from different runs")


def _first_difference(model_names: list[str], metadata_names: list[str]) -> str:
    if len(model_names) != len(metadata_names):
        return (f"the model has {len(model_names)} feature names, "
                f"{METADATA_FILE} feature_names has {len(metadata_names)}")
    for index, (a, b) in enumerate(zip(model_names, metadata_names)):
        if a != b:
            return (f"differ from {METADATA_FILE} feature_names (order included): position "
                    f"{index + 1} is {a!r} in the model, {b!r} in the metadata")
    return "differ from the metadata's feature_names"


def _dictionary_warnings(dictionary: pd.DataFrame | None, metadata: dict) -> list[str]:
    """Model features described differently (unit, modality) in the new cohort's dictionary."""
    if dictionary is None or "feature" not in dictionary.columns:
        return []
    out = []
    for column, key in (("unit", "feature_unit"), ("modality", "feature_modality")):
        if column not in dictionary.columns or key not in metadata:
            continue
        given = dict(zip(dictionary["feature"], dictionary[column].fillna("")))
        differ = [f"{f} ({metadata[key][f]!r} in training, {given[f]!r} here)"
                  for f in metadata["feature_names"]
                  if f in given and str(given[f]) != str(metadata[key].get(f, ""))]
        if differ:
            out.append(f"{column} differs from training: " + ", ".join(differ))
    return out


def _features(matrix: pd.DataFrame, names: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """The model's features as floats, absent columns as missing; InputError for text or
    infinite values."""
    problems, data, absent = [], {}, []
    for name in names:
        if name not in matrix.columns:
            absent.append(name)
            data[name] = np.full(len(matrix), np.nan)
            continue
        raw = matrix[name]
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        bad = np.isnan(values) & raw.notna().to_numpy()
        if bad.any():
            rows = np.flatnonzero(bad)[:5] + 1
            problems.append(Problem("feature_matrix.tsv", f"column {name}",
                                    f"non-numeric value(s) in data row(s) "
                                    f"{', '.join(map(str, rows))}",
                                    "features must be numeric; leave missing values empty"))
        if np.isinf(values).any():
            problems.append(Problem("feature_matrix.tsv", f"column {name}", "infinite value(s)"))
        data[name] = values
    raise_if_any(problems)
    return pd.DataFrame(data, index=matrix.index, columns=names), absent


def _log_unharmonised(batches: np.ndarray) -> None:
    """One warning for the samples whose batch ComBat never saw (scored on raw values)."""
    unseen = sorted({str(b) for b in batches if not pd.isna(b)})
    named = ", ".join(unseen + (["(no batch)"] if any(pd.isna(b) for b in batches) else []))
    log.warning("%d sample(s) scored on unharmonised radiomic features: batch(es) not seen by "
                "ComBat in training: %s", len(batches), named)


def predict(matrix: pd.DataFrame, dictionary: pd.DataFrame | None, model_dir) -> pd.DataFrame:
    """Score ``matrix`` (a feature matrix: ``sample_id, batch``, features) with the model in
    ``model_dir``: ``sample_id, probability, risk_group, top_contributors, warnings``; for a
    survival model ``sample_id, risk, surv_<h>m`` per horizon, ``risk_group,
    top_contributors, warnings``
    (:func:`haicpred.modeling.survival_final.survival_prediction_columns`)."""
    frozen = load_final_model(model_dir)
    metadata, names = frozen.metadata, frozen.feature_names
    problems = []
    if "sample_id" not in matrix.columns:
        problems.append(Problem("feature_matrix.tsv", "header", "no sample_id column"))
    else:
        ids = matrix["sample_id"]
        for sample in sorted(set(ids[ids.duplicated() & ids.notna()].astype(str))):
            problems.append(Problem("feature_matrix.tsv", f"sample {sample}",
                                    "sample_id appears more than once"))
        if ids.isna().any():
            problems.append(Problem("feature_matrix.tsv", "column sample_id", "empty sample_id"))
    combat = frozen.preprocessor.combat_ if frozen.preprocessor is not None else None
    if combat is not None and BATCH_COLUMN not in matrix.columns:
        problems.append(Problem("feature_matrix.tsv", "header", f"no {BATCH_COLUMN} column",
                                "the model harmonises radiomic features per batch (ComBat)"))
    raise_if_any(problems)
    matrix = matrix.reset_index(drop=True)
    X_raw, absent = _features(matrix, names)
    if absent:
        log.warning("%d model feature(s) absent from the matrix, scored as missing: %s",
                    len(absent), ", ".join(absent))
    batches = (matrix[BATCH_COLUMN].map(lambda b: b if pd.isna(b) else str(b))
               .to_numpy(dtype=object) if BATCH_COLUMN in matrix.columns
               else np.full(len(matrix), None, dtype=object))
    if frozen.preprocessor is not None:
        X_model, harmonised = frozen.preprocessor.transform_with_mask(
            X_raw.assign(**{BATCH_COLUMN: batches}))
        if combat is not None and not harmonised.all():
            _log_unharmonised(batches[~harmonised])
    else:
        X_model = X_raw
    if frozen.survival:
        predicted = frozen.model.predict(X_model[names])
        score = predicted[:, 0]  # the risk: the risk groups' scale
        columns = survival_prediction_columns(metadata["horizons_months"])
        scores = prediction_columns(predicted, metadata["horizons_months"])
    else:
        score = frozen.model.predict_proba(X_model[names])[:, 1].astype(float)
        columns, scores = PREDICTION_COLUMNS, {"probability": score}
    values, _ = (survival_shap(frozen.model, X_model[names]) if frozen.survival
                 else shap_values(frozen.model, X_model[names]))
    cohort = _dictionary_warnings(dictionary, metadata)
    for text in cohort:
        log.warning("%s", text)
    warnings = sample_warnings(X_raw, metadata["feature_modality"], metadata["feature_ranges"],
                               absent=absent, batches=batches, harmonisation=combat,
                               cohort_warnings=cohort)
    log_modalities_missing_for_everyone(
        modalities_missing_for_everyone(X_raw, metadata["feature_modality"]), len(X_raw))
    out = pd.DataFrame({
        "sample_id": matrix["sample_id"].astype(str).to_numpy(),
        **scores,
        "risk_group": assign_risk_groups(score, metadata["risk_groups"]),
        "top_contributors": top_contributors(values, N_TOP_CONTRIBUTORS,
                                             missing=X_raw[names].isna()),
        "warnings": warnings,
    })
    n_warned = int((out["warnings"] != "").sum())
    log.info("scored %d sample(s) with %s; %d with warnings", len(out), frozen.folder, n_warned)
    return out.sort_values("sample_id", kind="mergesort").reset_index(drop=True)[columns]
