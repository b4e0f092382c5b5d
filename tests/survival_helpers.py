"""Simulated proportional-hazards data with a known linear predictor, shared by the survival
tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from haicpred.modeling.survival_estimators import survival_array

HORIZONS = (12.0, 24.0, 36.0)


def weibull_cohort(n: int, seed: int):
    """Weibull PH survival on two informative features (one with missing values) and three
    noise features; random censoring (about a third); times rounded to 0.1 month (ties)."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"size": rng.gamma(3.0, 2.5, n), "vp": rng.integers(0, 2, n).astype(float),
                      **{f"noise_{j}": rng.normal(size=n) for j in range(3)}})
    truth = 0.15 * (X["size"].to_numpy() - 7.5) + 0.8 * X["vp"].to_numpy()
    death = 20.0 * (rng.exponential(size=n) / np.exp(truth)) ** (1 / 1.3)
    censor = rng.uniform(6.0, 60.0, n)
    time = np.maximum(np.round(np.minimum(death, censor), 1), 0.1)
    event = death <= censor
    X.loc[rng.random(n) < 0.1, "size"] = np.nan
    return X, survival_array(time, event), truth
