"""The survival endpoint's published-factor baselines: Cox models refitted on the factors of
published HAIC nomograms (issue 15 point 2).

The published nomograms' point tables (their coefficients) are not public, so none of them can
be applied as published. What can be done honestly is to take each nomogram's factors and refit
a Cox model on them inside every outer training fold, exactly as the learned models are fitted:
each row is "refitted on the published factors", never "the published model". The factor sets:

- ``cox_baseline``: Liu 2023 (setting ``baseline_features``, shared with the binary endpoints'
  ``logistic_baseline``);
- the setting ``survival_baselines`` (name -> factors), by default ``cox_mei2021`` (Mei 2021)
  and ``cox_yao_haicn`` (Yao pre-HAICN).

Each is a :class:`~haicpred.modeling.survival_estimators.PenalisedCox` with the small fixed
ridge penalty :data:`BASELINE_ALPHA` (median imputation and scaling inside the fold). A factor
that is not in the matrix, has no value for a labelled patient, or has one value only is left
out (:func:`haicpred.modeling.score_baselines.factor_availability`, the binary baseline's rule);
a baseline with no factor left is skipped. :func:`factor_cox_specs` gives the specs, the skip
reasons and the ``cv_metadata.json`` entry of each baseline (factors, available, left out,
description).
"""

from __future__ import annotations

from collections.abc import Sequence

from haicpred.modeling.estimators import ModelSpec, model_spec
from haicpred.modeling.inputs import PreparedData
from haicpred.modeling.score_baselines import factor_availability
from haicpred.modeling.settings import ModelSettings
from haicpred.modeling.survival_estimators import PenalisedCox

__all__ = ["BASELINE_ALPHA", "COX_BASELINE_MODEL", "PUBLISHED_SOURCES", "REFITTED_NOTE",
           "factor_baseline_sets", "factor_cox_specs"]

COX_BASELINE_MODEL = "cox_baseline"
# Cox models of a handful of published factors: a small ridge penalty only keeps a factor that
# barely varies in one training fold from diverging
BASELINE_ALPHA = 0.01
# where the default factor sets come from (a user-configured set is described as such)
PUBLISHED_SOURCES = {COX_BASELINE_MODEL: "Liu 2023", "cox_mei2021": "Mei 2021",
                     "cox_yao_haicn": "Yao pre-HAICN"}
REFITTED_NOTE = ("refitted on the published factors: a Cox model fitted in each outer training "
                 "fold on the factors only; the published point tables (coefficients) are not "
                 "public, so the published model itself is not applied")


def factor_baseline_sets(settings: ModelSettings) -> dict[str, tuple[str, ...]]:
    """Model name -> configured factors: ``cox_baseline`` (Liu 2023, ``baseline_features``),
    then the ``survival_baselines`` (sorted by name)."""
    return {COX_BASELINE_MODEL: tuple(settings.baseline_features),
            **{name: tuple(factors) for name, factors in settings.survival_baselines.items()}}


def _description(name: str, available: Sequence[str]) -> str:
    source = PUBLISHED_SOURCES.get(name)
    whose = f"the {source} nomogram" if source else "a configured factor set"
    return (f"Cox model on the factors of {whose} ({', '.join(available) or 'none available'}), "
            f"{REFITTED_NOTE}")


def factor_cox_specs(data: PreparedData, settings: ModelSettings, horizons: Sequence[float]
                     ) -> tuple[list[ModelSpec], list[str], dict]:
    """The published-factor Cox baselines for these inputs: (specs, skipped-model reasons,
    ``cv_metadata.json`` entries name -> {source, factors, available, left_out, status,
    description})."""
    horizons = tuple(horizons)
    specs, skipped, metadata = [], [], {}
    for name, factors in factor_baseline_sets(settings).items():
        available, left_out = factor_availability(list(factors), data.X_lab)
        reasons = ", ".join(f"{f} ({why})" for f, why in left_out.items())
        metadata[name] = {"source": PUBLISHED_SOURCES.get(name, "configured"),
                          "factors": list(factors), "available": available,
                          "left_out": left_out,
                          "status": "evaluated" if available else "skipped",
                          "description": _description(name, available)}
        if not available:
            skipped.append(f"{name}: none of its factors carries information: {reasons}")
            continue
        specs.append(model_spec(name, available,
                                lambda: PenalisedCox(horizons, alphas=(BASELINE_ALPHA,)),
                                set(data.radiomic), settings.radiomics))
        if left_out:
            skipped.append(f"{name}: factor(s) left out: {reasons}")
    return specs, skipped, metadata
