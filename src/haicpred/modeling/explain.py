"""SHAP explanations of a fitted XGBoost model (shap.TreeExplainer: exact TreeSHAP).

For a sample, the SHAP values of its features plus the base value add up to the model's margin
(log-odds) for that sample. Global importance is the mean |SHAP| over the samples explained;
per patient, the top contributors are the features with the largest |SHAP|, signed (+ raises
the predicted probability of the positive class).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from haicpred.modeling.linear_start import linear_start_of

GLOBAL_COLUMNS = ["feature", "modality", "mean_abs_shap", "rank"]


def shap_values(model, X: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """SHAP values (log-odds scale), one column per feature, and the base value.

    A model boosted from a linear start (:mod:`haicpred.modeling.linear_start`): the start's
    exact additive contributions (coefficient x standardised value) plus TreeSHAP of the
    trees; the base value is what remains of the log-odds (the same for every patient: the
    start's intercept plus the trees' expected value)."""
    import shap  # imported here: it pulls in numba, which only the model step needs

    start = linear_start_of(model)
    if start is None:
        explainer = shap.TreeExplainer(model)
        values = np.asarray(explainer.shap_values(X), dtype=float)
        base = float(np.ravel(explainer.expected_value)[0])
        return pd.DataFrame(values, columns=list(X.columns), index=X.index), base
    import xgboost

    booster = model.get_booster()
    values = start.contributions(X)
    if booster.num_boosted_rounds():
        values = values + np.asarray(shap.TreeExplainer(model).shap_values(X), dtype=float)
    margin = booster.predict(xgboost.DMatrix(X, base_margin=start.margin(X)),
                             output_margin=True)
    base = float(np.mean(margin - values.sum(axis=1))) if len(X) else start.intercept_
    return pd.DataFrame(values, columns=list(X.columns), index=X.index), base


def global_importance(values: pd.DataFrame, modality: dict[str, str] | None = None
                      ) -> pd.DataFrame:
    """Mean |SHAP| per feature, largest first (ties by name)."""
    modality = modality or {}
    table = pd.DataFrame({
        "feature": list(values.columns),
        "modality": [modality.get(f, "") for f in values.columns],
        "mean_abs_shap": values.abs().mean(axis=0).to_numpy(dtype=float),
    })
    table = table.sort_values(["mean_abs_shap", "feature"], ascending=[False, True],
                              kind="mergesort").reset_index(drop=True)
    table["rank"] = np.arange(1, len(table) + 1)
    return table[GLOBAL_COLUMNS]


def top_contributors(values: pd.DataFrame, k: int = 3, missing: pd.DataFrame | None = None
                     ) -> list[str]:
    """Per row: the k features with the largest |SHAP| as "name (+0.123)", joined by "; ".

    ``missing``: True where the feature has no value for the patient (same shape and columns as
    ``values``); such a feature is written "name=missing (+0.545)": XGBoost sent the patient
    down the missing-value branch (and a linear start used the training median), and the
    contribution is that of the absence, not of a value.
    """
    names = np.asarray(values.columns)
    matrix = values.to_numpy(dtype=float)
    absent = (np.zeros(matrix.shape, dtype=bool) if missing is None
              else missing[list(values.columns)].to_numpy(dtype=bool))
    out = []
    for row, row_absent in zip(matrix, absent):
        # stable order: |SHAP| descending, then column order
        order = np.lexsort((np.arange(len(row)), -np.abs(row)))[:k]
        out.append("; ".join(
            f"{names[i]}{'=missing' if row_absent[i] else ''} ({row[i]:+.3f})"
            for i in order if row[i] != 0))
    return out


def fitted_model_importance(matrix: pd.DataFrame, labels: pd.DataFrame,
                            dictionary: pd.DataFrame, model: str,
                            settings: dict | None = None) -> tuple[pd.Series, pd.Series]:
    """One of the cross-validation's models (e.g. ``xgboost_radiomics_only``), built as the CV
    builds it and fitted on every labelled patient: (its features' shares of the mean
    |log-odds contribution|, highest first; its log-odds per labelled sample_id). For checking
    what a model learned (the simulator's planted factors), not for reporting performance."""
    from haicpred.modeling.estimators import normalised_gain
    from haicpred.modeling.inputs import prepare_data
    from haicpred.modeling.outcomes import model_endpoint
    from haicpred.modeling.settings import resolve_model_settings

    endpoint = model_endpoint(resolve_model_settings(settings or {}))
    data = prepare_data(matrix, labels, dictionary, endpoint, 5, False, None)
    spec = next(s for s in endpoint.model_specs(data)[0] if s.name == model)
    estimator = spec.factory()
    X = data.X_lab[spec.fit_columns]
    estimator.fit(X, data.y)
    share = pd.Series(normalised_gain(estimator, spec.columns, X), index=spec.columns)
    probability = np.clip(estimator.predict_proba(X)[:, 1], 1e-12, 1 - 1e-12)
    log_odds = pd.Series(np.log(probability / (1 - probability)),
                         index=matrix.loc[np.asarray(data.labelled), "sample_id"].to_numpy())
    return share.sort_values(ascending=False, kind="mergesort"), log_odds
