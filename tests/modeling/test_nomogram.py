"""The nomogram of the published-factor Cox model (haicpred.modeling.nomogram): points back to
the model's linear predictor and S(h), by construction and on the final-model step's own file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from haicpred.modeling.final_model import NOMOGRAM_FILE
from haicpred.modeling.nomogram import (NOMOGRAM_CAPTION, fit_nomogram,
                                        linear_predictor_of_points, survival_of_points,
                                        total_points)
from haicpred.modeling.survival_baselines import BASELINE_ALPHA
from haicpred.modeling.survival_estimators import PenalisedCox, survival_array
from survival_helpers import HORIZONS, weibull_cohort


@pytest.fixture(scope="module")
def fitted():
    X, y, _ = weibull_cohort(400, 11)
    model, nomogram = fit_nomogram(X, y, ["size", "vp", "noise_0"], HORIZONS, BASELINE_ALPHA,
                                   units={"size": "cm"})
    return X, y, model, nomogram


def test_total_points_give_back_the_linear_predictor_and_survival_of_each_patient(fitted):
    X, y, model, nomogram = fitted
    risk = model.predict_risk(X[["size", "vp", "noise_0"]])
    survival = model.predict(X[["size", "vp", "noise_0"]])[:, 1:]
    assert np.isnan(X["size"]).any()  # missing values count as the training median
    for i in range(len(X)):
        points = total_points(nomogram, X.iloc[i].to_dict())
        assert linear_predictor_of_points(nomogram, points) == pytest.approx(risk[i], abs=1e-9)
        assert survival_of_points(nomogram, points) == pytest.approx(list(survival[i]),
                                                                     abs=1e-12)


def test_the_largest_effect_spans_0_to_100_points(fitted):
    X, _, _, nomogram = fitted
    factors = {f["name"]: f for f in nomogram["factors"]}
    assert nomogram["reference_factor"] == "size"  # the planted effect over 0-20+ cm
    assert factors["size"]["max_points"] == pytest.approx(100.0)
    assert all(0 < f["max_points"] <= 100.0 + 1e-9 for f in factors.values())
    # the noise factor barely moves the linear predictor
    assert factors["noise_0"]["max_points"] < factors["vp"]["max_points"]
    # vascular invasion per level; size at round values inside its training range, in cm
    assert factors["vp"]["kind"] == "levels"
    assert [p["value"] for p in factors["vp"]["points"]] == [0.0, 1.0]
    assert factors["vp"]["points"][0]["points"] == 0.0  # the lower-risk level
    size = factors["size"]
    low, high = size["training_range"]
    assert size["kind"] == "continuous" and size["unit"] == "cm"
    assert low == np.nanmin(X["size"]) and high == np.nanmax(X["size"])
    ticks = [p["value"] for p in size["points"]]
    assert 3 <= len(ticks) <= 8 and all(low <= t <= high for t in ticks)
    assert all(float(t).is_integer() or (2 * t).is_integer() for t in ticks)
    # points rise linearly with the value, by the coefficient per unit (the scaler undone)
    slope = np.diff([p["points"] for p in size["points"]]) / np.diff(ticks)
    assert slope == pytest.approx(size["coefficient_per_unit"]
                                  * nomogram["points_per_unit_linear_predictor"])


def test_survival_by_total_points_is_the_model_curve(fitted):
    *_, nomogram = fitted
    grid = nomogram["survival_by_total_points"]
    assert grid["total_points"][0] == 0.0
    assert grid["total_points"][-1] == pytest.approx(nomogram["max_total_points"])
    for points, survival in zip(grid["total_points"], grid["survival"]):
        assert survival == pytest.approx(survival_of_points(nomogram, points), abs=1e-12)
    survival = np.array(grid["survival"])
    assert (np.diff(survival, axis=0) <= 0).all() and (np.diff(survival, axis=1) <= 0).all()


def test_the_same_data_give_the_same_json():
    X, y, _ = weibull_cohort(200, 3)
    texts = [json.dumps(fit_nomogram(X, y, ["size", "vp"], HORIZONS, BASELINE_ALPHA)[1],
                        sort_keys=True) for _ in range(2)]
    assert texts[0] == texts[1]


def test_the_final_model_step_writes_the_nomogram_of_the_cox_baseline(trained_survival):
    """nomogram.json of the final-model folder: the total points of every labelled patient give
    the linear predictor and S(h) of the cox_baseline model (PenalisedCox on the published
    factors, the baseline's alpha) refitted here on the same patients."""
    nomogram = json.loads((trained_survival.model_dir / NOMOGRAM_FILE).read_text())
    assert nomogram["caption"] == NOMOGRAM_CAPTION
    metadata = trained_survival.final.metadata
    factors = [f["name"] for f in nomogram["factors"]]
    assert metadata["nomogram"]["file"] == NOMOGRAM_FILE
    assert factors == metadata["nomogram"]["factors"] == list(
        metadata["settings"]["baseline_features"])
    train = trained_survival.train
    known = train.labels["os_months"].notna().to_numpy()
    X = train.matrix.loc[known, factors].astype(float).reset_index(drop=True)
    y = survival_array(train.labels.loc[known, "os_months"].astype(float),
                       train.labels.loc[known, "os_event"].astype(float) == 1)
    model = PenalisedCox(tuple(float(h) for h in HORIZONS), alphas=(BASELINE_ALPHA,)).fit(X, y)
    risk, survival = model.predict_risk(X), model.predict(X)[:, 1:]
    assert nomogram["n"] == len(X) and nomogram["n_events"] == int(y["event"].sum())
    for i in range(len(X)):
        points = total_points(nomogram, X.iloc[i].to_dict())
        assert linear_predictor_of_points(nomogram, points) == pytest.approx(risk[i], abs=1e-9)
        assert survival_of_points(nomogram, points) == pytest.approx(list(survival[i]),
                                                                     abs=1e-12)


def test_without_an_informative_published_factor_the_file_says_why(trained_survival, tmp_path):
    from haicpred.modeling.final_model import fit_final_model, write_final_model
    from predict_helpers import FAST_SURVIVAL_FINAL

    train = trained_survival.train
    settings = {**FAST_SURVIVAL_FINAL, "baseline_features": ["not_a_feature"]}
    final = fit_final_model(train.matrix, train.labels, train.dictionary, settings)
    write_final_model(final, tmp_path)
    nomogram = json.loads((tmp_path / NOMOGRAM_FILE).read_text())
    assert nomogram["available"] is False
    assert nomogram["reason"] == ("none of the baseline_features carries information: "
                                  "not_a_feature (not in the feature matrix)")
    assert final.metadata["nomogram"]["available"] is False
