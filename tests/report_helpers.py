"""A small cohort for the report tests (two batches, one named with HTML to escape, a
modality missing in one batch), shared with the endpoint tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

EVIL = '<script>alert("x")</script>'


def make_cohort(n: int = 150, seed: int = 4):
    rng = np.random.default_rng(seed)
    ids = [f"P{i:03d}" for i in range(n)]
    batch = np.where(np.arange(n) % 2 == 0, "siteA", EVIL)
    matrix = pd.DataFrame({"sample_id": ids, "batch": batch})
    matrix["tumor_size_cm"] = rng.gamma(3.0, 2.5, n)
    matrix["albi_score"] = rng.normal(-2.4, 0.5, n)
    matrix["afp_ge_400"] = rng.integers(0, 2, n).astype(float)
    matrix["rad_original_firstorder_Mean"] = rng.normal(size=n)
    matrix["FGFR4_mutated"] = rng.integers(0, 2, n).astype(float)
    matrix.loc[batch == EVIL, "FGFR4_mutated"] = np.nan  # no exomes in one batch
    matrix["rs8099917_TT"] = rng.integers(0, 2, n).astype(float)
    lin = -0.3 * (matrix["tumor_size_cm"] - 7.5) + 1.2 * matrix["rad_original_firstorder_Mean"]
    prob = 1 / (1 + np.exp(-lin))
    y = (rng.random(n) < prob).astype(float)
    y[:10] = np.nan
    labels = pd.DataFrame(
        {
            "sample_id": ids,
            "batch": batch,
            "best_response": np.where(np.isnan(y), None, np.where(y == 1, "PR", "PD")),
            "objective_response": y,
        }
    )
    modality = {
        "tumor_size_cm": "clinical",
        "albi_score": "derived",
        "afp_ge_400": "derived",
        "rad_original_firstorder_Mean": "radiomics",
        "FGFR4_mutated": "mutation",
        "rs8099917_TT": "genotype",
    }
    dictionary = pd.DataFrame(
        {"feature": list(modality), "modality": list(modality.values()), "unit": "",
         "description": ""}
    )
    truth = pd.DataFrame({"sample_id": ids, "response_probability": prob})
    planted = pd.DataFrame(
        {
            "feature": ["tumor_size_cm", "rad_original_firstorder_Mean", "hidden_thing"],
            "effect_log_odds": [-0.3, 1.2, 0.5],
            "note": ["per cm", "per SD", EVIL],
        }
    )
    return matrix, labels, dictionary, truth, planted
