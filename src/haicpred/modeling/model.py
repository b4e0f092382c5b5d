"""Cross-validated response models: XGBoost against simple, published baselines.

Label: ``objective_response`` (1 = mRECIST best response CR or PR, 0 = SD or PD). Only labelled
samples are used for training and evaluation; unlabelled ones are counted. This module fits no
final model: the one frozen model is :mod:`haicpred.modeling.final_model`'s (``results/model/final/``),
which also scores every sample, labelled or not.

Validation scheme (TRIPOD+AI): repeated stratified K-fold. Inside every training fold each model
is fitted from scratch, including all of its preprocessing (an sklearn ``Pipeline``): median
imputation and scaling for the logistic baseline; XGBoost handles missing values natively.
Published scores are not fitted: :mod:`haicpred.modeling.score_baselines` judges each on its own values
on the patients who have it (a logistic recalibration per training fold only for the
probability metrics). Every model
that uses radiomic features (dictionary modality ``radiomics``) starts with
:class:`haicpred.radiomics.preprocessing.RadiomicsPreprocessor`: near-constant filter, ComBat batch
harmonisation (setting ``harmonisation``) and correlation filter (``radiomics_max_correlation``),
all fitted on the training fold; a fold whose held-out batches are not all in its training part
is not harmonised, and every fold's counts and harmonisation status are in
``radiomics_folds.tsv``. XGBoost's hyper-parameters are searched inside every outer training
fold (nested CV, :mod:`haicpred.modeling.tuning`; each per-modality ablation searched on its own
feature set; ``tuning.enabled: false`` = the fixed ``xgboost`` parameters). The outer folds run
in parallel on ``threads`` worker threads, each fit on one
thread, with the same results for any thread count.

Metrics of the fitted models are computed on the out-of-fold (OOF) probability of each sample
averaged over the repeats; the 95% CI of the AUC comes from a stratified bootstrap of those
probabilities (the
same resamples for every model, so differences to XGBoost are paired).

Outputs written by :func:`write_model_outputs` (all TSVs through :func:`haicpred.io.tables.write_tsv`):

``oof_predictions.tsv``  ``sample_id, model, repeat, fold, y_true, y_prob``
    sorted by model, repeat, sample_id; repeat and fold are 1-based.
``metrics.tsv``          see :data:`METRIC_COLUMNS`; rows xgboost, xgboost_radiomics_only and
    xgboost_without_radiomics (when the matrix has radiomic and other features),
    logistic_baseline, the evaluated score baselines (by name), then ``oracle`` when the
    simulation truth is given.
``calibration.tsv``      ``model, bin, mean_predicted, observed_rate, n`` (10 quantile bins).
``feature_importance.tsv`` ``feature, modality, gain, gain_sd, rank``.
``radiomics_folds.tsv``  see :data:`RADIOMICS_FOLD_COLUMNS`: per model using radiomic features,
    repeat and fold, the radiomic features in, after each filter, and harmonised yes/no + why.
``decision_curve.tsv``, ``lobo_metrics.tsv``, ``tuning.tsv``: see :mod:`haicpred.modeling.evaluation`
    and :data:`TUNING_COLUMNS`.
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
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from haicpred.features.endpoints import Endpoint, endpoint_labels, resolve_endpoint
from haicpred.io.errors import Problem, raise_if_any
from haicpred.modeling.evaluation import (AUC_CI_METHOD, CALIBRATION_COLUMNS, DECISION_CURVE_COLUMNS,
                                 LOBO_COLUMNS, METRIC_COLUMNS, decision_curve, held_out_metrics,
                                 metric_tables)
from haicpred.modeling.metrics import auc_score, calibration_intercept_slope
from haicpred.modeling.parallel import map_in_order, single_threaded_blas
from haicpred.modeling.score_baselines import (baseline_factors, directed_scores,
                                      evaluate_score_baselines, factor_availability,
                                      with_score_rows)
from haicpred.radiomics.preprocessing import (BATCH_COLUMN, RADIOMICS_MODALITY, RadiomicsPreprocessor,
                                    harmonisation_warnings, near_constant_features)
from haicpred.io.tables import write_json, write_tsv
from haicpred.io.versions import package_versions as _package_versions
from haicpred.modeling.tuning import (DEFAULT_TUNING, TUNED_PARAMETERS, describe_search, resolve_tuning,
                             tune_xgboost, unseen_batch_reason)

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_SETTINGS",
    "DEFAULT_XGBOOST_PARAMS",
    "METRIC_COLUMNS",
    "OOF_COLUMNS",
    "CALIBRATION_COLUMNS",
    "IMPORTANCE_COLUMNS",
    "RADIOMICS_FOLD_COLUMNS",
    "DECISION_CURVE_COLUMNS",
    "LOBO_COLUMNS",
    "TUNING_COLUMNS",
    "PERMUTATION_COLUMNS",
    "LABEL_DEFINITION",
    "CV_METADATA_FILE",
    "ModelResults",
    "resolve_settings",
    "cross_validate_models",
    "permutation_check",
    "write_model_outputs",
    "auc_score",
    "calibration_intercept_slope",
    "package_versions",
    "MODEL_PACKAGES",
]

# Regularised defaults for a few hundred patients and up to a few thousand (mostly noisy,
# correlated) candidate features: shallow trees (pairwise interactions at most), a small
# learning rate with a moderate number of rounds, row and column subsampling, and a minimum
# hessian per leaf so that a leaf needs roughly a dozen patients (p(1-p) ~ 0.25 each).
DEFAULT_XGBOOST_PARAMS: dict = {
    "n_estimators": 250,
    "max_depth": 2,
    "learning_rate": 0.05,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 3,
    "reg_lambda": 1.0,
    "reg_alpha": 0.0,
    "gamma": 0.0,
    "max_bin": 256,
    "objective": "binary:logistic",
    "eval_metric": "logloss",
}

# Set from ``seed`` / ``threads`` and fixed, never from the ``xgboost`` dict.
_RESERVED_XGBOOST_KEYS = ("random_state", "seed", "n_jobs", "nthread", "tree_method")

DEFAULT_SETTINGS: dict = {
    "seed": 1,
    "cv_folds": 5,
    "cv_repeats": 5,
    "n_bootstrap": 1000,
    "threads": 2,
    "xgboost": {},
    # Nested CV: XGBoost's hyper-parameters searched inside every outer training fold
    # (haicpred.modeling.tuning, which documents the search space). enabled false = the fixed
    # `xgboost` parameters everywhere.
    "tuning": dict(DEFAULT_TUNING),
    # Probability from which a patient is called a responder for sensitivity/specificity.
    "threshold": 0.5,
    # Label permutations of the on-demand permutation check (rule permutation_check).
    "permutations": 20,
    # ComBat batch harmonisation of the radiomic features, fitted inside every training fold
    # (haicpred.radiomics.preprocessing). method: combat | none. exclude: radiomic features never
    # harmonised (rad_n_lesions is a lesion count, not a scanner-dependent measurement).
    "harmonisation": {"method": "combat", "exclude": ["rad_n_lesions"]},
    # Of each pair of radiomic features with |Pearson r| above this in the training fold, the
    # later one (matrix column order) is dropped; 1.0 keeps all.
    "radiomics_max_correlation": 0.9,
    # A radiomic feature whose most frequent value covers at least this fraction of the
    # training fold's non-missing values is dropped as near-constant.
    "radiomics_near_constant_fraction": 0.95,
    # What the models predict (haicpred.features.endpoints; the config's top-level `endpoint`). None =
    # objective response.
    "endpoint": None,
    # Only the opt-in on-treatment variant sets this: it lifts the refusal of post_* columns
    # and modality post_treatment (outcome columns stay refused).
    "allow_post_treatment": False,
    # Liu 2023 HAIC model factors (tumour size, number, AFP, ALBI grade, vascular invasion, EM).
    "baseline_features": [
        "tumor_size_cm",
        "tumor_number_gt3",
        "afp_ge_400",
        "albi_grade",
        "vp3_vp4",
        "extrahepatic_metastasis",
    ],
    # Published scores used as they are (no fitting of the score itself), each a one-feature
    # predictor in the same folds: direction -1 means "higher = worse = less likely to respond".
    "score_baselines": {
        name: {"feature": name, "direction": -1}
        for name in ["albi_grade", "palbi_grade", "child_pugh_class", "crafity", "gps", "bclc"]
    },
}

LABEL_COLUMN = "objective_response"
LABEL_DEFINITION = (
    "objective_response = 1 when the mRECIST best response is CR or PR, 0 when SD or PD; "
    "samples with a missing best response are unlabelled (scored, never trained on)"
)
_ID_COLUMNS = ("sample_id", "batch")
# Outcome columns can never be features (label leakage).
_OUTCOME_COLUMNS = (
    "best_response",
    "objective_response",
    "os_months",
    "os_event",
    "pfs_months",
    "pfs_event",
)
RADIOMICS_ONLY_MODEL = "xgboost_radiomics_only"
WITHOUT_RADIOMICS_MODEL = "xgboost_without_radiomics"
LOGISTIC_ALL_MODEL = "logistic_all_features"
_RESERVED_MODEL_NAMES = ("xgboost", RADIOMICS_ONLY_MODEL, WITHOUT_RADIOMICS_MODEL,
                         "logistic_baseline", LOGISTIC_ALL_MODEL, "oracle", "treat_all",
                         "treat_none")
# L2 penalties tried (by inner CV on AUC) for the all-features logistic regression
_LOGISTIC_CS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
HARMONISATION_METHODS = ("combat", "none")

OOF_COLUMNS = ["sample_id", "model", "repeat", "fold", "y_true", "y_prob"]
# per XGBoost model and outer training fold (scheme cv) or held-out batch (scheme lobo): the
# tuned parameters
TUNING_COLUMNS = ["scheme", "model", "repeat", "fold", "held_out_batch", *TUNED_PARAMETERS,
                  "inner_logloss", "inner_auc", "inner_auc_sd", "n_candidates", "note"]
PERMUTATION_COLUMNS = ["permutation", "auc"]
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


class PostTreatmentFeatureError(ValueError):
    """A post-treatment (or outcome) column was offered as a baseline predictor."""


@dataclass
class ModelResults:
    """Everything :func:`cross_validate_models` produced; :func:`write_model_outputs` writes it."""

    metrics: pd.DataFrame
    oof: pd.DataFrame
    calibration: pd.DataFrame
    importance: pd.DataFrame
    metadata: dict  # written as cv_metadata.json
    settings: dict
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
# settings


def resolve_settings(settings: dict | None) -> dict:
    """Defaults filled in for missing keys; unknown keys and bad values raise ValueError."""
    settings = dict(settings or {})
    unknown = sorted(set(settings) - set(DEFAULT_SETTINGS))
    if unknown:
        raise ValueError(
            f"unknown model setting(s): {', '.join(unknown)} "
            f"(known: {', '.join(sorted(DEFAULT_SETTINGS))})"
        )
    out = deepcopy(DEFAULT_SETTINGS)
    for key, value in settings.items():
        if value is not None:
            out[key] = deepcopy(value)
    for key in ("seed", "cv_folds", "cv_repeats", "n_bootstrap", "threads", "permutations"):
        value = out[key]
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"model setting {key} must be an integer, got {value!r}")
        out[key] = int(value)
    if out["cv_folds"] < 2:
        raise ValueError("model setting cv_folds must be >= 2")
    if out["cv_repeats"] < 1:
        raise ValueError("model setting cv_repeats must be >= 1")
    if out["n_bootstrap"] < 0:
        raise ValueError("model setting n_bootstrap must be >= 0 (0 = no confidence intervals)")
    if out["threads"] < 1:
        raise ValueError("model setting threads must be >= 1")
    if out["permutations"] < 1:
        raise ValueError("model setting permutations must be >= 1")
    out["tuning"] = resolve_tuning(out["tuning"])
    threshold = out["threshold"]
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.integer,
                                                                 np.floating)) or not (
            0 < threshold < 1):
        raise ValueError(f"model setting threshold must be a probability in (0, 1), got "
                         f"{threshold!r}")
    out["threshold"] = float(threshold)
    if not isinstance(out["allow_post_treatment"], (bool, np.bool_)):
        raise ValueError("model setting allow_post_treatment must be true or false, got "
                         f"{out['allow_post_treatment']!r}")
    out["allow_post_treatment"] = bool(out["allow_post_treatment"])
    if not isinstance(out["xgboost"], dict):
        raise ValueError("model setting xgboost must be a mapping of XGBClassifier parameters")
    reserved = sorted(set(out["xgboost"]) & set(_RESERVED_XGBOOST_KEYS))
    if reserved:
        raise ValueError(
            f"model setting xgboost must not set {', '.join(reserved)}: the random state comes "
            "from model.seed, the thread count from threads, and tree_method is fixed to 'hist'"
        )
    out["endpoint"] = resolve_endpoint(out["endpoint"])
    params = dict(DEFAULT_XGBOOST_PARAMS)
    params.update(out["xgboost"])
    out["xgboost"] = {key: params[key] for key in sorted(params)}
    features = out["baseline_features"]
    if isinstance(features, str) or not all(isinstance(f, str) for f in features):
        raise ValueError("model setting baseline_features must be a list of column names")
    out["baseline_features"] = list(features)
    scores = out["score_baselines"]
    if not isinstance(scores, dict):
        raise ValueError("model setting score_baselines must map a name to {feature, direction}")
    clean = {}
    for name in sorted(scores):
        spec = scores[name]
        if name in _RESERVED_MODEL_NAMES or str(name).startswith("xgboost"):
            raise ValueError(f"score baseline name {name!r} is reserved")
        if not isinstance(spec, dict) or "feature" not in spec:
            raise ValueError(f"score baseline {name!r} needs a 'feature' (and a 'direction')")
        direction = spec.get("direction", 1)
        if direction not in (1, -1):
            raise ValueError(
                f"score baseline {name!r}: direction must be 1 (higher = more likely to "
                f"respond) or -1 (higher = worse), got {direction!r}"
            )
        extra = sorted(set(spec) - {"feature", "direction"})
        if extra:
            raise ValueError(f"score baseline {name!r}: unknown key(s) {', '.join(extra)}")
        clean[str(name)] = {"feature": str(spec["feature"]), "direction": int(direction)}
    out["score_baselines"] = clean
    out["harmonisation"] = _resolve_harmonisation(out["harmonisation"])
    for key in ("radiomics_max_correlation", "radiomics_near_constant_fraction"):
        value = out[key]
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError(f"model setting {key} must be a number, got {value!r}")
        if not 0 < value <= 1:
            raise ValueError(f"model setting {key} must be in (0, 1], got {value!r}")
        out[key] = float(value)
    return out


def _resolve_harmonisation(value) -> dict:
    if not isinstance(value, dict):
        raise ValueError("model setting harmonisation must be a mapping {method, exclude}")
    unknown = sorted(set(value) - {"method", "exclude"})
    if unknown:
        raise ValueError(f"model setting harmonisation: unknown key(s) {', '.join(unknown)} "
                         "(known: exclude, method)")
    out = {**DEFAULT_SETTINGS["harmonisation"], **{k: v for k, v in value.items()
                                                   if v is not None}}
    if out["method"] not in HARMONISATION_METHODS:
        raise ValueError(f"model setting harmonisation.method must be one of "
                         f"{', '.join(HARMONISATION_METHODS)}, got {out['method']!r}")
    exclude = out["exclude"]
    if isinstance(exclude, str) or not all(isinstance(f, str) for f in exclude):
        raise ValueError("model setting harmonisation.exclude must be a list of feature names")
    return {"method": out["method"], "exclude": list(exclude)}


# --------------------------------------------------------------------------------------------
# estimators


def _xgboost(settings: dict):
    import xgboost

    return xgboost.XGBClassifier(
        **settings["xgboost"],
        random_state=settings["seed"],
        n_jobs=settings["threads"],
        tree_method="hist",
    )


def _logistic_baseline():
    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            ("scale", StandardScaler()),
            ("model", LogisticRegression(C=1.0, max_iter=1000)),
        ]
    )


def _logistic_all_features(seed: int):
    """Nomogram-style baseline on every feature: median imputation and scaling fitted in the
    training fold, L2-penalised logistic regression whose penalty is chosen by a 3-fold inner
    CV on AUC over :data:`_LOGISTIC_CS` (the imputer and scaler are fitted on the whole training
    fold before that inner CV: harmless for the choice of one penalty)."""
    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            ("scale", StandardScaler()),
            ("model", LogisticRegressionCV(
                Cs=list(_LOGISTIC_CS), cv=StratifiedKFold(3, shuffle=True, random_state=seed),
                scoring="roc_auc", max_iter=2000, l1_ratios=(0.0,),
                use_legacy_attributes=False)),
        ]
    )


# --------------------------------------------------------------------------------------------
# input checks


def _to_float(series: pd.Series) -> pd.Series:
    """Numbers (or numeric text) as float64 with NaN for missing; non-numeric text -> NaN."""
    values = pd.to_numeric(series, errors="coerce")
    return pd.Series(values.to_numpy(dtype=float, na_value=np.nan), index=series.index)


def _feature_columns(matrix: pd.DataFrame) -> list[str]:
    return [c for c in matrix.columns if c not in _ID_COLUMNS]


def _is_post_treatment(name: str, modality: dict) -> bool:
    return (name.startswith("post_")
            or str(modality.get(name, "")).strip().lower() == "post_treatment")


def _refuse_post_treatment(features: list[str], dictionary: pd.DataFrame,
                           allow_post_treatment: bool = False) -> None:
    """Outcome columns are always refused; post-treatment ones unless the on-treatment variant
    was explicitly chosen (setting allow_post_treatment)."""
    modality = dict(zip(dictionary["feature"], dictionary["modality"].fillna("")))
    bad = []
    for name in features:
        if allow_post_treatment and _is_post_treatment(name, modality):
            continue
        if name.startswith("post_"):
            bad.append(f"{name} (post_ prefix)")
        elif str(modality.get(name, "")).strip().lower() == "post_treatment":
            bad.append(f"{name} (dictionary modality post_treatment)")
        elif name in _OUTCOME_COLUMNS:
            bad.append(f"{name} (outcome column)")
    if bad:
        raise PostTreatmentFeatureError(
            "post-treatment or outcome columns cannot be baseline predictors: " + ", ".join(bad)
            + ("" if allow_post_treatment else
               " (post-treatment columns only in the on-treatment variant, model.on_treatment)")
        )


def _endpoint(labels: pd.DataFrame, settings: dict) -> tuple[Endpoint, pd.DataFrame]:
    """The configured endpoint, and labels whose `objective_response` column holds it.

    For the default endpoint a labels.tsv that already has `objective_response` is taken as it
    is (its values are checked later, with every other input)."""
    if settings["kind"] == "objective_response" and LABEL_COLUMN in labels.columns:
        given = _to_float(labels[LABEL_COLUMN])
        return Endpoint(LABEL_COLUMN, LABEL_DEFINITION, True, given, 0,
                        int(labels[LABEL_COLUMN].isna().sum())), labels
    try:
        endpoint = endpoint_labels(labels, settings)
    except ValueError as error:
        raise_if_any([Problem("labels.tsv", f"endpoint {settings['kind']}", str(error),
                              "fix the clinical table's outcome column")])
        raise
    return endpoint, labels.assign(**{LABEL_COLUMN: endpoint.label.map(
        lambda v: v if pd.isna(v) else str(int(v)))})


def _check_inputs(matrix, labels, dictionary, truth, allow_post_treatment=False):
    """Validate and convert; returns (X float frame, label Series aligned to matrix, truth)."""
    problems: list[Problem] = []
    for name, frame, required in (
        ("feature_matrix.tsv", matrix, ["sample_id", "batch"]),
        ("labels.tsv", labels, ["sample_id", LABEL_COLUMN]),
        ("feature_dictionary.tsv", dictionary, ["feature", "modality"]),
    ):
        missing = [c for c in required if c not in frame.columns]
        if missing:
            problems.append(
                Problem(name, "header", f"missing column(s): {', '.join(missing)}")
            )
    if truth is not None and not {"sample_id", "response_probability"} <= set(truth.columns):
        problems.append(
            Problem("truth.tsv", "header", "needs columns sample_id, response_probability")
        )
    raise_if_any(problems)

    features = _feature_columns(matrix)
    if not features:
        problems.append(Problem("feature_matrix.tsv", "header", "no feature columns"))
    _refuse_post_treatment(features, dictionary, allow_post_treatment)

    for name, frame in (("feature_matrix.tsv", matrix), ("labels.tsv", labels)):
        ids = frame["sample_id"]
        for row in np.flatnonzero(ids.isna().to_numpy()):
            problems.append(Problem(name, f"row {row + 1}", "empty sample_id"))
        dup = ids[ids.duplicated(keep=False) & ids.notna()]
        for sample in sorted(set(dup)):
            problems.append(Problem(name, f"sample {sample}", "sample_id appears more than once"))
    dup_features = dictionary["feature"][dictionary["feature"].duplicated()]
    for feature in sorted(set(dup_features.dropna())):
        problems.append(
            Problem("feature_dictionary.tsv", f"feature {feature}", "listed more than once")
        )
    known = set(dictionary["feature"].dropna())
    for feature in features:
        if feature not in known:
            problems.append(
                Problem(
                    "feature_dictionary.tsv",
                    f"feature {feature}",
                    "matrix column not described in the feature dictionary",
                    "every feature needs a dictionary row (its modality is how post-treatment "
                    "columns are kept out)",
                )
            )
        if any(ch in feature for ch in "[]<"):
            problems.append(
                Problem(
                    "feature_matrix.tsv",
                    f"column {feature}",
                    "XGBoost does not accept '[', ']' or '<' in feature names",
                )
            )

    converted = {}
    for feature in features:
        raw = matrix[feature]
        values = _to_float(raw)
        bad = values.isna() & raw.notna()
        if bad.any():
            rows = np.flatnonzero(bad.to_numpy())[:5] + 1
            problems.append(
                Problem(
                    "feature_matrix.tsv",
                    f"column {feature}",
                    f"non-numeric value(s) in data row(s) {', '.join(map(str, rows))}",
                    "features must be numeric; leave missing values empty",
                )
            )
        if np.isinf(values.to_numpy()).any():
            problems.append(
                Problem("feature_matrix.tsv", f"column {feature}", "infinite value(s)")
            )
        converted[feature] = values.to_numpy()
    X = pd.DataFrame(converted, index=matrix.index, columns=features)

    raw_label = labels[LABEL_COLUMN]
    label = _to_float(raw_label)
    bad = (label.isna() & raw_label.notna()) | ~(label.isna() | label.isin([0, 1]))
    for row in np.flatnonzero(bad.to_numpy()):
        problems.append(
            Problem(
                "labels.tsv",
                f"row {row + 1}",
                f"{LABEL_COLUMN} must be 1, 0 or empty, got {raw_label.iloc[row]!r}",
            )
        )
    matrix_ids = set(matrix["sample_id"].dropna())
    label_ids = set(labels["sample_id"].dropna())
    for sample in sorted(matrix_ids - label_ids):
        problems.append(
            Problem("labels.tsv", f"sample {sample}", "in the feature matrix but not in labels",
                    "unlabelled samples need a row with an empty objective_response")
        )
    for sample in sorted(label_ids - matrix_ids):
        problems.append(
            Problem("feature_matrix.tsv", f"sample {sample}", "in labels but not in the matrix")
        )
    raise_if_any(problems)

    label_map = dict(zip(labels["sample_id"], label))
    y = matrix["sample_id"].map(label_map).astype(float)

    truth_p = None
    if truth is not None:
        tp = _to_float(truth["response_probability"])
        tmap = dict(zip(truth["sample_id"], tp))
        truth_p = matrix["sample_id"].map(tmap).astype(float)
        missing = matrix["sample_id"][truth_p.isna() & y.notna()]
        for sample in sorted(missing):
            problems.append(
                Problem("truth.tsv", f"sample {sample}", "no response_probability for a "
                        "labelled sample")
            )
        out_of_range = truth_p[(truth_p < 0) | (truth_p > 1)]
        for index in out_of_range.index:
            problems.append(
                Problem("truth.tsv", f"sample {matrix['sample_id'][index]}",
                        "response_probability outside [0, 1]")
            )
    raise_if_any(problems)
    return X, y, truth_p


# --------------------------------------------------------------------------------------------
# main entry point


@dataclass
class _ModelSpec:
    """One model of the comparison: its name, input columns and a fresh-estimator factory.

    ``radiomic`` lists the model's radiomic columns: when not empty the estimator is a Pipeline
    whose first step ``radiomics`` is a :class:`RadiomicsPreprocessor`, and it is fitted on the
    columns plus ``batch``.
    """

    name: str
    columns: list[str]
    factory: object
    radiomic: list[str] = field(default_factory=list)
    # xgboost: gets the fold's tuned parameters (nested CV); other kinds are fitted as built
    kind: str = "other"

    @property
    def fit_columns(self) -> list[str]:
        return self.columns + ([BATCH_COLUMN] if self.radiomic else [])


def _radiomics_preprocessor(radiomic: list[str], settings: dict) -> RadiomicsPreprocessor:
    return RadiomicsPreprocessor(
        radiomic_features=tuple(radiomic),
        harmonise=settings["harmonisation"]["method"] == "combat",
        harmonisation_exclude=tuple(settings["harmonisation"]["exclude"]),
        max_correlation=settings["radiomics_max_correlation"],
        near_constant_fraction=settings["radiomics_near_constant_fraction"],
    )


def _spec(name: str, columns: list[str], factory, radiomic_all: set, settings: dict,
          kind: str = "other"):
    """A model spec; models with radiomic columns get the fold-internal radiomics step first."""
    radiomic = [c for c in columns if c in radiomic_all]
    if not radiomic:
        return _ModelSpec(name, list(columns), factory, kind=kind)

    def build():
        return Pipeline([("radiomics", _radiomics_preprocessor(radiomic, settings)),
                         ("model", factory())])

    return _ModelSpec(name, list(columns), build, radiomic, kind=kind)


def _model_name_part(modality: str) -> str:
    """A modality as it appears in a model name (lower case, [a-z0-9_])."""
    text = "".join(ch if ch.isalnum() else "_" for ch in str(modality).strip().lower())
    return text or "unnamed"


def _ablation_specs(features: list[str], settings: dict, modality: dict, radiomic_all: set,
                    unusable: dict, empty: dict | None = None
                    ) -> tuple[list[_ModelSpec], list[str]]:
    """Per modality (in the order its first feature appears), XGBoost on that modality only
    (``xgboost_<m>_only``) and on everything else (``xgboost_without_<m>``).

    ``unusable``: modality -> why its features alone cannot be a model (all (near-)constant);
    ``empty``: modality -> why it gets no ablation rows at all (no value for any labelled
    patient: "without" it would be the full model up to column-sampling noise).
    """
    empty = dict(empty or {})
    groups: dict[str, list[str]] = {}
    for feature in features:
        groups.setdefault(_model_name_part(modality.get(feature, "") or "unknown"),
                          []).append(feature)
    specs, skipped = [], []
    if RADIOMICS_MODALITY not in groups:
        skipped.append(f"{RADIOMICS_ONLY_MODEL}, {WITHOUT_RADIOMICS_MODEL}: no radiomic "
                       f"features (dictionary modality {RADIOMICS_MODALITY}) in the matrix")
    for part, columns in groups.items():
        only, without = f"xgboost_{part}_only", f"xgboost_without_{part}"
        rest = [f for f in features if f not in set(columns)]
        if not rest:
            skipped.append(f"{only}: every feature is of modality {part}, so it would repeat "
                           "xgboost")
            skipped.append(f"{without}: every feature is of modality {part}")
            continue
        if part in empty:
            skipped.append(f"{only}, {without}: {empty[part]}")
            continue
        if part in unusable:
            skipped.append(f"{only}: {unusable[part]}")
        else:
            specs.append(_spec(only, columns, lambda: _xgboost(settings), radiomic_all,
                               settings, kind="xgboost"))
        specs.append(_spec(without, rest, lambda: _xgboost(settings), radiomic_all, settings,
                           kind="xgboost"))
    return specs, skipped


def _model_specs(features: list[str], settings: dict, radiomic: list[str] | None = None,
                 radiomics_usable: bool = True, modality: dict | None = None,
                 unusable: dict | None = None, empty: dict | None = None,
                 baseline_factors: tuple[list[str], dict] | None = None,
                 ) -> tuple[list[_ModelSpec], list[str]]:
    """Every model fitted in the CV folds, and the skipped ones with the reason (published
    scores are not fitted: :mod:`haicpred.modeling.score_baselines`).

    ``radiomic``: the radiomic features (modality radiomics) among ``features``;
    ``radiomics_usable`` is False when all of them are near-constant over the labelled samples.
    ``modality``: feature -> dictionary modality (default: radiomics or ``other``);
    ``unusable``: modality -> why a model on it alone is skipped; ``empty``: modality -> why it
    gets no ablation rows; ``baseline_factors``: the Liu factors with information and why the
    others are left out (:func:`haicpred.modeling.score_baselines.factor_availability`; default: those
    in the matrix).
    """
    radiomic = [f for f in features if f in set(radiomic or [])]
    radiomic_all = set(radiomic)
    if modality is None:
        modality = {f: RADIOMICS_MODALITY if f in radiomic_all else "other" for f in features}
    unusable = dict(unusable or {})
    if radiomic and not radiomics_usable:
        unusable.setdefault(RADIOMICS_MODALITY, "every radiomic feature is near-constant over "
                            "the labelled samples")
    specs = [_spec("xgboost", features, lambda: _xgboost(settings), radiomic_all, settings,
                   kind="xgboost")]
    ablations, skipped = _ablation_specs(features, settings, modality, radiomic_all, unusable,
                                         empty)
    specs += ablations
    specs.append(_spec(LOGISTIC_ALL_MODEL, features,
                       lambda: _logistic_all_features(settings["seed"]), radiomic_all, settings))
    if baseline_factors is None:
        baseline_factors = ([f for f in settings["baseline_features"] if f in features],
                            {f: "not in the feature matrix"
                             for f in settings["baseline_features"] if f not in features})
    baseline, left_out = baseline_factors
    if baseline:
        specs.append(_spec("logistic_baseline", baseline, _logistic_baseline, radiomic_all,
                           settings))
        if left_out:
            skipped.append("logistic_baseline: factor(s) left out: " + ", ".join(
                f"{f} ({why})" for f, why in left_out.items()))
    else:
        skipped.append("logistic_baseline: none of the baseline_features carries information: "
                       + ", ".join(f"{f} ({why})" for f, why in left_out.items()))
    return specs, skipped


def _final_estimator(estimator):
    """The model at the end of a radiomics Pipeline, or the estimator itself."""
    return estimator.named_steps["model"] if isinstance(estimator, Pipeline) and (
        "radiomics" in estimator.named_steps) else estimator


def _radiomics_fold_summary(folds: pd.DataFrame) -> list[dict]:
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


MODEL_PACKAGES = ("numpy", "pandas", "scikit-learn", "scipy", "xgboost")


def package_versions(packages=MODEL_PACKAGES) -> dict:
    """Versions of haicpred, Python and the given distributions (haicpred.io.versions)."""
    return _package_versions(packages)


@dataclass
class _Prepared:
    """The checked inputs of one modelling run, labelled rows first-class."""

    endpoint: Endpoint
    X: pd.DataFrame  # every sample of the matrix, float features
    X_all: pd.DataFrame  # X plus the batch column (read by the radiomics step only)
    X_lab: pd.DataFrame  # labelled rows of X_all, index 0..n-1
    y: np.ndarray  # their labels (0/1)
    ids: np.ndarray  # their sample_ids
    batch_lab: np.ndarray  # their batches
    labelled: np.ndarray  # mask over the matrix rows
    truth_p: pd.Series | None
    features: list[str]
    modality: dict
    radiomic: list[str]

    @property
    def n(self) -> int:
        return len(self.y)

    @property
    def n_events(self) -> int:
        return int(self.y.sum())


def _prepare(matrix, labels, dictionary, settings, truth) -> _Prepared:
    """Endpoint labels, input checks, labelled rows, and the minimum-per-class check."""
    endpoint, labels = _endpoint(labels, settings["endpoint"])
    if settings["endpoint"]["kind"] != "objective_response":
        truth = None  # the simulation's truth is a response probability
    X, y_all, truth_p = _check_inputs(matrix, labels, dictionary, truth,
                                      settings["allow_post_treatment"])
    features = list(X.columns)
    modality = dict(zip(dictionary["feature"], dictionary["modality"].fillna("")))
    labelled = y_all.notna().to_numpy()
    ids = matrix["sample_id"].to_numpy()[labelled].astype(str)
    # the batch travels with the features as a column that only the radiomics step reads
    batch_all = matrix[BATCH_COLUMN].map(lambda b: b if pd.isna(b) else str(b))
    X_all = X.assign(**{BATCH_COLUMN: batch_all.to_numpy(dtype=object)})
    X_lab = X_all.loc[labelled].reset_index(drop=True)
    y = y_all[labelled].astype(int).to_numpy()
    n, n_events = len(y), int(y.sum())
    if min(n_events, n - n_events) < settings["cv_folds"]:
        raise_if_any(
            [
                Problem(
                    "labels.tsv",
                    f"column {LABEL_COLUMN}",
                    f"{n} labelled samples with {n_events} positive ({endpoint.name} = 1) and "
                    f"{n - n_events} negative: {settings['cv_folds']}-fold stratified CV needs "
                    f"at least {settings['cv_folds']} of each class",
                    "label more samples or lower model.cv_folds (minimum 2)",
                )
            ]
        )
    radiomic = [f for f in features if str(modality.get(f, "")).strip().lower()
                == RADIOMICS_MODALITY]
    return _Prepared(endpoint, X, X_all, X_lab, y, ids,
                     X_lab[BATCH_COLUMN].to_numpy(dtype=object), labelled, truth_p, features,
                     modality, radiomic)


def _specs_for(data: _Prepared, settings: dict) -> tuple[list[_ModelSpec], list[str]]:
    """The models of the comparison for these inputs (ablations skip unusable modalities)."""
    modality = {f: str(data.modality.get(f, "")).strip().lower() for f in data.features}
    unusable, empty = {}, {}
    for part in dict.fromkeys(_model_name_part(m or "unknown") for m in modality.values()):
        columns = [f for f in data.features
                   if _model_name_part(modality[f] or "unknown") == part]
        # radiomics: the radiomics step's own near-constant rule; other modalities: only a
        # feature without any variation is useless (a rare mutation is still information)
        fraction = (settings["radiomics_near_constant_fraction"] if part == RADIOMICS_MODALITY
                    else 1.0)
        if len(near_constant_features(data.X_lab[columns], fraction)) == len(columns):
            unusable[part] = (f"every {part} feature is "
                              f"{'near-' if fraction < 1 else ''}constant over the labelled "
                              "samples")
        if data.X_lab[columns].isna().all(axis=None):
            empty[part] = f"no {part} feature has a value for any labelled patient"
    return _model_specs(data.features, settings, data.radiomic, True, modality=modality,
                        unusable=unusable, empty=empty,
                        baseline_factors=factor_availability(settings["baseline_features"],
                                                             data.X_lab))


def _fold_estimator(spec: _ModelSpec, skip_reason: str | None, tuned: dict | None):
    """A fresh estimator of ``spec`` for one training set: harmonisation off when a held-out
    batch is unseen (ComBat has no estimate for it), the tuned XGBoost parameters applied."""
    estimator = spec.factory()
    if spec.radiomic and skip_reason:
        estimator.set_params(radiomics__skip_reason=skip_reason)
    if spec.kind == "xgboost":
        prefix = "model__" if isinstance(estimator, Pipeline) else ""
        # One thread per fold fit: on a few hundred rows XGBoost's threads mostly wait for
        # each other (a 250-tree fit on the demo: 1.3 s with 1 thread, 13-17 s with 2 on a
        # busy 2-core machine), and the hist method gives identical trees either way.
        estimator.set_params(**{prefix + "n_jobs": 1})
        if tuned:
            estimator.set_params(**{prefix + key: value for key, value in tuned.items()})
    return estimator


def _fixed_params(settings: dict) -> dict:
    """The fixed parameters in the shape of a tuned set (for tuning.tsv rows)."""
    fixed = settings["xgboost"]
    out = {name: fixed.get(name) for name in TUNED_PARAMETERS}
    if out["scale_pos_weight"] is None:
        out["scale_pos_weight"] = 1.0
    return out


def _tune_for(spec: _ModelSpec, X_train: pd.DataFrame, y_train: np.ndarray, settings: dict,
              skip_reason: str | None) -> tuple[dict | None, dict]:
    """Nested tuning of ``spec`` on one training set: (params or None, tuning.tsv fields).

    None (the fixed parameters) when tuning is off or a class has fewer patients than inner
    folds; the note says which.
    """
    tuning = settings["tuning"]
    smallest = int(min(y_train.sum(), len(y_train) - y_train.sum()))
    if not tuning["enabled"] or smallest < tuning["inner_folds"]:
        note = ("tuning disabled: fixed parameters" if not tuning["enabled"] else
                f"fixed parameters: {smallest} patient(s) of a class in the training set, "
                f"fewer than the {tuning['inner_folds']} inner folds")
        return None, {**_fixed_params(settings), "inner_logloss": np.nan, "inner_auc": np.nan,
                      "inner_auc_sd": np.nan, "n_candidates": 0, "note": note}
    if spec.name != "xgboost":  # an ablation: the first candidates of the same search
        budget = min(tuning["ablation_candidates"], tuning["n_candidates"])
        settings = {**settings, "tuning": {**tuning, "n_candidates": budget}}
    params, trace = tune_xgboost(X_train[spec.fit_columns], y_train, settings,
                                 settings["seed"],
                                 lambda: _fold_estimator(spec, skip_reason, None))
    chosen = trace[trace["chosen"] == 1].iloc[0]
    return params, {**params, "inner_logloss": float(chosen["inner_logloss"]),
                    "inner_auc": float(chosen["inner_auc"]),
                    "inner_auc_sd": float(chosen["inner_auc_sd"]),
                    "n_candidates": len(trace), "note": ""}


@dataclass
class _CVRun:
    """Out-of-fold probabilities and per-fold records of one repeated K-fold run."""

    prob: dict  # model -> repeats x n
    fold_of: np.ndarray  # repeats x n, 1-based
    gains: list  # per fold: normalised total gain of xgboost's features
    radiomics_rows: list
    tuning_rows: list


def _serial_settings(settings: dict) -> dict:
    """The settings for work inside one fold when folds run in parallel: the nested search
    gets one worker thread (its result does not depend on the count)."""
    return {**settings, "threads": 1}


@dataclass
class _FoldResult:
    """What one outer training/held-out split gives: per-model held-out probabilities, the
    radiomics rows, the tuning rows and the full XGBoost model's normalised gains."""

    prob: dict
    radiomics_rows: list
    tuning_rows: list
    gain: np.ndarray | None


def _run_cv(data: _Prepared, specs: list[_ModelSpec], settings: dict, y=None,
            tune: bool = True, importance: bool = True) -> _CVRun:
    """Repeated stratified K-fold: every spec fitted on each training part (every XGBoost
    model, the ablations too, tuned there on its own columns when ``tune``), predicted on
    the held-out part. ``y`` defaults to the labels (the permutation check passes shuffled
    ones). Splits run on ``threads`` worker threads (:func:`haicpred.modeling.parallel.map_in_order`)."""
    y = data.y if y is None else y
    folds, repeats = settings["cv_folds"], settings["cv_repeats"]
    n = len(y)
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats,
                                       random_state=settings["seed"])
    splits = list(enumerate(splitter.split(np.zeros(n), y)))
    fold_settings = _serial_settings(settings)

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
            for spec in (m for m in specs if m.kind == "xgboost"):
                tuned[spec.name], row = _tune_for(spec, X_train, y[train], fold_settings,
                                                  skip_reason)
                tuning_rows.append({"scheme": "cv", "model": spec.name, "repeat": repeat + 1,
                                    "fold": fold + 1, "held_out_batch": "", **row})
        prob, radiomics_rows, gain = {}, [], None
        for spec in specs:
            estimator = _fold_estimator(spec, skip_reason, tuned.get(spec.name))
            estimator.fit(X_train[spec.fit_columns], y[train])
            prob[spec.name] = estimator.predict_proba(X_test[spec.fit_columns])[:, 1]
            if spec.radiomic:
                summary = estimator.named_steps["radiomics"].summary_
                radiomics_rows.append({"model": spec.name, "repeat": repeat + 1,
                                       "fold": fold + 1, **summary,
                                       "harmonised": "yes" if summary["harmonised"] else "no"})
            if importance and spec.name == "xgboost":
                booster = _final_estimator(estimator).get_booster()
                raw = booster.get_score(importance_type="total_gain")
                vector = np.array([raw.get(f, 0.0) for f in data.features], dtype=float)
                total = vector.sum()
                gain = vector / total if total > 0 else vector
        return _FoldResult(prob, radiomics_rows, tuning_rows, gain)

    with single_threaded_blas():
        results = map_in_order(fit_split, splits, settings["threads"])
    prob = {spec.name: np.full((repeats, n), np.nan) for spec in specs}
    fold_of = np.zeros((repeats, n), dtype=int)
    gains, radiomics_rows, tuning_rows = [], [], []
    for (split, (_, test)), result in zip(splits, results):
        repeat, fold = divmod(split, folds)
        fold_of[repeat, test] = fold + 1
        for name, values in result.prob.items():
            prob[name][repeat, test] = values
        radiomics_rows += result.radiomics_rows
        tuning_rows += result.tuning_rows
        if result.gain is not None:
            gains.append(result.gain)
    return _CVRun(prob, fold_of, gains, radiomics_rows, tuning_rows)


def _oof_table(data: _Prepared, specs: list[_ModelSpec], run: _CVRun) -> pd.DataFrame:
    rows = []
    for name in (spec.name for spec in specs):
        for repeat in range(run.fold_of.shape[0]):
            rows.append(pd.DataFrame({"sample_id": data.ids, "model": name,
                                      "repeat": repeat + 1, "fold": run.fold_of[repeat],
                                      "y_true": data.y,
                                      "y_prob": run.prob[name][repeat].astype(float)}))
    oof = pd.concat(rows, ignore_index=True)
    oof = oof.sort_values(["model", "repeat", "sample_id"], kind="mergesort")
    return oof.reset_index(drop=True)[OOF_COLUMNS]


def _importance_table(data: _Prepared, gains: list) -> pd.DataFrame:
    """Per-fold normalised total gain of the full XGBoost model: mean and SD over folds."""
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


LOBO_MODELS = ("xgboost", "logistic_baseline")


def _leave_one_batch_out(data: _Prepared, specs: list[_ModelSpec], settings: dict
                         ) -> tuple[pd.DataFrame, list[dict]]:
    """Train on every other batch, test on the held-out one (XGBoost tuned on the training
    batches as in the CV, and the logistic baseline): lobo_metrics rows and tuning rows."""
    chosen = [spec for spec in specs if spec.name in LOBO_MODELS]
    batch = np.array([None if pd.isna(b) else str(b) for b in data.batch_lab], dtype=object)
    batches = sorted({b for b in batch if b is not None})
    rng = np.random.default_rng(settings["seed"])
    harmonising = settings["harmonisation"]["method"] == "combat"
    fold_settings = _serial_settings(settings)

    def fit_batch(held_out: str) -> dict:
        """Held-out probabilities (or a note) and tuning row of one held-out batch."""
        test = batch == held_out
        train = ~test
        y_test, y_train = data.y[test], data.y[train]
        n, events = int(test.sum()), int(y_test.sum())
        if len(batches) < 2:
            note = "only one batch: nothing to train on"
        elif events in (0, n):
            note = (f"skipped: the held-out batch has one class only ({events} of {n} "
                    f"positive), so AUC and calibration are undefined")
        elif min(y_train.sum(), len(y_train) - y_train.sum()) < 2:
            note = "skipped: fewer than 2 patients of a class in the other batches"
        else:
            note = ""
        out = {"held_out": held_out, "y_test": y_test, "n": n, "events": events,
               "note": note, "prob": {}, "tuning_row": None}
        if note:
            return out
        # the held-out batch is never in training: ComBat is switched off for these fits
        skip_reason = unseen_batch_reason(data.batch_lab[train], data.batch_lab[test])
        X_train, X_test = data.X_lab.loc[train], data.X_lab.loc[test]
        tuned = None
        for spec in chosen:
            if spec.kind == "xgboost":
                tuned, row = _tune_for(spec, X_train, y_train, fold_settings, skip_reason)
                out["tuning_row"] = {"scheme": "lobo", "model": spec.name, "repeat": pd.NA,
                                     "fold": pd.NA,
                                     "held_out_batch": held_out, **row}
            estimator = _fold_estimator(spec, skip_reason, tuned)
            estimator.fit(X_train[spec.fit_columns], y_train)
            out["prob"][spec.name] = estimator.predict_proba(
                X_test[spec.fit_columns])[:, 1].astype(float)
        return out

    with single_threaded_blas():
        fitted = map_in_order(fit_batch, batches, settings["threads"])
    # metrics in batch order, so the bootstrap draws from rng in a fixed order
    rows, tuning_rows = [], []
    for result in fitted:
        held_out, n, events = result["held_out"], result["n"], result["events"]
        if result["note"]:
            rows += [{"held_out_batch": held_out, "model": spec.name, "n": n,
                      "n_events": events, "note": result["note"]} for spec in chosen]
            continue
        if result["tuning_row"] is not None:
            tuning_rows.append(result["tuning_row"])
        for spec in chosen:
            spec_note = ("radiomic features not harmonised: ComBat has no estimate for a "
                         "batch absent from training" if spec.radiomic and harmonising else "")
            rows.append({"held_out_batch": held_out, "model": spec.name, "n": n,
                         "n_events": events,
                         **held_out_metrics(result["y_test"], result["prob"][spec.name],
                                            settings["n_bootstrap"], rng),
                         "note": spec_note})
    lobo = pd.DataFrame(rows, columns=LOBO_COLUMNS)
    for column in ("n", "n_events"):
        lobo[column] = lobo[column].astype("Int64")
    return lobo, tuning_rows


def _tuning_table(rows: list[dict]) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=TUNING_COLUMNS)
    for column in ("repeat", "fold", "max_depth", "n_estimators", "n_candidates"):
        table[column] = table[column].astype("Int64")
    return table


def cross_validate_models(
    matrix: pd.DataFrame,
    labels: pd.DataFrame,
    dictionary: pd.DataFrame,
    settings: dict,
    truth: pd.DataFrame | None = None,
) -> ModelResults:
    """Nested, repeated stratified CV of XGBoost (all features, per-modality ablations), the
    logistic and published-score baselines; leave-one-batch-out validation. No final model is
    fitted here (:func:`haicpred.modeling.final_model.fit_final_model` does that).

    Raises :class:`PostTreatmentFeatureError` (a ValueError) for post-treatment/outcome
    columns, ``InputError`` for malformed inputs, ValueError for bad settings.
    """
    settings = resolve_settings(settings)
    matrix = matrix.reset_index(drop=True)
    data = _prepare(matrix, labels, dictionary, settings, truth)
    endpoint, y, labelled = data.endpoint, data.y, data.labelled
    features, modality, radiomic = data.features, data.modality, data.radiomic
    n, n_events = data.n, data.n_events
    n_unlabelled = int((~labelled).sum())
    folds, repeats = settings["cv_folds"], settings["cv_repeats"]

    specs, skipped = _specs_for(data, settings)
    for reason in skipped:
        log.info("model skipped: %s", reason)
    run = _run_cv(data, specs, settings)
    radiomics_folds = pd.DataFrame(run.radiomics_rows, columns=RADIOMICS_FOLD_COLUMNS)
    radiomics_folds = radiomics_folds.sort_values(
        ["model", "repeat", "fold"], kind="mergesort").reset_index(drop=True)
    fold_summary = _radiomics_fold_summary(radiomics_folds)
    for entry in fold_summary:
        log.info("%s: radiomic features per training fold %d in, median %.0f after the "
                 "near-constant filter, %.0f after the correlation filter; harmonised in %d "
                 "of %d folds", entry["model"], entry["n_in"]["max"],
                 entry["n_after_near_constant"]["median"],
                 entry["n_after_correlation"]["median"], entry["n_folds_harmonised"],
                 entry["n_folds"])
    for message in harmonisation_warnings(fold_summary):  # a single batch: said once
        log.warning("%s", message)
    oof = _oof_table(data, specs, run)

    # metrics on the repeat-averaged OOF probability, paired stratified bootstrap
    averaged = {spec.name: run.prob[spec.name].mean(axis=0) for spec in specs}
    if data.truth_p is not None:
        averaged["oracle"] = data.truth_p[labelled].to_numpy(dtype=float)
    # n_features: the columns with at least one value among the patients trained on
    with_values = set(data.X_lab.columns[data.X_lab.notna().any()])
    metrics, calibration = metric_tables(
        y, data.ids, averaged, run.prob,
        {spec.name: sum(c in with_values for c in spec.columns) for spec in specs},
        {"n": n, "n_events": n_events, "n_unlabelled": n_unlabelled}, settings)
    scores = evaluate_score_baselines(
        directed_scores(settings["score_baselines"], data.endpoint.favourable), data.X_lab, y,
        data.ids, run.fold_of, averaged["xgboost"], n_unlabelled, settings)
    metrics, calibration, oof = with_score_rows(metrics, calibration, oof, scores)
    skipped += scores.skipped
    for reason in scores.skipped:
        log.info("model skipped: %s", reason)
    curve = decision_curve(y, averaged)
    importance = _importance_table(data, run.gains)
    lobo, lobo_tuning = _leave_one_batch_out(data, specs, settings)
    tuning_table = _tuning_table(run.tuning_rows + lobo_tuning)
    evaluation_metadata = {
        "auc_ci_method": AUC_CI_METHOD.format(B=settings["n_bootstrap"]),
        "threshold": settings["threshold"],
        "tuning": {
            **settings["tuning"],
            "search": describe_search(settings["tuning"]),
            "scope": ("every XGBoost model (the full one and each per-modality ablation, on its "
                      "own feature set) is tuned inside every outer training fold, and the "
                      "full one on the training batches of every leave-one-batch-out split; "
                      "the chosen parameters per model and fold are in tuning.tsv"),
        } if settings["tuning"]["enabled"] else {"enabled": False},
        "leave_one_batch_out": ("train on every other batch, test on the held-out one; "
                                f"models {', '.join(LOBO_MODELS)}; ComBat off (it cannot "
                                "harmonise an unseen batch); lobo_metrics.tsv"),
    }

    # the evaluation only: nothing about a fitted booster (results/model/final/ has that)
    metadata = {
        "candidate_features": features,
        "n_candidate_features": len(features),
        "radiomic_features": radiomic,
        "radiomics_folds_summary": fold_summary,
        "n": n,
        "n_events": n_events,
        "n_unlabelled": n_unlabelled,
        "label": {
            "column": endpoint.name,
            "positive_class": 1,
            **endpoint.summary(),
        },
        # the fixed XGBoost parameters the CV's models are built with (with nested tuning
        # on, each training set's tuned ones are in tuning.tsv)
        "xgboost_params": {
            **settings["xgboost"],
            "random_state": settings["seed"],
            "n_jobs": 1,  # every fold fit; the folds run on `threads` worker threads
            "tree_method": "hist",
        },
        "settings": settings,
        # the on-treatment variant: post-treatment predictors allowed, and which were used
        "allow_post_treatment": settings["allow_post_treatment"],
        "post_treatment_features": [f for f in features if _is_post_treatment(f, modality)],
        "cv_scheme": (
            f"RepeatedStratifiedKFold(n_splits={folds}, n_repeats={repeats}, "
            f"random_state={settings['seed']}); all preprocessing, including the radiomics "
            "filters and ComBat harmonisation, fitted within training folds"
        ),
        "models": [spec.name for spec in specs] + list(scores.metrics["model"]),
        "skipped_models": skipped,
        "baseline_factors": baseline_factors(settings, data.X_lab, scores),
        "versions": package_versions(),
    }
    return ModelResults(
        metrics=metrics,
        oof=oof,
        calibration=calibration,
        importance=importance,
        metadata={**metadata, **evaluation_metadata},
        settings=settings,
        n_unlabelled=n_unlabelled,
        skipped_models=skipped,
        radiomics_folds=radiomics_folds,
        decision_curve=curve,
        lobo_metrics=lobo,
        tuning=tuning_table,
    )


def permutation_check(matrix: pd.DataFrame, labels: pd.DataFrame, dictionary: pd.DataFrame,
                      settings: dict, n_permutations: int | None = None) -> pd.DataFrame:
    """Label-permutation check of the whole CV: ``permutation, auc`` per shuffled labelling.

    The labelled patients' labels are shuffled (``numpy.random.default_rng(seed)``, one
    permutation after the other), and XGBoost on all features goes through the same repeated
    stratified K-fold as :func:`cross_validate_models`, radiomics step included; the AUC is
    that of the repeat-averaged OOF probabilities against the shuffled labels. For speed the
    fixed ``xgboost`` parameters are used (no nested tuning: tuning cannot create signal that
    is not there, and a leak in the preprocessing would show with fixed parameters too).
    Without leakage the AUCs scatter around 0.5. ``n_permutations`` defaults to the setting
    ``permutations``.
    """
    settings = resolve_settings(settings)
    n_permutations = settings["permutations"] if n_permutations is None else int(
        n_permutations)
    data = _prepare(matrix.reset_index(drop=True), labels, dictionary, settings, None)
    specs, _ = _specs_for(data, settings)
    rng = np.random.default_rng(settings["seed"])
    rows = []
    for permutation in range(1, n_permutations + 1):
        shuffled = rng.permutation(data.y)
        run = _run_cv(data, specs[:1], settings, y=shuffled, tune=False, importance=False)
        rows.append({"permutation": permutation,
                     "auc": auc_score(shuffled, run.prob["xgboost"].mean(axis=0))})
    return pd.DataFrame(rows, columns=PERMUTATION_COLUMNS)


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
