"""SHAP explanations: exact (additive, equal to XGBoost's own TreeSHAP) and deterministic."""

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from haicpred.modeling.explain import global_importance, shap_values, top_contributors


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 8)), columns=[f"f{i}" for i in range(8)])
    X.iloc[rng.random(X.shape) < 0.1] = np.nan  # XGBoost's own missing-value routing
    y = ((X["f0"].fillna(0) + X["f1"].fillna(0) * X["f2"].fillna(0)) > 0).astype(int)
    model = xgb.XGBClassifier(n_estimators=100, max_depth=2, learning_rate=0.1,
                              tree_method="hist", random_state=1, n_jobs=1).fit(X, y)
    return model, X


def test_shap_values_add_up_to_the_margin_and_match_xgboost(fitted):
    model, X = fitted
    values, base = shap_values(model, X)
    margin = model.predict(X, output_margin=True)
    np.testing.assert_allclose(values.sum(axis=1) + base, margin, atol=1e-5)
    native = model.get_booster().predict(xgb.DMatrix(X), pred_contribs=True)
    np.testing.assert_allclose(values.to_numpy(), native[:, :-1], atol=1e-6)
    assert base == pytest.approx(float(native[0, -1]), abs=1e-6)


def test_global_importance_finds_the_drivers(fitted):
    model, X = fitted
    values, _ = shap_values(model, X)
    table = global_importance(values, {"f0": "clinical"})
    assert set(table["feature"].head(3)) == {"f0", "f1", "f2"}
    assert table["rank"].tolist() == list(range(1, 9))
    assert table.loc[table["feature"] == "f0", "modality"].item() == "clinical"


def test_top_contributors_hand_example():
    values = pd.DataFrame({"a": [0.5, 0.0], "b": [-0.7, 0.0], "c": [0.1, 0.2], "d": [0.5, 0.0]})
    # ties (a, d at 0.5) keep column order; zero contributions are not listed
    assert top_contributors(values, 3) == ["b (-0.700); a (+0.500); d (+0.500)", "c (+0.200)"]


def test_a_feature_missing_for_the_patient_is_written_as_missing(fitted):
    """Issue 13 finding 4: a patient without a value (here f0, the strongest driver) must not
    be told "f0 (+0.5)" as if a value had been measured: "f0=missing (+0.5)"."""
    model, X = fitted
    lacking = X.copy()
    lacking.loc[:, "f0"] = np.nan  # nobody has f0: XGBoost routes everyone the missing way
    lacking.loc[0, "f1"] = np.nan
    values, _ = shap_values(model, lacking)
    texts = top_contributors(values, 8, missing=lacking.isna())
    contribution = values.loc[0, "f0"]
    assert contribution != 0  # the missing-value branch does contribute
    parts = texts[0].split("; ")
    assert f"f0=missing ({contribution:+.3f})" in parts
    assert any(p.startswith("f1=missing (") for p in parts)
    # present features keep the usual "name (+0.123)"
    present = [p for p in parts if not p.split(" (")[0].endswith("=missing")]
    assert present and all(p.split(" (")[0] in {"f2", "f3", "f4", "f5", "f6", "f7"}
                           for p in present)
    # without the mask the text is as before (values decide nothing about the format)
    assert "=missing" not in top_contributors(values, 8)[0]
    # a patient with a value for f1 is not flagged for it
    row = next(i for i in range(1, len(X)) if pd.notna(lacking.loc[i, "f1"])
               and values.loc[i, "f1"] != 0)
    assert "f1=missing" not in texts[row] and f"f1 ({values.loc[row, 'f1']:+.3f})" in texts[row]
