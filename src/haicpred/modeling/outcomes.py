"""The endpoint object the cross-validation engine runs for the configured kind of outcome."""

from __future__ import annotations

from haicpred.features.endpoints import SURVIVAL_KIND, survival_labels
from haicpred.modeling.endpoint import BinaryEndpoint, ModelEndpoint
from haicpred.modeling.settings import ModelSettings
from haicpred.modeling.survival_endpoint import SurvivalEndpoint

__all__ = ["model_endpoint"]


def model_endpoint(settings: ModelSettings) -> ModelEndpoint:
    """:class:`~haicpred.modeling.survival_endpoint.SurvivalEndpoint` for kind survival,
    :class:`~haicpred.modeling.endpoint.BinaryEndpoint` for the binary kinds."""
    if settings.endpoint["kind"] == SURVIVAL_KIND:
        return SurvivalEndpoint(settings, survival_labels)
    return BinaryEndpoint(settings)
