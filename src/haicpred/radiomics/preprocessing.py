"""Radiomic features inside the training folds: filters and ComBat batch harmonisation.

Radiomic features are the feature-dictionary modality ``radiomics`` (``rad_*`` columns). For
every model that uses them, :class:`RadiomicsPreprocessor` is the first step of the model's
scikit-learn ``Pipeline``, so cross-validation refits it from the training fold alone and only
applies it to the held-out fold. It receives the feature columns plus the matrix's ``batch``
column (which it consumes; the model never sees it) and, fitted on the training rows, does in
this order:

1. **Near-constant filter.** A radiomic feature is dropped when, over the training rows, it has
   fewer than 2 non-missing values, or its most frequent value covers at least
   ``near_constant_fraction`` (default 0.95) of the non-missing values (caret's ``freqCut`` 95/5
   rule), or its range is within 1e-9 of its magnitude (constant up to rounding). Such features
   carry almost no information and make ComBat's variance estimates degenerate.
2. **ComBat harmonisation** (``harmonise=True``) of the surviving radiomic features except
   ``exclude`` (default ``rad_n_lesions``: a lesion count, not a scanner measurement), with the
   matrix's ``batch`` column as the batch. Fitted with neuroCombat (Fortin et al. 2017/2018, the
   reference Python implementation of ComBat, also the engine of neuroHarmonize) on the
   training rows that have every harmonised feature (in practice the patients with a radiomics
   row: pyradiomics writes all features or none); no covariates are protected, and the label
   is never given to ComBat (it would be unavailable for new patients). The fitted location
   and scale parameters are applied cell by cell to any row whose batch was seen in training,
   so a missing value stays missing (XGBoost handles it) and the other cells of the row are
   still harmonised. Rows of a batch that was not seen in training are left unharmonised and
   counted. When ComBat cannot be fitted (one batch, a batch with fewer than 2 complete
   training rows, fewer than 2 features, a library error or non-finite estimates) harmonisation
   is skipped for that fit and the reason recorded in :attr:`RadiomicsPreprocessor.summary_`.
3. **Correlation filter** on the (harmonised) training rows: of every pair with
   ``|Pearson r| > max_correlation`` (default 0.9, pairwise-complete observations, at least 3),
   the feature that comes later in the feature matrix's column order is dropped. Features are
   visited in column order and a feature is kept unless it is correlated above the threshold
   with a feature already kept, so no kept pair exceeds the threshold and every dropped feature
   is represented by a kept one. Correlation is measured after harmonisation because batch
   shifts create spurious correlations.

Non-radiomic columns pass through unchanged. The fitted state is plain numbers and names
(:meth:`RadiomicsPreprocessor.to_dict` / :meth:`from_dict`), written into the model metadata
JSON, never pickled.

neuroCombat 0.2.12's own ``neuroCombatFromTraining`` fails on numpy >= 2.3 (``int()`` of a
1-element array), so the apply step is :func:`apply_combat`, the ComBat adjustment written out
with the estimates neuroCombat returns; the tests check that it reproduces neuroCombat's own
harmonised training data.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

__all__ = [
    "BATCH_COLUMN",
    "RADIOMICS_MODALITY",
    "COMBAT_LIBRARY",
    "RadiomicsPreprocessor",
    "near_constant_features",
    "correlated_features",
    "fit_combat",
    "apply_combat",
    "CombatNotFitted",
    "HARMONISATION_METHODS",
    "HarmonisationSettings",
    "RadiomicsStepSettings",
]

BATCH_COLUMN = "batch"
RADIOMICS_MODALITY = "radiomics"
COMBAT_LIBRARY = "neuroCombat"
# how fit_combat's reason starts when the training rows hold one batch (a single-centre cohort
# gives it in every fold of every model: the log says it once, see harmonisation_warnings)
SINGLE_BATCH_REASON = "only one batch"
# A feature whose range is below this fraction of its magnitude is constant up to rounding.
_RELATIVE_RANGE_TOLERANCE = 1e-9
# Fewer pairwise-complete observations than this give no correlation (treated as unrelated).
_MIN_CORRELATION_PAIRS = 3


class CombatNotFitted(ValueError):
    """ComBat could not be fitted on these rows; the message says why."""


# --------------------------------------------------------------------------------------------
# settings (resolved and validated from the config by haicpred.modeling.settings)

HARMONISATION_METHODS = ("combat", "none")


@dataclass(frozen=True)
class HarmonisationSettings:
    """ComBat harmonisation: ``method`` combat | none, ``exclude`` features never harmonised."""

    method: str = "combat"
    exclude: tuple[str, ...] = ("rad_n_lesions",)

    def as_dict(self) -> dict:
        return {"method": self.method, "exclude": list(self.exclude)}


@dataclass(frozen=True)
class RadiomicsStepSettings:
    """What :class:`RadiomicsPreprocessor` is built with (model settings ``harmonisation``,
    ``radiomics_max_correlation``, ``radiomics_near_constant_fraction``)."""

    harmonisation: HarmonisationSettings = field(default_factory=HarmonisationSettings)
    max_correlation: float = 0.9
    near_constant_fraction: float = 0.95


# --------------------------------------------------------------------------------------------
# filters


def near_constant_features(frame: pd.DataFrame, max_mode_fraction: float = 0.95) -> list[str]:
    """Columns of ``frame`` that are (near-)constant over its rows, in column order.

    Near-constant: fewer than 2 non-missing values, or the most frequent value covers at least
    ``max_mode_fraction`` of the non-missing values, or ``max - min <= 1e-9 * max(1, max|x|)``.
    """
    dropped = []
    for name in frame.columns:
        values = frame[name].to_numpy(dtype=float)
        values = values[~np.isnan(values)]
        if values.size < 2:
            dropped.append(name)
            continue
        _, counts = np.unique(values, return_counts=True)
        spread = values.max() - values.min()
        scale = max(1.0, float(np.abs(values).max()))
        if counts.max() >= max_mode_fraction * values.size or spread <= (
                _RELATIVE_RANGE_TOLERANCE * scale):
            dropped.append(name)
    return dropped


def _abs_correlation(frame: pd.DataFrame) -> np.ndarray:
    """|Pearson r| between columns; NaN where undefined (constant, or < 3 complete pairs)."""
    values = frame.to_numpy(dtype=float)
    if not np.isnan(values).any() and len(values) >= _MIN_CORRELATION_PAIRS:
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.corrcoef(values, rowvar=False)
        r = np.atleast_2d(r)
    else:
        r = frame.astype(float).corr(method="pearson",
                                     min_periods=_MIN_CORRELATION_PAIRS).to_numpy()
    return np.abs(r)


def correlated_features(frame: pd.DataFrame, max_abs_correlation: float = 0.9
                        ) -> list[tuple[str, str, float]]:
    """Columns to drop as ``(dropped, kept partner, |r|)``, visiting columns in order.

    A column is kept unless its |Pearson r| with an already kept column exceeds
    ``max_abs_correlation``; then it is dropped in favour of the first such kept column.
    """
    names = list(frame.columns)
    if len(names) < 2:
        return []
    r = _abs_correlation(frame)
    too_high = np.nan_to_num(r, nan=0.0) > max_abs_correlation
    np.fill_diagonal(too_high, False)
    dropped_by = np.full(len(names), -1)
    for i in range(len(names)):
        if dropped_by[i] >= 0:
            continue
        later = np.flatnonzero(too_high[i] & (dropped_by < 0))
        later = later[later > i]
        dropped_by[later] = i
    return [(names[j], names[int(k)], float(r[j, k]))
            for j, k in enumerate(dropped_by) if k >= 0]


# --------------------------------------------------------------------------------------------
# ComBat


def _silence_neurocombat() -> None:
    """neuroCombat prints its progress to stdout on every fit. Its module gets a ``print`` of
    its own that prints nothing: redirecting ``sys.stdout`` instead is process-wide, and with
    folds fitted on parallel threads one thread's restore would undo another's (stdout left
    pointing at a discarded buffer)."""
    # the module, not the function the package re-exports under the same name
    module = importlib.import_module("neuroCombat.neuroCombat")
    module.print = lambda *args, **kwargs: None


def fit_combat(values: np.ndarray, batches, features: list[str]) -> dict:
    """Fit ComBat (neuroCombat, parametric empirical Bayes, no covariates) on complete rows.

    ``values`` is samples x features without missing values, ``batches`` one label per row.
    Returns the JSON-ready parameters used by :func:`apply_combat`. Raises
    :class:`CombatNotFitted` with the reason when the rows do not allow a fit.
    """
    from neuroCombat import neuroCombat

    values = np.asarray(values, dtype=float)
    batches = np.asarray(batches).astype(str)
    if values.ndim != 2 or values.shape[1] != len(features):
        raise ValueError("values must be samples x features, one column per feature name")
    if np.isnan(values).any():
        raise ValueError("fit_combat needs complete rows (no missing values)")
    if len(features) < 2:
        # the empirical Bayes priors are estimated across features
        raise CombatNotFitted(f"{len(features)} radiomic feature(s) to harmonise; ComBat's "
                              "empirical Bayes priors need at least 2")
    levels, counts = np.unique(batches, return_counts=True)
    if len(levels) < 2:
        raise CombatNotFitted(
            f"{SINGLE_BATCH_REASON} ({levels[0] if len(levels) else 'none'}) among the training "
            "rows with complete radiomic features")
    small = [f"{b} ({c})" for b, c in zip(levels, counts) if c < 2]
    if small:
        raise CombatNotFitted(
            "batch(es) with fewer than 2 training rows with complete radiomic features: "
            + ", ".join(small) + " (ComBat estimates a variance per batch)")
    covars = pd.DataFrame({BATCH_COLUMN: batches})
    _silence_neurocombat()
    try:
        # on degenerate input neuroCombat's arithmetic warns (numpy floating-point errors,
        # silenced per thread by errstate); the finite-estimates check below replaces that
        with np.errstate(all="ignore"):
            # features x samples, float64 (a DataFrame would be cast to float32 by the library)
            fitted = neuroCombat(dat=np.ascontiguousarray(values.T), covars=covars,
                                 batch_col=BATCH_COLUMN, eb=True, parametric=True)
    except (np.linalg.LinAlgError, ValueError, ZeroDivisionError, FloatingPointError) as error:
        raise CombatNotFitted(f"neuroCombat failed: {type(error).__name__}: {error}") from None
    estimates = fitted["estimates"]
    stand_mean = np.asarray(estimates["stand.mean"], dtype=float)[:, 0]
    var_pooled = np.asarray(estimates["var.pooled"], dtype=float).reshape(-1)
    gamma = np.asarray(estimates["gamma.star"], dtype=float)
    delta = np.asarray(estimates["delta.star"], dtype=float)
    fitted_levels = [str(b) for b in estimates["batches"]]
    finite = all(np.isfinite(a).all() for a in (stand_mean, var_pooled, gamma, delta))
    if not finite or (var_pooled <= 0).any() or (delta <= 0).any():
        raise CombatNotFitted("neuroCombat returned non-finite or non-positive estimates")
    return {
        "library": COMBAT_LIBRARY,
        "method": "ComBat, parametric empirical Bayes, no protected covariates",
        "batch_column": BATCH_COLUMN,
        "features": list(features),
        "batches": fitted_levels,
        "n_fit_rows": {b: int(c) for b, c in zip(levels, counts)},
        "stand_mean": stand_mean.tolist(),
        "var_pooled": var_pooled.tolist(),
        "gamma_star": gamma.tolist(),
        "delta_star": delta.tolist(),
    }


def apply_combat(values: np.ndarray, batches, params: dict) -> tuple[np.ndarray, np.ndarray]:
    """ComBat adjustment with fitted parameters: ``(adjusted values, harmonised row mask)``.

    x* = ((x - m) / s - gamma_b) / sqrt(delta_b) * s + m, with m the grand mean, s the pooled
    SD, gamma_b and delta_b the batch's location and scale estimates. Cell by cell: missing
    stays missing. Rows whose batch was not in the fit are returned unchanged (mask False).
    """
    values = np.array(values, dtype=float, copy=True)
    mean = np.asarray(params["stand_mean"], dtype=float)
    sd = np.sqrt(np.asarray(params["var_pooled"], dtype=float))
    gamma = np.asarray(params["gamma_star"], dtype=float)
    delta = np.asarray(params["delta_star"], dtype=float)
    labels = pd.Series(batches, dtype=object).map(lambda b: None if pd.isna(b) else str(b))
    harmonised = np.zeros(len(values), dtype=bool)
    for index, level in enumerate(params["batches"]):
        rows = (labels == level).to_numpy(dtype=bool)
        if not rows.any():
            continue
        standardised = (values[rows] - mean) / sd
        values[rows] = (standardised - gamma[index]) / np.sqrt(delta[index]) * sd + mean
        harmonised |= rows
    return values, harmonised


def is_single_batch_reason(reason: str) -> bool:
    return reason.startswith(SINGLE_BATCH_REASON)


def harmonisation_warnings(fold_summaries: list[dict]) -> list[str]:
    """The log's warnings for training folds left unharmonised, from the per-model fold
    summaries (``{"model", "skipped_reasons": {reason: n_folds}}``): one per model and reason,
    except a single batch, which a single-centre cohort has in every fold of every model: that
    is said once, with the fold and model counts (every fold's reason is in
    radiomics_folds.tsv)."""
    messages, single_batch = [], {}
    for entry in fold_summaries:
        for reason, count in entry["skipped_reasons"].items():
            if is_single_batch_reason(reason):
                single_batch.setdefault(reason, []).append(count)
            else:
                messages.append(f"{entry['model']}: harmonisation skipped in {count} fold(s): "
                                f"{reason}")
    for reason, counts in single_batch.items():
        messages.append(f"harmonisation skipped in {sum(counts)} training fold(s) of "
                        f"{len(counts)} model(s): {reason}; ComBat needs at least two batches "
                        "(each fold's reason is in radiomics_folds.tsv)")
    return messages


def _combat_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(COMBAT_LIBRARY)
    except PackageNotFoundError:  # pragma: no cover - it is a dependency
        return ""


# --------------------------------------------------------------------------------------------
# the transformer


class RadiomicsPreprocessor(TransformerMixin, BaseEstimator):
    """Near-constant filter, ComBat harmonisation and correlation filter of radiomic features.

    ``fit(X)``/``transform(X)`` take a DataFrame of feature columns plus ``batch``; the output
    has the kept feature columns in their input order, without ``batch``. ``skip_reason``
    (set by the cross-validation loop, e.g. when a held-out batch is absent from the training
    fold) turns harmonisation off for this fit and is recorded as the reason.
    After ``fit``: ``summary_`` (counts, harmonised yes/no, reason) and :meth:`to_dict`.
    """

    def __init__(self, radiomic_features=(), harmonise: bool = True,
                 harmonisation_exclude=("rad_n_lesions",), max_correlation: float = 0.9,
                 near_constant_fraction: float = 0.95, skip_reason: str | None = None):
        self.radiomic_features = radiomic_features
        self.harmonise = harmonise
        self.harmonisation_exclude = harmonisation_exclude
        self.max_correlation = max_correlation
        self.near_constant_fraction = near_constant_fraction
        self.skip_reason = skip_reason

    @classmethod
    def from_settings(cls, radiomic_features, settings: RadiomicsStepSettings
                      ) -> RadiomicsPreprocessor:
        """An unfitted step for ``radiomic_features`` built with ``settings``."""
        return cls(
            radiomic_features=tuple(radiomic_features),
            harmonise=settings.harmonisation.method == "combat",
            harmonisation_exclude=tuple(settings.harmonisation.exclude),
            max_correlation=settings.max_correlation,
            near_constant_fraction=settings.near_constant_fraction,
        )

    # -- fitting

    def _split(self, X: pd.DataFrame) -> tuple[list[str], list[str], np.ndarray]:
        if not isinstance(X, pd.DataFrame):
            raise TypeError("RadiomicsPreprocessor needs a DataFrame with named columns")
        if BATCH_COLUMN not in X.columns:
            raise ValueError(f"RadiomicsPreprocessor needs the {BATCH_COLUMN!r} column")
        features = [c for c in X.columns if c != BATCH_COLUMN]
        radiomic = set(self.radiomic_features)
        return features, [c for c in features if c in radiomic], X[BATCH_COLUMN].to_numpy()

    def fit(self, X: pd.DataFrame, y=None):
        features, radiomic, batches = self._split(X)
        self.feature_names_in_ = np.array(features, dtype=object)
        values = X[radiomic].astype(float)
        near_constant = near_constant_features(values, self.near_constant_fraction)
        survivors = [c for c in radiomic if c not in set(near_constant)]

        exclude = set(self.harmonisation_exclude)
        to_harmonise = [c for c in survivors if c not in exclude]
        self.combat_ = None
        if not self.harmonise:
            reason = self.skip_reason or "harmonisation switched off (harmonisation.method none)"
        elif self.skip_reason:
            reason = self.skip_reason
        elif not radiomic:
            reason = "no radiomic features"
        else:
            complete = (values[to_harmonise].notna().all(axis=1).to_numpy()
                        & pd.notna(batches))
            try:
                self.combat_ = fit_combat(values.loc[complete, to_harmonise].to_numpy(),
                                          batches[complete], to_harmonise)
                reason = ""
            except CombatNotFitted as error:
                reason = str(error)
        harmonised = self._harmonise(values[survivors], batches)[0]
        correlated = correlated_features(harmonised, self.max_correlation)
        dropped = set(near_constant) | {name for name, _, _ in correlated}
        self.kept_features_ = [c for c in features if c not in dropped]
        if not self.kept_features_:
            raise ValueError(
                "no feature left after the near-constant and correlation filters of the "
                f"radiomic features ({len(radiomic)} in, {len(near_constant)} near-constant); "
                "the model has nothing to learn from in this training fold")
        self.near_constant_ = near_constant
        self.correlated_ = correlated
        self.summary_ = {
            "n_in": len(radiomic),
            "n_after_near_constant": len(survivors),
            "n_after_correlation": len(survivors) - len(correlated),
            "n_harmonised": len(self.combat_["features"]) if self.combat_ else 0,
            "harmonised": self.combat_ is not None,
            "reason": reason,
        }
        return self

    def _harmonise(self, frame: pd.DataFrame, batches) -> tuple[pd.DataFrame, np.ndarray]:
        """``frame`` with the ComBat-fitted columns adjusted; rows harmonised (mask)."""
        if self.combat_ is None:
            return frame, np.zeros(len(frame), dtype=bool)
        columns = [c for c in self.combat_["features"] if c in frame.columns]
        params = self.combat_
        if columns != params["features"]:
            keep = [params["features"].index(c) for c in columns]
            params = {**params,
                      "stand_mean": [params["stand_mean"][i] for i in keep],
                      "var_pooled": [params["var_pooled"][i] for i in keep],
                      "gamma_star": [[row[i] for i in keep] for row in params["gamma_star"]],
                      "delta_star": [[row[i] for i in keep] for row in params["delta_star"]]}
        adjusted, mask = apply_combat(frame[columns].to_numpy(dtype=float), batches, params)
        # one new float block (column-by-column assignment is slow for ~1,000 features)
        values = frame.to_numpy(dtype=float, copy=True)
        values[:, [frame.columns.get_loc(c) for c in columns]] = adjusted
        return pd.DataFrame(values, index=frame.index, columns=frame.columns), mask

    # -- applying

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        return self.transform_with_mask(X)[0]

    def transform_with_mask(self, X: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        """The transformed frame and, per row, whether its radiomic features were harmonised."""
        if not hasattr(self, "kept_features_"):
            raise ValueError("RadiomicsPreprocessor is not fitted")
        _, _, batches = self._split(X)
        missing = [c for c in self.kept_features_ if c not in X.columns]
        if missing:
            raise ValueError("columns missing for the radiomics preprocessing: "
                             + ", ".join(missing))
        return self._harmonise(X[self.kept_features_].astype(float), batches)

    # -- persistence (JSON, never pickle)

    def to_dict(self) -> dict:
        """The fitted state as plain JSON values (model metadata)."""
        return {
            "radiomic_features": list(self.radiomic_features),
            "settings": {
                "harmonise": bool(self.harmonise),
                "harmonisation_exclude": list(self.harmonisation_exclude),
                "max_correlation": float(self.max_correlation),
                "near_constant_fraction": float(self.near_constant_fraction),
            },
            "input_features": [str(c) for c in self.feature_names_in_],
            "kept_features": list(self.kept_features_),
            "dropped_near_constant": list(self.near_constant_),
            "dropped_correlated": [
                {"feature": name, "correlated_with": partner, "abs_r": round(r, 6)}
                for name, partner, r in self.correlated_
            ],
            "summary": dict(self.summary_),
            "harmonisation": (
                {**self.combat_, "library_version": _combat_version()} if self.combat_
                else {"applied": False, "reason": self.summary_["reason"]}
            ),
        }

    @classmethod
    def from_dict(cls, state: dict) -> RadiomicsPreprocessor:
        """Rebuild a fitted preprocessor from :meth:`to_dict` (e.g. read from the metadata)."""
        settings = state["settings"]
        pre = cls(radiomic_features=tuple(state["radiomic_features"]),
                  harmonise=settings["harmonise"],
                  harmonisation_exclude=tuple(settings["harmonisation_exclude"]),
                  max_correlation=settings["max_correlation"],
                  near_constant_fraction=settings["near_constant_fraction"])
        pre.feature_names_in_ = np.array(state["input_features"], dtype=object)
        pre.kept_features_ = list(state["kept_features"])
        pre.near_constant_ = list(state["dropped_near_constant"])
        pre.correlated_ = [(d["feature"], d["correlated_with"], d["abs_r"])
                           for d in state["dropped_correlated"]]
        pre.summary_ = dict(state["summary"])
        combat = state["harmonisation"]
        pre.combat_ = None if "stand_mean" not in combat else {
            key: value for key, value in combat.items() if key != "library_version"}
        return pre
