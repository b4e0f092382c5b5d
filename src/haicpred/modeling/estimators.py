"""The estimators of the comparison and how each model of it is built.

A model is a :class:`ModelSpec`: its name, input columns and a factory of fresh, unfitted
estimators. Every model that uses radiomic features (dictionary modality ``radiomics``) is a
scikit-learn ``Pipeline`` whose first step is
:class:`haicpred.radiomics.preprocessing.RadiomicsPreprocessor` (near-constant filter, ComBat,
correlation filter), so that it is refitted with the model on every training set.
:func:`model_specs` builds the comparison of the binary endpoints: XGBoost on all features, per
modality XGBoost on that modality only and on everything else, a penalised logistic regression
on all features and the Liu logistic baseline. The final model
(:mod:`haicpred.modeling.final_model`) builds its XGBoost exactly as the cross-validation does,
from these functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from haicpred.io.versions import package_versions as _package_versions
from haicpred.modeling.linear_start import (LINEAR_START_PENALTIES, LinearStartXGBClassifier,
                                            linear_start_of)
from haicpred.modeling.settings import ModelSettings
from haicpred.radiomics.preprocessing import (BATCH_COLUMN, RADIOMICS_MODALITY,
                                              RadiomicsPreprocessor, RadiomicsStepSettings,
                                              near_constant_features)

__all__ = [
    "LOGISTIC_ALL_MODEL",
    "MODEL_PACKAGES",
    "RADIOMICS_ONLY_MODEL",
    "WITHOUT_RADIOMICS_MODEL",
    "ModelSpec",
    "ablation_specs",
    "final_estimator",
    "fold_estimator",
    "logistic_all_features",
    "logistic_baseline",
    "model_name_part",
    "model_spec",
    "model_specs",
    "normalised_gain",
    "package_versions",
    "xgboost_classifier",
    "xgboost_factory",
]

RADIOMICS_ONLY_MODEL = "xgboost_radiomics_only"
WITHOUT_RADIOMICS_MODEL = "xgboost_without_radiomics"
LOGISTIC_ALL_MODEL = "logistic_all_features"
# L2 penalties tried (by inner CV on AUC) for the all-features logistic regression
_LOGISTIC_CS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)

MODEL_PACKAGES = ("numpy", "pandas", "scikit-learn", "scipy", "xgboost")


def package_versions(packages=MODEL_PACKAGES) -> dict:
    """Versions of haicpred, Python and the given distributions (haicpred.io.versions)."""
    return _package_versions(packages)


# --------------------------------------------------------------------------------------------
# estimators


def xgboost_classifier(params: Mapping, seed: int, threads: int, linear_start: bool = False,
                       start_groups: Mapping | None = None, linear_folds: int = 3,
                       start_penalties=LINEAR_START_PENALTIES):
    """XGBoost with the given parameters, random state ``seed``, ``threads`` threads, hist;
    ``linear_start``: boosted from a penalised logistic regression fitted on the same rows
    (:class:`haicpred.modeling.linear_start.LinearStartXGBClassifier`, which may leave out
    the column groups of ``start_groups``; ``linear_folds``: its CV folds; ``start_penalties``:
    the penalties it chooses among)."""
    return LinearStartXGBClassifier(
        **params,
        linear_start=linear_start,
        linear_folds=linear_folds,
        start_groups=dict(start_groups or {}),
        start_penalties=tuple(start_penalties),
        random_state=seed,
        n_jobs=threads,
        tree_method="hist",
    )


def logistic_baseline():
    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            ("scale", StandardScaler()),
            ("model", LogisticRegression(C=1.0, max_iter=1000)),
        ]
    )


def logistic_all_features(seed: int):
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
# model specs


@dataclass
class ModelSpec:
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
    # the model whose per-fold XGBoost gains make feature_importance.tsv
    gain_importance: bool = False

    @property
    def fit_columns(self) -> list[str]:
        return self.columns + ([BATCH_COLUMN] if self.radiomic else [])

    @property
    def tunable(self) -> bool:
        """Is this model's XGBoost searched inside every training set (nested CV)?"""
        return self.kind == "xgboost"


def model_spec(name: str, columns: list[str], factory, radiomic_all: set,
               radiomics: RadiomicsStepSettings, kind: str = "other",
               gain_importance: bool = False) -> ModelSpec:
    """A model spec; models with radiomic columns get the fold-internal radiomics step first."""
    radiomic = [c for c in columns if c in radiomic_all]
    if not radiomic:
        return ModelSpec(name, list(columns), factory, kind=kind,
                         gain_importance=gain_importance)

    def build():
        return Pipeline([("radiomics", RadiomicsPreprocessor.from_settings(radiomic, radiomics)),
                         ("model", factory())])

    return ModelSpec(name, list(columns), build, radiomic, kind=kind,
                     gain_importance=gain_importance)


def model_name_part(modality: str) -> str:
    """A modality as it appears in a model name (lower case, [a-z0-9_])."""
    text = "".join(ch if ch.isalnum() else "_" for ch in str(modality).strip().lower())
    return text or "unnamed"


def xgboost_factory(settings: ModelSettings, radiomic: list[str] | None = None,
                    params: Mapping | None = None, penalties=LINEAR_START_PENALTIES):
    """Fresh XGBoost classifiers of the settings (``params``: instead of ``settings.xgboost``):
    boosted from a linear start when ``linear_start`` is on, which may then leave out the
    ``radiomic`` columns (one group: the high-dimensional modality a start drowns in) and
    chooses among ``penalties``."""
    params = settings.xgboost if params is None else params
    groups = {RADIOMICS_MODALITY: list(radiomic)} if radiomic else {}

    def make():
        return xgboost_classifier(params, settings.seed, settings.threads,
                                  settings.linear_start, groups, settings.tuning.inner_folds,
                                  penalties)

    return make


def modality_usability(features: list[str], modality_of: dict, X_lab: pd.DataFrame,
                       radiomics_near_constant_fraction: float) -> tuple[dict, dict, dict]:
    """(feature -> modality in lower case, modality -> why its features alone cannot be a
    model, modality -> why it gets no ablation rows) over the labelled rows ``X_lab``: the
    ``unusable`` and ``empty`` of :func:`ablation_specs`."""
    modality = {f: str(modality_of.get(f, "")).strip().lower() for f in features}
    unusable, empty = {}, {}
    for part in dict.fromkeys(model_name_part(m or "unknown") for m in modality.values()):
        columns = [f for f in features if model_name_part(modality[f] or "unknown") == part]
        # radiomics: the radiomics step's own near-constant rule; other modalities: only a
        # feature without any variation is useless (a rare mutation is still information)
        fraction = radiomics_near_constant_fraction if part == RADIOMICS_MODALITY else 1.0
        if len(near_constant_features(X_lab[columns], fraction)) == len(columns):
            unusable[part] = (f"every {part} feature is "
                              f"{'near-' if fraction < 1 else ''}constant over the labelled "
                              "samples")
        if X_lab[columns].isna().all(axis=None):
            empty[part] = f"no {part} feature has a value for any labelled patient"
    return modality, unusable, empty


def ablation_specs(features: list[str], settings: ModelSettings, modality: dict,
                   radiomic_all: set, unusable: dict, empty: dict | None = None,
                   make_xgboost=None) -> tuple[list[ModelSpec], list[str]]:
    """Per modality (in the order its first feature appears), XGBoost on that modality only
    (``xgboost_<m>_only``) and on everything else (``xgboost_without_<m>``).

    ``unusable``: modality -> why its features alone cannot be a model (all (near-)constant);
    ``empty``: modality -> why it gets no ablation rows at all (no value for any labelled
    patient: "without" it would be the full model up to column-sampling noise).
    ``make_xgboost``: a fresh XGBoost estimator (default: the classifier of the settings; a
    survival endpoint passes its Cox model).
    """
    empty = dict(empty or {})
    groups: dict[str, list[str]] = {}
    for feature in features:
        groups.setdefault(model_name_part(modality.get(feature, "") or "unknown"),
                          []).append(feature)
    specs, skipped = [], []
    if RADIOMICS_MODALITY not in groups:
        skipped.append(f"{RADIOMICS_ONLY_MODEL}, {WITHOUT_RADIOMICS_MODEL}: no radiomic "
                       f"features (dictionary modality {RADIOMICS_MODALITY}) in the matrix")
    # the ablations' starts keep every column they are given (no group left out) and are
    # L2-penalised: they show what a modality adds; the guard and the choice of penalty (a
    # lasso fit holds a lock: liblinear's random state is global) are the model of record's
    make_ablation = make_xgboost or xgboost_factory(settings, penalties=("l2",))
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
            specs.append(model_spec(only, columns, make_ablation, radiomic_all,
                                    settings.radiomics, kind="xgboost"))
        specs.append(model_spec(without, rest, make_ablation, radiomic_all, settings.radiomics,
                                kind="xgboost"))
    return specs, skipped


def model_specs(features: list[str], settings: ModelSettings, radiomic: list[str] | None = None,
                radiomics_usable: bool = True, modality: dict | None = None,
                unusable: dict | None = None, empty: dict | None = None,
                baseline_factors: tuple[list[str], dict] | None = None,
                ) -> tuple[list[ModelSpec], list[str]]:
    """Every model fitted in the CV folds, and the skipped ones with the reason (published
    scores are not fitted: :mod:`haicpred.modeling.score_baselines`).

    ``radiomic``: the radiomic features (modality radiomics) among ``features``;
    ``radiomics_usable`` is False when all of them are near-constant over the labelled samples.
    ``modality``: feature -> dictionary modality (default: radiomics or ``other``);
    ``unusable``: modality -> why a model on it alone is skipped; ``empty``: modality -> why it
    gets no ablation rows; ``baseline_factors``: the Liu factors with information and why the
    others are left out (:func:`haicpred.modeling.score_baselines.factor_availability`;
    default: those in the matrix).
    """
    radiomic = [f for f in features if f in set(radiomic or [])]
    radiomic_all = set(radiomic)
    if modality is None:
        modality = {f: RADIOMICS_MODALITY if f in radiomic_all else "other" for f in features}
    unusable = dict(unusable or {})
    if radiomic and not radiomics_usable:
        unusable.setdefault(RADIOMICS_MODALITY, "every radiomic feature is near-constant over "
                            "the labelled samples")
    specs = [model_spec("xgboost", features, xgboost_factory(settings, radiomic), radiomic_all,
                        settings.radiomics, kind="xgboost", gain_importance=True)]
    ablations, skipped = ablation_specs(features, settings, modality, radiomic_all, unusable,
                                        empty)
    specs += ablations
    specs.append(model_spec(LOGISTIC_ALL_MODEL, features,
                            lambda: logistic_all_features(settings.seed), radiomic_all,
                            settings.radiomics))
    if baseline_factors is None:
        baseline_factors = ([f for f in settings.baseline_features if f in features],
                            {f: "not in the feature matrix"
                             for f in settings.baseline_features if f not in features})
    baseline, left_out = baseline_factors
    if baseline:
        specs.append(model_spec("logistic_baseline", baseline, logistic_baseline, radiomic_all,
                                settings.radiomics))
        if left_out:
            skipped.append("logistic_baseline: factor(s) left out: " + ", ".join(
                f"{f} ({why})" for f, why in left_out.items()))
    else:
        skipped.append("logistic_baseline: none of the baseline_features carries information: "
                       + ", ".join(f"{f} ({why})" for f, why in left_out.items()))
    return specs, skipped


# --------------------------------------------------------------------------------------------
# fitted and per-fold estimators


def final_estimator(estimator):
    """The model at the end of a radiomics Pipeline, or the estimator itself."""
    return estimator.named_steps["model"] if isinstance(estimator, Pipeline) and (
        "radiomics" in estimator.named_steps) else estimator


def fold_estimator(spec: ModelSpec, skip_reason: str | None, tuned: dict | None):
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


def normalised_gain(estimator, features: list[str], X: pd.DataFrame | None = None
                    ) -> np.ndarray:
    """The fitted XGBoost's total gain per feature (0 for unused ones), summing to 1.

    A model boosted from a linear start (whose trees may be few or none): each feature's mean
    |log-odds contribution| over the rows ``X`` (the start's exact contribution plus the
    trees' TreeSHAP, XGBoost's ``pred_contribs``), summing to 1."""
    model = final_estimator(estimator)
    start = linear_start_of(model)
    if start is not None and X is not None:
        import xgboost

        X_model = estimator[:-1].transform(X) if isinstance(estimator, Pipeline) else X
        contributions = start.contributions(X_model)
        if model.get_booster().num_boosted_rounds():
            contributions = contributions + model.get_booster().predict(
                xgboost.DMatrix(X_model), pred_contribs=True)[:, :-1]
        share = dict(zip(X_model.columns, np.abs(contributions).mean(axis=0)))
        vector = np.array([share.get(f, 0.0) for f in features], dtype=float)
    else:
        raw = model.get_booster().get_score(importance_type="total_gain")
        vector = np.array([raw.get(f, 0.0) for f in features], dtype=float)
    total = vector.sum()
    return vector / total if total > 0 else vector
