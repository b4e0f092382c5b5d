"""A feature empty for every patient (a panel gene the genome build cannot assess: HNRNPCL4 on
GRCh37) changes no model: XGBoost never splits on it, and the median-imputing baselines turn it
into a constant that scaling makes 0 (coefficient 0), so nothing is learned from an imputed 0."""

from __future__ import annotations

import numpy as np
import pandas as pd

from haicpred.modeling.estimators import logistic_all_features, xgboost_classifier
from haicpred.modeling.scoring import feature_ranges, sample_warnings


def data(n: int = 120):
    rng = np.random.default_rng(8)
    X = pd.DataFrame({"age": rng.normal(60, 10, n), "afp": rng.lognormal(3, 1, n),
                      "PIK3CD_mutated": rng.integers(0, 2, n).astype(float)})
    X.loc[rng.random(n) < 0.2, "afp"] = np.nan
    y = (rng.random(n) < 1 / (1 + np.exp(-(X["age"] - 60) / 10))).astype(int)
    with_empty = X.assign(HNRNPCL4_mutated=np.nan, HNRNPCL4_n_mutations=np.nan)
    return X, with_empty, y


def test_logistic_baseline_learns_nothing_from_an_empty_column():
    X, with_empty, y = data()
    plain = logistic_all_features(seed=3).fit(X, y)
    padded = logistic_all_features(seed=3).fit(with_empty, y)
    coef = padded.named_steps["model"].coef_.ravel()
    assert coef[-2:].tolist() == [0.0, 0.0]
    np.testing.assert_allclose(coef[:-2], plain.named_steps["model"].coef_.ravel(), rtol=1e-6)
    np.testing.assert_allclose(padded.predict_proba(with_empty)[:, 1],
                               plain.predict_proba(X)[:, 1], rtol=1e-6)


def test_xgboost_never_splits_on_an_empty_column():
    X, with_empty, y = data()
    params = {"n_estimators": 40, "max_depth": 3, "learning_rate": 0.1}
    plain = xgboost_classifier(params, seed=1, threads=1).fit(X, y)
    padded = xgboost_classifier(params, seed=1, threads=1).fit(with_empty, y)
    used = padded.get_booster().get_score(importance_type="weight")
    assert "HNRNPCL4_mutated" not in used and "HNRNPCL4_n_mutations" not in used
    np.testing.assert_array_equal(padded.predict_proba(with_empty), plain.predict_proba(X))


def test_training_ranges_and_warnings_of_an_empty_column():
    """The frozen model's metadata records no range for it, and scoring warns of nothing."""
    _, with_empty, _ = data(20)
    ranges = feature_ranges(with_empty)
    assert ranges["HNRNPCL4_mutated"] == {"min": None, "max": None, "p01": None, "p99": None,
                                          "fraction_missing": 1.0, "n_observed": 0}
    modality = {c: "mutation" for c in with_empty.columns}
    complete = with_empty.fillna({"afp": with_empty["afp"].median()})
    assert set(sample_warnings(complete, modality, ranges)) == {""}
