"""A small synthetic cohort with a planted signal, and fast model settings, shared by the
modeling tests (real XGBoost on it, no mocks)."""

from __future__ import annotations

import numpy as np
import pandas as pd

N = 200
N_UNLABELLED = 16
SETTINGS = {
    "seed": 3,
    "cv_folds": 4,
    "cv_repeats": 2,
    "n_bootstrap": 200,
    "threads": 1,
    "xgboost": {"n_estimators": 40, "max_depth": 2, "learning_rate": 0.1},
    "score_baselines": {"albi_score": {"feature": "albi_score", "direction": -1}},
    # nested tuning on, kept small for test time
    "tuning": {"n_candidates": 3, "inner_folds": 2, "max_estimators": 60,
               "early_stopping_rounds": 10},
}
def make_cohort(seed: int = 7, noise_labels: bool = False):
    """Matrix, labels, dictionary and truth with a planted signal (or pure-noise labels)."""
    rng = np.random.default_rng(seed)
    ids = [f"HCC{i:04d}" for i in range(N)]
    matrix = pd.DataFrame({"sample_id": ids, "batch": np.where(np.arange(N) % 3 == 0, "B2", "B1")})
    matrix["tumor_size_cm"] = np.round(rng.gamma(3.0, 2.5, N), 1)
    matrix["extrahepatic_metastasis"] = rng.integers(0, 2, N).astype(float)
    matrix["albi_score"] = rng.normal(-2.4, 0.5, N)
    matrix["rad_signal"] = rng.normal(size=N)
    for j in range(8):
        matrix[f"rad_noise_{j}"] = rng.normal(size=N)
    matrix["PIK3CD_mutated"] = rng.integers(0, 2, N).astype(float)
    # missing values, as in real data (never zero-filled)
    for column in ("albi_score", "rad_signal", "PIK3CD_mutated"):
        matrix.loc[rng.random(N) < 0.15, column] = np.nan
    lin = (
        -0.35 * (matrix["tumor_size_cm"] - 7.5)
        - 1.6 * matrix["extrahepatic_metastasis"]
        + 1.4 * matrix["rad_signal"].fillna(0)
        - 1.2 * (matrix["albi_score"].fillna(-2.4) + 2.4)
        + 0.8
    )
    prob = 1 / (1 + np.exp(-lin))
    if noise_labels:
        prob = pd.Series(np.full(N, 0.45))
    y = (rng.random(N) < prob).astype(float)
    unlabelled = rng.choice(N, N_UNLABELLED, replace=False)
    y[unlabelled] = np.nan
    response = np.where(y == 1, "PR", "SD").astype(object)
    response[unlabelled] = np.nan
    labels = pd.DataFrame(
        {
            "sample_id": ids,
            "batch": matrix["batch"],
            "best_response": response,
            "objective_response": y,
            "os_months": rng.uniform(1, 30, N),
            "os_event": rng.integers(0, 2, N),
            "pfs_months": rng.uniform(1, 20, N),
            "pfs_event": rng.integers(0, 2, N),
        }
    )
    features = [c for c in matrix.columns if c not in ("sample_id", "batch")]
    modality = {
        "tumor_size_cm": "clinical",
        "extrahepatic_metastasis": "clinical",
        "albi_score": "derived",
        "PIK3CD_mutated": "mutation",
    }
    dictionary = pd.DataFrame(
        {
            "feature": features,
            "modality": [modality.get(f, "radiomics") for f in features],
            "unit": "",
            "description": "synthetic",
        }
    )
    truth = pd.DataFrame({"sample_id": ids, "response_probability": prob})
    return matrix, labels, dictionary, truth
