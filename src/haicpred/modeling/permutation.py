"""The label-permutation check of the whole cross-validation (rule ``permutation_check``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from haicpred.modeling.cross_validation import run_cv
from haicpred.modeling.endpoint import ModelEndpoint
from haicpred.modeling.inputs import prepare_data
from haicpred.modeling.outcomes import model_endpoint
from haicpred.modeling.settings import ModelSettings, resolve_model_settings

__all__ = ["PERMUTATION_COLUMNS", "permutation_check"]

# permutation.tsv of the binary endpoints (another endpoint names its own statistic)
PERMUTATION_COLUMNS = ["permutation", "auc"]


def permutation_check(matrix: pd.DataFrame, labels: pd.DataFrame, dictionary: pd.DataFrame,
                      settings: dict | ModelSettings | None, n_permutations: int | None = None,
                      endpoint: ModelEndpoint | None = None) -> pd.DataFrame:
    """Label-permutation check of the whole CV: ``permutation, auc`` per shuffled labelling.

    The labelled patients' labels are shuffled (``numpy.random.default_rng(seed)``, one
    permutation after the other), and XGBoost on all features (the endpoint's headline model)
    goes through the same repeated stratified K-fold as
    :func:`haicpred.modeling.cross_validation.cross_validate_models`, radiomics step included;
    the AUC (the endpoint's statistic) is that of the repeat-averaged OOF probabilities against
    the shuffled labels. For speed the
    fixed ``xgboost`` parameters are used (no nested tuning: tuning cannot create signal that
    is not there, and a leak in the preprocessing would show with fixed parameters too).
    Without leakage the AUCs scatter around 0.5. ``n_permutations`` defaults to the setting
    ``permutations``.
    """
    settings = resolve_model_settings(settings)
    endpoint = model_endpoint(settings) if endpoint is None else endpoint
    n_permutations = settings.permutations if n_permutations is None else int(
        n_permutations)
    data = prepare_data(matrix.reset_index(drop=True), labels, dictionary, endpoint,
                        settings.cv.folds, settings.allow_post_treatment, None)
    specs, _ = endpoint.model_specs(data)
    headline = specs[0]
    rng = np.random.default_rng(settings.seed)
    statistic = endpoint.permutation_statistic_name
    rows = []
    for permutation in range(1, n_permutations + 1):
        shuffled = rng.permutation(data.y)
        run = run_cv(data, [headline], endpoint, settings.cv, y=shuffled, tune=False,
                     importance=False)
        rows.append({"permutation": permutation,
                     statistic: endpoint.permutation_statistic(
                         shuffled, run.predictions[headline.name].mean(axis=0))})
    return pd.DataFrame(rows, columns=["permutation", statistic])
