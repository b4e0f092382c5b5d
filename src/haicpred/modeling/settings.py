"""The model stage's settings (the config's ``model`` section plus ``endpoint``), resolved and
validated once into small frozen dataclasses.

:func:`resolve_model_settings` fills in :data:`DEFAULT_SETTINGS` for missing keys and raises
ValueError for unknown keys and bad values; the result, :class:`ModelSettings`, is made of the
parts the functions of the stage receive: :class:`CVSettings` (the outer folds and threads),
:class:`EvaluationSettings` (bootstrap, threshold, seed of the metric tables),
:class:`TuningSettings` (the nested search, :mod:`haicpred.modeling.tuning`),
:class:`~haicpred.radiomics.preprocessing.RadiomicsStepSettings` (the in-fold radiomics step),
:class:`ScoreBaseline` (published scores) and the XGBoost parameters (a read-only mapping,
sorted by name). :meth:`ModelSettings.as_dict` gives the resolved settings as one plain dict,
the form written into ``cv_metadata.json`` and ``model_metadata.json`` (``settings``) and read
back by the report.
"""

from __future__ import annotations

from collections.abc import Mapping
from copy import deepcopy
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import numpy as np

from haicpred.features.endpoints import resolve_endpoint
from haicpred.radiomics.preprocessing import (HARMONISATION_METHODS, HarmonisationSettings,
                                              RadiomicsStepSettings)

__all__ = [
    "DEFAULT_SETTINGS",
    "DEFAULT_TUNING",
    "DEFAULT_XGBOOST_PARAMS",
    "RESERVED_MODEL_NAMES",
    "SURVIVAL_OBJECTIVES",
    "CVSettings",
    "EvaluationSettings",
    "ModelSettings",
    "ScoreBaseline",
    "TuningSettings",
    "resolve_model_settings",
    "resolve_tuning",
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

DEFAULT_TUNING: dict = {
    "enabled": True,
    "n_candidates": 20,
    # each xgboost_<m>_only / xgboost_without_<m> searches its own feature set with the first
    # of the same candidates. 12 ablations x 20 candidates made the demo's model stage 7x
    # slower; on the demo 1, 3 and 5 candidates gave ablation AUCs within 0.015 of each other
    # (the repeats' SD is ~0.01) in 55, 92 and 95 s: 1 = the fixed defaults with the tree count
    # early-stopped on the ablation's own columns (docs/evaluation.md)
    "ablation_candidates": 1,
    "inner_folds": 3,
    "early_stopping_rounds": 20,
    "max_estimators": 500,
}

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
    # What the models predict (haicpred.features.endpoints; the config's top-level `endpoint`).
    # None = objective response.
    "endpoint": None,
    # Only the opt-in on-treatment variant sets this: it lifts the refusal of post_* columns
    # and modality post_treatment (outcome columns stay refused).
    "allow_post_treatment": False,
    # binary endpoints: XGBoost boosts from a penalised logistic regression fitted in the same
    # training set (haicpred.modeling.linear_start); false = XGBoost from a constant
    "linear_start": True,
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
    # Survival endpoint only: Cox models refitted in each training fold on the factors of other
    # published nomograms (their point tables are not public), name -> feature columns, next to
    # `cox_baseline` on the Liu factors above. Mei 2021: tumour size, AFP, CRP, ALBI grade,
    # portal vein invasion (Vp0-4), extrahepatic metastasis; Yao pre-HAICN: tumour number,
    # vascular invasion, distant metastasis, AFP, Child-Pugh class, ALBI grade.
    # Survival endpoint only: XGBoost's objective, cox (survival:cox, S(t) from the Breslow
    # hazard) or aft (survival:aft, normal errors, S(t) from that distribution).
    "survival_objective": "cox",
    "survival_baselines": {
        "cox_mei2021": ["tumor_size_cm", "afp_ge_400", "crp", "albi_grade", "vascular_invasion",
                        "extrahepatic_metastasis"],
        "cox_yao_haicn": ["tumor_number", "vascular_invasion", "extrahepatic_metastasis",
                          "afp_ge_400", "child_pugh_class", "albi_grade"],
    },
}

SURVIVAL_OBJECTIVES = ("cox", "aft")

# Names of the models and reference rows the evaluation writes: no score baseline may use one.
RESERVED_MODEL_NAMES = ("xgboost", "xgboost_radiomics_only", "xgboost_without_radiomics",
                        "logistic_baseline", "logistic_all_features", "oracle", "treat_all",
                        "treat_none", "cox_all_features", "cox_baseline")


# --------------------------------------------------------------------------------------------
# the parts


@dataclass(frozen=True)
class TuningSettings:
    """The nested search (:mod:`haicpred.modeling.tuning`): setting ``tuning``."""

    enabled: bool = True
    n_candidates: int = 20
    ablation_candidates: int = 1
    inner_folds: int = 3
    early_stopping_rounds: int = 20
    max_estimators: int = 500

    def as_dict(self) -> dict:
        return {key: getattr(self, key) for key in DEFAULT_TUNING}

    def with_candidates(self, n_candidates: int) -> TuningSettings:
        """The same search with another candidate budget (the ablations' first candidates)."""
        return replace(self, n_candidates=n_candidates)


@dataclass(frozen=True)
class CVSettings:
    """The outer repeated stratified K-fold and the worker threads its splits run on."""

    folds: int = 5
    repeats: int = 5
    seed: int = 1
    threads: int = 2


@dataclass(frozen=True)
class EvaluationSettings:
    """What the metric tables need: bootstrap resamples, the decision threshold, the seed."""

    n_bootstrap: int = 1000
    threshold: float = 0.5
    seed: int = 1


@dataclass(frozen=True)
class ScoreBaseline:
    """A published score used as it is: its name, its feature and its published direction
    (1: higher = more likely to respond, -1: higher = worse)."""

    name: str
    feature: str
    direction: int


@dataclass(frozen=True)
class ModelSettings:
    """The resolved model settings (:func:`resolve_model_settings`)."""

    cv: CVSettings
    evaluation: EvaluationSettings
    tuning: TuningSettings
    radiomics: RadiomicsStepSettings
    xgboost: Mapping  # XGBClassifier parameters over the defaults, sorted by name, read-only
    endpoint: Mapping  # haicpred.features.endpoints settings (resolved), read-only
    allow_post_treatment: bool
    baseline_features: tuple[str, ...]
    score_baselines: tuple[ScoreBaseline, ...]  # sorted by name
    permutations: int
    # survival endpoint: published-factor Cox baselines, name -> factors (sorted by name)
    survival_baselines: Mapping = field(default_factory=lambda: MappingProxyType({}))
    survival_objective: str = "cox"  # survival endpoint: XGBoost's cox or aft objective
    linear_start: bool = True  # binary endpoints: XGBoost boosts from a penalised logistic

    @property
    def seed(self) -> int:
        return self.cv.seed

    @property
    def threads(self) -> int:
        return self.cv.threads

    def as_dict(self) -> dict:
        """The resolved settings as one plain dict (what the metadata JSON files hold)."""
        return {
            "seed": self.cv.seed,
            "cv_folds": self.cv.folds,
            "cv_repeats": self.cv.repeats,
            "n_bootstrap": self.evaluation.n_bootstrap,
            "threads": self.cv.threads,
            "xgboost": dict(self.xgboost),
            "tuning": self.tuning.as_dict(),
            "threshold": self.evaluation.threshold,
            "permutations": self.permutations,
            "harmonisation": self.radiomics.harmonisation.as_dict(),
            "radiomics_max_correlation": self.radiomics.max_correlation,
            "radiomics_near_constant_fraction": self.radiomics.near_constant_fraction,
            "endpoint": deepcopy(dict(self.endpoint)),
            "allow_post_treatment": self.allow_post_treatment,
            # a binary-endpoint setting: a survival run's metadata stays as it was
            **({} if self.endpoint.get("kind") == "survival"
               else {"linear_start": self.linear_start}),
            "baseline_features": list(self.baseline_features),
            "score_baselines": {score.name: {"feature": score.feature,
                                             "direction": score.direction}
                                for score in self.score_baselines},
            # a survival setting: left out of the other endpoints' metadata, which stays as
            # it was before the survival endpoint existed
            **({"survival_objective": self.survival_objective,
                "survival_baselines": {name: list(factors) for name, factors
                                       in self.survival_baselines.items()}}
               if self.endpoint.get("kind") == "survival" else {}),
        }


# --------------------------------------------------------------------------------------------
# resolution


def resolve_model_settings(settings: dict | ModelSettings | None) -> ModelSettings:
    """Defaults filled in for missing keys; unknown keys and bad values raise ValueError.
    Settings already resolved are returned as they are."""
    if isinstance(settings, ModelSettings):
        return settings
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
    tuning = resolve_tuning(out["tuning"])
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
    if not isinstance(out["linear_start"], (bool, np.bool_)):
        raise ValueError("model setting linear_start must be true or false, got "
                         f"{out['linear_start']!r}")
    if not isinstance(out["xgboost"], dict):
        raise ValueError("model setting xgboost must be a mapping of XGBClassifier parameters")
    reserved = sorted(set(out["xgboost"]) & set(_RESERVED_XGBOOST_KEYS))
    if reserved:
        raise ValueError(
            f"model setting xgboost must not set {', '.join(reserved)}: the random state comes "
            "from model.seed, the thread count from threads, and tree_method is fixed to 'hist'"
        )
    endpoint = resolve_endpoint(out["endpoint"])
    params = dict(DEFAULT_XGBOOST_PARAMS)
    params.update(out["xgboost"])
    features = out["baseline_features"]
    if isinstance(features, str) or not all(isinstance(f, str) for f in features):
        raise ValueError("model setting baseline_features must be a list of column names")
    scores = _resolve_score_baselines(out["score_baselines"])
    survival_baselines = _resolve_survival_baselines(out["survival_baselines"], scores)
    if out["survival_objective"] not in SURVIVAL_OBJECTIVES:
        raise ValueError(f"model setting survival_objective must be one of "
                         f"{', '.join(SURVIVAL_OBJECTIVES)}, got {out['survival_objective']!r}")
    harmonisation = _resolve_harmonisation(out["harmonisation"])
    for key in ("radiomics_max_correlation", "radiomics_near_constant_fraction"):
        value = out[key]
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError(f"model setting {key} must be a number, got {value!r}")
        if not 0 < value <= 1:
            raise ValueError(f"model setting {key} must be in (0, 1], got {value!r}")
        out[key] = float(value)
    return ModelSettings(
        cv=CVSettings(out["cv_folds"], out["cv_repeats"], out["seed"], out["threads"]),
        evaluation=EvaluationSettings(out["n_bootstrap"], out["threshold"], out["seed"]),
        tuning=tuning,
        radiomics=RadiomicsStepSettings(harmonisation, out["radiomics_max_correlation"],
                                        out["radiomics_near_constant_fraction"]),
        xgboost=MappingProxyType({key: params[key] for key in sorted(params)}),
        endpoint=MappingProxyType(endpoint),
        allow_post_treatment=out["allow_post_treatment"],
        baseline_features=tuple(features),
        score_baselines=scores,
        permutations=out["permutations"],
        survival_baselines=survival_baselines,
        survival_objective=out["survival_objective"],
        linear_start=bool(out["linear_start"]),
    )


def resolve_tuning(value) -> TuningSettings:
    """The ``tuning`` settings with defaults filled in; unknown keys and bad values raise."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise ValueError("model setting tuning must be a mapping {enabled, n_candidates, "
                         "ablation_candidates, inner_folds, early_stopping_rounds, "
                         "max_estimators}")
    unknown = sorted(set(value) - set(DEFAULT_TUNING))
    if unknown:
        raise ValueError(f"model setting tuning: unknown key(s) {', '.join(unknown)} "
                         f"(known: {', '.join(sorted(DEFAULT_TUNING))})")
    out = {**DEFAULT_TUNING, **{k: v for k, v in value.items() if v is not None}}
    if not isinstance(out["enabled"], (bool, np.bool_)):
        raise ValueError(f"model setting tuning.enabled must be true or false, got "
                         f"{out['enabled']!r}")
    out["enabled"] = bool(out["enabled"])
    minimum = {"n_candidates": 1, "ablation_candidates": 1, "inner_folds": 2,
               "early_stopping_rounds": 1, "max_estimators": 1}
    for key, low in minimum.items():
        number = out[key]
        if isinstance(number, bool) or not isinstance(number, (int, np.integer)):
            raise ValueError(f"model setting tuning.{key} must be an integer, got {number!r}")
        if number < low:
            raise ValueError(f"model setting tuning.{key} must be >= {low}, got {number}")
        out[key] = int(number)
    return TuningSettings(**{key: out[key] for key in DEFAULT_TUNING})


def _resolve_score_baselines(scores) -> tuple[ScoreBaseline, ...]:
    if not isinstance(scores, dict):
        raise ValueError("model setting score_baselines must map a name to {feature, direction}")
    clean = []
    for name in sorted(scores):
        spec = scores[name]
        if name in RESERVED_MODEL_NAMES or str(name).startswith("xgboost"):
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
        clean.append(ScoreBaseline(str(name), str(spec["feature"]), int(direction)))
    return tuple(clean)


def _resolve_survival_baselines(value, scores: tuple[ScoreBaseline, ...]) -> Mapping:
    """name -> tuple of factor names, sorted by name; names must not be another model's."""
    if not isinstance(value, dict):
        raise ValueError("model setting survival_baselines must map a model name to a list of "
                         "feature names, e.g. {cox_mei2021: [tumor_size_cm, crp]}")
    taken = {score.name for score in scores}
    clean = {}
    for name in sorted(value):
        factors = value[name]
        if (name in RESERVED_MODEL_NAMES or str(name).startswith("xgboost")
                or name in taken):
            raise ValueError(f"model setting survival_baselines: the name {name!r} is reserved "
                             "or already a score baseline's; choose another")
        if (isinstance(factors, str) or not isinstance(factors, (list, tuple)) or not factors
                or not all(isinstance(f, str) for f in factors)):
            raise ValueError(f"model setting survival_baselines: {name!r} must be a non-empty "
                             f"list of feature names, got {factors!r}")
        clean[str(name)] = tuple(factors)
    return MappingProxyType(clean)


def _resolve_harmonisation(value) -> HarmonisationSettings:
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
    return HarmonisationSettings(out["method"], tuple(exclude))
