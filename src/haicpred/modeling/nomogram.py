"""The nomogram of the Cox model on the published factors (issue 15 point 6): what clinicians
read, refitted on the labelled patients of the final-model step.

The model is the cross-validation's ``cox_baseline`` refitted on every labelled patient: the
factors of the setting ``baseline_features`` (by default Liu 2023's) that carry information
(:func:`haicpred.modeling.score_baselines.factor_availability`), median imputation, scaling
and a Cox model with the small fixed ridge penalty
(:data:`haicpred.modeling.survival_endpoint.BASELINE_ALPHA`). The published point tables are
not public, so the points here are those of this refit, not the publication's.

Points (the classic construction). With the scaler undone, the linear predictor is
``lp = sum_j b_j x_j + c`` in the factors' original units (a missing value counts as the
training median, as the model imputes it). Over the training range [min_j, max_j] a factor
moves ``lp`` by ``R_j = |b_j| (max_j - min_j)``; the factor with the largest ``R_j`` spans 0-100
points, and every factor gets ``points_j(x) = 100 (b_j x - L_j) / R_max`` with
``L_j = min(b_j min_j, b_j max_j)`` (0 points at its lowest-risk end). The total points T of a
patient give back the linear predictor, ``lp = T R_max / 100 + sum_j L_j + c``, and survival at
each horizon h, ``S(h) = exp(-H0(h) exp(lp))``, H0 the Breslow baseline cumulative hazard of the
refit. Factors with at most :data:`MAX_LEVELS` distinct whole-number values are shown per level;
the others at a few round tick values over their training range.

:func:`fit_nomogram` returns the fitted model and the nomogram as a dict (``nomogram.json``:
sorted keys, floats as Python writes them, so the same data give the same bytes;
``available`` false and a ``reason`` when none could be fitted, :func:`unavailable_nomogram`);
:func:`total_points`, :func:`linear_predictor_of_points` and :func:`survival_of_points` read it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from haicpred.modeling.survival_estimators import PenalisedCox

__all__ = ["NOMOGRAM_FORMAT", "NOMOGRAM_CAPTION", "MAX_LEVELS", "fit_nomogram",
           "unavailable_nomogram", "total_points", "linear_predictor_of_points",
           "survival_of_points"]

NOMOGRAM_FORMAT = "haicpred nomogram"
NOMOGRAM_CAPTION = ("Cox model refitted on the published factors; the published point tables "
                    "are not public")
# a factor with at most this many distinct whole-number values is shown level by level
MAX_LEVELS = 6
# total points at which S(h) is tabulated (for the figure and for reading off)
N_TOTAL_POINTS_GRID = 51


def _nice_ticks(low: float, high: float, target: int = 5) -> list[float]:
    """Round values (steps of 1, 2, 2.5 or 5 times a power of ten) inside [low, high]."""
    span = high - low
    raw = span / target
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + 1e-9 * span:
        ticks.append(float(round(value, 10)))
        value += step
    return ticks


def _factor_values(observed: np.ndarray) -> tuple[str, list[float]]:
    distinct = np.unique(observed)
    if len(distinct) <= MAX_LEVELS and np.all(distinct == np.round(distinct)):
        return "levels", [float(v) for v in distinct]
    return "continuous", _nice_ticks(float(distinct[0]), float(distinct[-1]))


def fit_nomogram(X: pd.DataFrame, y: np.ndarray, factors: list[str], horizons,
                 alpha: float, left_out: dict | None = None, units: dict | None = None,
                 factors_source: str = "") -> tuple[PenalisedCox, dict]:
    """Fit ``PenalisedCox(horizons, alphas=(alpha,))`` on ``X[factors]`` (labelled patients,
    raw values; ``y`` the time/event array) and build its nomogram (module docstring)."""
    units = units or {}
    horizons = tuple(float(h) for h in horizons)
    X = X[factors].reset_index(drop=True).astype(float)
    model = PenalisedCox(horizons, alphas=(alpha,)).fit(X, y)
    pipeline = model.model_
    medians = pipeline.named_steps["impute"].statistics_
    scaler = pipeline.named_steps["scale"]
    beta = np.asarray(pipeline.named_steps["model"].coef_, dtype=float)
    per_unit = beta / scaler.scale_  # the coefficient per original unit
    intercept = float(-np.sum(beta * scaler.mean_ / scaler.scale_))

    ranges = []
    for j, name in enumerate(factors):
        observed = X[name].dropna().to_numpy(dtype=float)
        ranges.append((float(observed.min()), float(observed.max()), observed))
    lowest = [min(per_unit[j] * lo, per_unit[j] * hi) for j, (lo, hi, _) in enumerate(ranges)]
    effect = [abs(per_unit[j]) * (hi - lo) for j, (lo, hi, _) in enumerate(ranges)]
    reference = int(np.argmax(effect))
    if not effect[reference] > 0:
        raise ValueError("no factor moves the refitted Cox model's linear predictor")
    points_per_lp = 100.0 / effect[reference]
    offset = float(np.sum(lowest) + intercept)

    entries = []
    for j, name in enumerate(factors):
        lo, hi, observed = ranges[j]
        kind, values = _factor_values(observed)
        entries.append({
            "name": name,
            "unit": str(units.get(name, "")),
            "kind": kind,
            "coefficient_per_unit": float(per_unit[j]),
            "hazard_ratio_per_unit": float(np.exp(per_unit[j])),
            "lowest_linear_predictor": float(lowest[j]),
            "training_range": [lo, hi],
            "missing_counts_as": float(medians[j]),
            "max_points": float(points_per_lp * effect[j]),
            "points": [{"value": v, "points": float(points_per_lp * (per_unit[j] * v
                                                                     - lowest[j]))}
                       for v in values],
        })
    max_total = float(sum(entry["max_points"] for entry in entries))
    event_times, cumulative = model.event_times_, model.cumulative_hazard_
    index = np.searchsorted(event_times, np.asarray(horizons), side="right") - 1
    baseline = [float(cumulative[i]) if i >= 0 else 0.0 for i in index]
    grid = np.linspace(0.0, max_total, N_TOTAL_POINTS_GRID)
    nomogram = {
        "format": NOMOGRAM_FORMAT,
        "format_version": 1,
        "available": True,
        "caption": NOMOGRAM_CAPTION,
        "model": ("Cox model refitted on the published factors (median imputation, scaling, "
                  f"ridge penalty alpha {alpha:g}; haicpred.modeling.survival_estimators."
                  "PenalisedCox, the cross-validation's cox_baseline) on every labelled patient"),
        "factors_source": factors_source,
        "factors_left_out": dict(left_out or {}),
        "alpha": float(alpha),
        "n": int(len(y)),
        "n_events": int(np.sum(y["event"])),
        "factors": entries,
        "reference_factor": factors[reference],
        "points_per_unit_linear_predictor": float(points_per_lp),
        "linear_predictor_at_zero_points": offset,
        "max_total_points": max_total,
        "horizons_months": list(horizons),
        "baseline_cumulative_hazard_at_horizons": baseline,
        "survival_by_total_points": {
            "total_points": [float(t) for t in grid],
            "survival": [[float(s) for s in
                          np.exp(-np.asarray(baseline) * math.exp(offset + t / points_per_lp))]
                         for t in grid],
        },
        "definition": (
            "points_j(x) = points_per_unit_linear_predictor * (coefficient_per_unit_j * x - "
            "lowest_linear_predictor_j); the factor with the largest effect over its training "
            "range spans 0-100 (reference_factor); a missing value counts as missing_counts_as "
            "(the training median). Linear predictor = total points / "
            "points_per_unit_linear_predictor + linear_predictor_at_zero_points; S(h) = "
            "exp(-H0(h) exp(linear predictor)), H0 the Breslow baseline cumulative hazard of "
            "the refit (baseline_cumulative_hazard_at_horizons). survival_by_total_points: "
            "S at each horizon (columns, in horizons_months order) for total points from 0 to "
            "max_total_points."),
    }
    return model, nomogram


def unavailable_nomogram(reason: str) -> dict:
    """``nomogram.json`` when no nomogram could be fitted (the file exists either way)."""
    return {"format": NOMOGRAM_FORMAT, "format_version": 1, "available": False,
            "caption": NOMOGRAM_CAPTION, "reason": reason}


def total_points(nomogram: dict, values: dict) -> float:
    """A patient's total points from ``{factor: value}`` (absent or NaN = the training
    median)."""
    scale = nomogram["points_per_unit_linear_predictor"]
    total = 0.0
    for factor in nomogram["factors"]:
        value = values.get(factor["name"])
        if value is None or (isinstance(value, float) and math.isnan(value)):
            value = factor["missing_counts_as"]
        total += scale * (factor["coefficient_per_unit"] * float(value)
                          - factor["lowest_linear_predictor"])
    return total


def linear_predictor_of_points(nomogram: dict, points: float) -> float:
    return (points / nomogram["points_per_unit_linear_predictor"]
            + nomogram["linear_predictor_at_zero_points"])


def survival_of_points(nomogram: dict, points: float) -> list[float]:
    """S(h) at each of the nomogram's horizons for a total of ``points``."""
    relative = math.exp(linear_predictor_of_points(nomogram, points))
    return [math.exp(-h0 * relative) for h0 in nomogram["baseline_cumulative_hazard_at_horizons"]]
