"""The nested search of the Cox booster inside one training set (issue 15, in progress).

The same search as :mod:`haicpred.modeling.tuning` (random candidates over
:data:`~haicpred.modeling.tuning.SEARCH_SPACE` without the class weight, candidate 0 = the fixed
parameters, ``n_estimators`` by early stopping, inner folds refitting the radiomics step), with
the Cox partial likelihood in place of the log loss: inner folds stratified on the event, the
booster's label the signed time, the criterion XGBoost's mean inner-validation ``cox-nloglik``
(the negative log partial likelihood per event). As with the log loss, the likelihood rewards
the whole risk scale, not only the ranking. The AFT booster
(:class:`haicpred.modeling.survival_aft.XGBoostAFT`, ``survival_objective: aft``) is searched the
same way on its interval labels, the criterion its inner ``aft-nloglik`` (tuning.tsv column
``inner_aft_nloglik``): each booster says how (``tuning_params``, ``training_matrix``,
``eval_metric``, ``loss_column``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from haicpred.modeling.estimators import ModelSpec, fold_estimator
from haicpred.modeling.parallel import map_in_order
from haicpred.modeling.settings import TuningSettings
from haicpred.modeling.survival_estimators import signed_time
from haicpred.modeling.tuning import (TUNED_PARAMETERS, early_stopped_cv, inner_fold_data,
                                      sample_candidates, split_estimator, tuning_table)

__all__ = ["COX_LOSS_COLUMN", "COX_TUNED_PARAMETERS", "SURVIVAL_TUNING_COLUMNS",
           "survival_tuning_columns", "survival_tuning_table", "tune_cox_model",
           "tune_cox_xgboost"]

COX_TUNED_PARAMETERS = [name for name in TUNED_PARAMETERS if name != "scale_pos_weight"]
COX_LOSS_COLUMN = "inner_cox_nloglik"


def survival_tuning_columns(loss_column: str = COX_LOSS_COLUMN) -> list[str]:
    """tuning.tsv's columns for a booster whose inner criterion is in ``loss_column``."""
    return ["scheme", "model", "repeat", "fold", "held_out_batch", *COX_TUNED_PARAMETERS,
            loss_column, "n_candidates", "note"]


SURVIVAL_TUNING_COLUMNS = survival_tuning_columns()


def tune_cox_xgboost(X: pd.DataFrame, y: np.ndarray, tuning: TuningSettings, seed: int,
                     make_estimator, threads: int = 1) -> tuple[dict, pd.DataFrame]:
    """Random search with early stopping for an ``XGBoostCox`` (or a Pipeline ending in one) on
    one training set. ``y``: the structured time/event array. Returns ``(params, trace)``: the
    chosen values of :data:`COX_TUNED_PARAMETERS` and one trace row per candidate (the lowest
    mean inner ``cox-nloglik``, or the booster's own ``eval_metric``, wins; ties: the lower
    candidate). Raises ValueError with fewer events than inner folds."""
    n_events = int(y["event"].sum())
    if n_events < tuning.inner_folds:
        raise ValueError(f"tuning needs at least {tuning.inner_folds} events (inner folds), "
                         f"got {n_events}")
    X = X.reset_index(drop=True)
    steps, model = split_estimator(make_estimator())
    data = inner_fold_data(X, y, steps, tuning.inner_folds, seed,
                           strata=y["event"].astype(int), label=signed_time(y))
    loss_column = model.loss_column
    candidates = [{k: v for k, v in candidate.items() if k != "scale_pos_weight"}
                  for candidate in sample_candidates(tuning.n_candidates, seed,
                                                     model.get_params())]

    def evaluate(candidate):
        rounds, loss, _, _ = early_stopped_cv(
            model.tuning_params(candidate), data, tuning.max_estimators,
            tuning.early_stopping_rounds, loss=model.eval_metric, score=None,
            prepare=model.training_matrix)
        return {**candidate, "n_estimators": rounds, loss_column: loss}

    trace = pd.DataFrame(map_in_order(evaluate, candidates, threads))
    trace.insert(0, "candidate", np.arange(len(trace)))
    best = int(np.argmin(trace[loss_column].to_numpy()))
    trace["chosen"] = (trace["candidate"] == best).astype(int)
    trace = trace[["candidate", *COX_TUNED_PARAMETERS, loss_column, "chosen"]]
    chosen = trace.iloc[best]
    params = {name: int(chosen[name]) if name in ("max_depth", "n_estimators")
              else float(chosen[name]) for name in COX_TUNED_PARAMETERS}
    return params, trace


def tune_cox_model(spec: ModelSpec, X_train: pd.DataFrame, y_train: np.ndarray,
                   tuning: TuningSettings, xgboost_params: Mapping, seed: int,
                   skip_reason: str | None, loss_column: str = COX_LOSS_COLUMN
                   ) -> tuple[dict | None, dict]:
    """Nested tuning of a Cox booster ``spec`` on one training set: (params or None, tuning.tsv
    fields); None (the fixed parameters) when tuning is off or there are fewer events than
    inner folds, the note says which. Ablations search the first ``ablation_candidates``."""
    n_events = int(y_train["event"].sum())
    if not tuning.enabled or n_events < tuning.inner_folds:
        note = ("tuning disabled: fixed parameters" if not tuning.enabled else
                f"fixed parameters: {n_events} event(s) in the training set, fewer than the "
                f"{tuning.inner_folds} inner folds")
        return None, {**{name: xgboost_params.get(name) for name in COX_TUNED_PARAMETERS},
                      loss_column: np.nan, "n_candidates": 0, "note": note}
    if spec.name != "xgboost":
        tuning = tuning.with_candidates(min(tuning.ablation_candidates, tuning.n_candidates))
    params, trace = tune_cox_xgboost(X_train[spec.fit_columns], y_train, tuning, seed,
                                     lambda: fold_estimator(spec, skip_reason, None))
    chosen = trace[trace["chosen"] == 1].iloc[0]
    return params, {**params, loss_column: float(chosen[loss_column]),
                    "n_candidates": len(trace), "note": ""}


def survival_tuning_table(rows: list[dict], loss_column: str = COX_LOSS_COLUMN) -> pd.DataFrame:
    """``tuning.tsv`` of a survival endpoint from the rows of :func:`tune_cox_model`."""
    return tuning_table(rows, survival_tuning_columns(loss_column))
