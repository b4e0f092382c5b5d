"""The survival endpoint through the unchanged cross-validation engine, with real XGBoost and
scikit-survival, on a cohort whose OS follows a known proportional-hazards model."""

from __future__ import annotations

import numpy as np
import pytest

from haicpred.modeling.cross_validation import cross_validate_models
from haicpred.modeling.permutation import permutation_check
from haicpred.modeling.survival_endpoint import SURVIVAL_LABEL_COLUMN, survival_oof_columns
from haicpred.modeling.survival_metrics import harrell_c
from haicpred.modeling.survival_tuning import SURVIVAL_TUNING_COLUMNS
from model_helpers import SETTINGS, make_cohort

HORIZONS = [6, 12, 24]
SURVIVAL = {"kind": "survival", "time_column": "os_months", "event_column": "os_event",
            "horizons_months": HORIZONS}


def planted_os(seed: int = 7):
    """make_cohort's matrix with OS from a Weibull PH on tumour size, metastasis and the
    radiomic signal (about a third censored); unlabelled patients have no follow-up."""
    matrix, labels, dictionary, _ = make_cohort(seed)
    rng = np.random.default_rng(seed)
    truth = (0.2 * (matrix["tumor_size_cm"] - 7.5) + 0.9 * matrix["extrahepatic_metastasis"]
             - 0.6 * matrix["rad_signal"].fillna(0)).to_numpy()
    death = 14.0 * (rng.exponential(size=len(matrix)) / np.exp(truth)) ** (1 / 1.2)
    censor = rng.uniform(4.0, 48.0, len(matrix))
    no_follow_up = labels["objective_response"].isna().to_numpy()
    time = np.round(np.minimum(death, censor), 1).clip(0.1)
    labels = labels.assign(
        os_months=np.where(no_follow_up, np.nan, time),
        os_event=np.where(no_follow_up, np.nan, (death <= censor).astype(float)))
    return matrix, labels, dictionary, truth, no_follow_up


@pytest.fixture(scope="module")
def survival_results():
    matrix, labels, dictionary, truth, no_follow_up = planted_os()
    settings = {**SETTINGS, "endpoint": SURVIVAL, "n_bootstrap": 100}
    return (matrix, labels, dictionary, truth, no_follow_up, settings,
            cross_validate_models(matrix, labels, dictionary, settings))


def test_xgboost_cox_finds_the_planted_hazard_next_to_its_baselines(survival_results):
    matrix, labels, dictionary, truth, no_follow_up, settings, results = survival_results
    metrics = results.metrics.set_index("model")
    assert {"xgboost", "cox_all_features", "cox_baseline"} <= set(metrics.index)
    assert "xgboost_radiomics_only" in metrics.index  # the per-modality ablations
    n = int((~no_follow_up).sum())
    fitted = metrics[metrics["coverage"] == 1]  # a published score: its own patients
    assert (fitted["n"] == n).all() and (metrics["n_unlabelled"] == no_follow_up.sum()).all()
    # the oracle C: the true linear predictor on the same patients
    known = ~no_follow_up
    oracle = harrell_c(labels["os_months"][known], labels["os_event"][known].astype(int),
                       truth[known])
    xgb = metrics.loc["xgboost"]
    assert xgb["c_index"] > 0.6 and xgb["c_index"] > oracle - 0.06
    assert xgb["c_index_low"] < xgb["c_index"] < xgb["c_index_high"]
    # the penalised Cox on every feature is the right model here: near the oracle too
    assert metrics.loc["cox_all_features", "c_index"] > oracle - 0.04
    for h in HORIZONS:
        assert 0.5 < xgb[f"auc_{h}m"] <= 1
    assert 0 < xgb["ibs"] < 0.25
    # calibration rows at every horizon; OOF: risk and S(t) per horizon, 1 row per repeat
    assert set(results.calibration["horizon"]) == set(float(h) for h in HORIZONS)
    assert list(results.oof.columns) == survival_oof_columns(HORIZONS)
    rows = results.oof[results.oof["model"] == "xgboost"]
    assert len(rows) == n * settings["cv_repeats"]
    surv = rows[[f"surv_{h}m" for h in HORIZONS]].to_numpy()
    assert (np.diff(surv, axis=1) <= 0).all() and ((surv > 0) & (surv < 1)).all()
    # the label the engine carried: the time, negative when censored
    assert SURVIVAL_LABEL_COLUMN not in labels.columns
    assert results.metadata["label"]["n_events"] == int(labels["os_event"].sum())


def test_the_cox_boosters_are_tuned_in_every_training_fold(survival_results):
    *_, settings, results = survival_results
    tuning = results.tuning
    assert list(tuning.columns) == SURVIVAL_TUNING_COLUMNS
    cv = tuning[tuning["scheme"] == "cv"]
    folds = settings["cv_folds"] * settings["cv_repeats"]
    assert len(cv[cv["model"] == "xgboost"]) == folds
    assert (cv.loc[cv["model"] == "xgboost", "n_candidates"] == 3).all()
    assert cv["inner_cox_nloglik"].notna().all()
    # leave-one-batch-out: Harrell C with a CI per held-out batch
    lobo = results.lobo_metrics
    assert set(lobo["model"]) == {"xgboost", "cox_baseline"}
    assert lobo["c_index"].between(0, 1).all()


def test_shuffling_time_and_event_together_removes_the_signal():
    """Issue 15's acceptance: over 20 permutations of (time, event) pairs across patients the
    mean out-of-fold C is 0.50 +/- 0.03, on a cohort whose unshuffled C is well above it."""
    matrix, labels, dictionary, *_ = planted_os(8)
    settings = {**SETTINGS, "endpoint": SURVIVAL, "tuning": {"enabled": False},
                "cv_repeats": 1}
    table = permutation_check(matrix, labels, dictionary, settings, n_permutations=20)
    assert list(table.columns) == ["permutation", "c_index"]
    assert table["permutation"].tolist() == list(range(1, 21))
    assert table["c_index"].nunique() == 20  # 20 different shufflings
    assert abs(table["c_index"].mean() - 0.5) <= 0.03
    # the same check unshuffled finds the planted hazard: the statistic can fail
    unshuffled = cross_validate_models(matrix, labels, dictionary, settings)
    assert unshuffled.metrics.set_index("model").loc["xgboost", "c_index"] > 0.6
