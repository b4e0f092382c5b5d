"""The survival endpoint's comparison rows on a simulated cohort (the simulator's OS from a
known hazard, its feature matrix built as the workflow builds it): the oracle row, the Cox
models refitted on published nomograms' factors and the published scores as single-covariate
Cox models, each checked against its definition."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from haicpred.io.errors import InputError
from haicpred.io.tables import read_tsv
from haicpred.modeling.cross_validation import cross_validate_models
from haicpred.modeling.inputs import prepare_data
from haicpred.modeling.outcomes import model_endpoint
from haicpred.modeling.settings import resolve_model_settings
from haicpred.modeling.survival_baselines import BASELINE_ALPHA, REFITTED_NOTE
from haicpred.modeling.survival_estimators import PenalisedCox, survival_array
from haicpred.modeling.survival_metrics import harrell_c
from haicpred.modeling.survival_score_baselines import DirectedScoreCox
from predict_helpers import build_cohort

HORIZONS = [12, 24, 36]
SURVIVAL = {"kind": "survival", "time_column": "os_months", "event_column": "os_event",
            "horizons_months": HORIZONS}
# a score that too few patients have: the cohort's BCLC stage kept for 15 patients only
SPARSE = "bclc_sparse"
SETTINGS = {"seed": 2, "cv_folds": 3, "cv_repeats": 2, "n_bootstrap": 100, "threads": 1,
            "xgboost": {"n_estimators": 40, "max_depth": 2, "learning_rate": 0.1},
            "tuning": {"enabled": False}, "endpoint": SURVIVAL,
            "score_baselines": {"bclc": {"feature": "bclc", "direction": -1},
                                "albi_grade": {"feature": "albi_grade", "direction": -1},
                                "sparse_bclc": {"feature": SPARSE, "direction": -1}}}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """220 simulated patients; CRP taken out of the matrix (a Mei 2021 factor left out), 10
    patients without follow-up."""
    built = build_cohort(tmp_path_factory.mktemp("survival_baselines") / "cohort", 220, 1, 11)
    matrix = built.matrix.drop(columns="crp")
    matrix[SPARSE] = matrix["bclc"].where(np.arange(len(matrix)) < 15)
    dictionary = built.dictionary[built.dictionary["feature"] != "crp"]
    dictionary = pd.concat([dictionary, pd.DataFrame(
        {"feature": [SPARSE], "modality": ["clinical"], "unit": ["0-4"],
         "description": ["BCLC of 15 patients"]})], ignore_index=True)
    labels = built.labels.copy()
    labels.loc[labels.index[-10:], ["os_months", "os_event"]] = np.nan
    truth = read_tsv(built.folder / "truth.tsv")
    return matrix, labels, dictionary, truth


@pytest.fixture(scope="module")
def results(cohort):
    matrix, labels, dictionary, truth = cohort
    return cross_validate_models(matrix, labels, dictionary, SETTINGS, truth=truth)


def _labelled(cohort):
    matrix, labels, _, truth = cohort
    frame = matrix.merge(labels[["sample_id", "os_months", "os_event"]], on="sample_id")
    frame = frame.merge(truth, on="sample_id")
    return frame[frame["os_months"].notna()].reset_index(drop=True)


def test_the_oracle_row_is_the_true_pre_treatment_log_hazard(cohort, results):
    frame = _labelled(cohort)
    metrics = results.metrics
    assert metrics["model"].iloc[-1] == "oracle"
    oracle = metrics.set_index("model").loc["oracle"]
    expected = harrell_c(frame["os_months"], frame["os_event"].astype(int),
                         frame["os_baseline_log_hazard"].astype(float))
    assert oracle["c_index"] == pytest.approx(expected, abs=1e-12)
    assert oracle["n"] == len(frame) == 210 and oracle["coverage"] == 1
    assert oracle["c_index_low"] < oracle["c_index"] < oracle["c_index_high"]
    assert np.isnan(oracle["ibs"]) and "os_baseline_log_hazard" in oracle["note"]
    # the models are below the truth (which the pre-treatment oracle is, up to chance)
    assert metrics.set_index("model").loc["xgboost", "c_index"] < oracle["c_index"] + 0.02
    assert results.metadata["oracle"]["column"] == "os_baseline_log_hazard"
    # no S(h) for the oracle: no calibration rows, no OOF rows
    assert "oracle" not in set(results.calibration["model"])
    assert "oracle" not in set(results.oof["model"])


def test_the_oracle_column_follows_the_time_column(cohort):
    matrix, labels, dictionary, truth = cohort
    for time_column, column in (("os_months", "os_baseline_log_hazard"),
                                ("pfs_months", "pfs_baseline_log_hazard")):
        endpoint = model_endpoint(resolve_model_settings(
            {"endpoint": {**SURVIVAL, "time_column": time_column,
                          "event_column": time_column.replace("months", "event")}}))
        assert endpoint.truth_column == column
        data = prepare_data(matrix, labels, dictionary, endpoint, 3, truth=truth)
        by_id = truth.set_index("sample_id")[column].astype(float)
        assert np.array_equal(data.truth_p.to_numpy(), by_id[matrix["sample_id"]].to_numpy())
    # a truth.tsv without the column (simulated before the survival endpoint): refused
    with pytest.raises(InputError, match="truth.tsv: header: needs columns sample_id, "
                                         "os_baseline_log_hazard"):
        prepare_data(matrix, labels, dictionary, endpoint_of(SURVIVAL), 3,
                     truth=truth[["sample_id", "response_probability"]])
    # the binary endpoints' oracle is unchanged
    assert endpoint_of(None).truth_column == "response_probability"


def endpoint_of(endpoint_settings):
    return model_endpoint(resolve_model_settings({"endpoint": endpoint_settings}))


def test_cox_models_are_refitted_on_each_nomograms_factors(cohort, results):
    metrics = results.metrics.set_index("model")
    factors = results.metadata["baseline_factors"]["factor_models"]
    for name, count in (("cox_baseline", 6), ("cox_mei2021", 5), ("cox_yao_haicn", 6)):
        assert metrics.loc[name, "n_features"] == count
        assert len(factors[name]["available"]) == count
        assert REFITTED_NOTE in factors[name]["description"]
        assert "not public" in factors[name]["description"]
        assert metrics.loc[name, "note"].startswith(factors[name]["description"])
        assert metrics.loc[name, "c_index_low"] < metrics.loc[name, "c_index_high"]
    assert factors["cox_mei2021"]["left_out"] == {"crp": "not in the feature matrix"}
    assert "cox_mei2021: factor(s) left out: crp (not in the feature matrix)" in \
        results.metadata["skipped_models"]
    assert results.metadata["settings"]["survival_baselines"]["cox_mei2021"][2] == "crp"
    # by definition: repeat 1, fold 2 of cox_yao_haicn is PenalisedCox on its factors, fitted
    # on that fold's training patients
    frame = _labelled(cohort)
    oof = results.oof[(results.oof["model"] == "cox_yao_haicn") & (results.oof["repeat"] == 1)]
    fold = oof.set_index("sample_id").loc[frame["sample_id"], "fold"].to_numpy()
    X = frame[factors["cox_yao_haicn"]["available"]].astype(float)
    y = survival_array(frame["os_months"].astype(float), frame["os_event"].astype(float) == 1)
    fitted = PenalisedCox(HORIZONS, alphas=(BASELINE_ALPHA,)).fit(X[fold != 2], y[fold != 2])
    expected = fitted.predict(X[fold == 2])
    held_out = oof.set_index("sample_id").loc[frame["sample_id"][fold == 2]]
    assert np.allclose(held_out[["risk", "surv_12m", "surv_24m", "surv_36m"]].to_numpy(),
                       expected, rtol=1e-9, atol=1e-12)


def test_a_published_score_is_judged_on_its_own_values(cohort, results):
    frame = _labelled(cohort)
    metrics = results.metrics.set_index("model")
    xgboost = results.oof[results.oof["model"] == "xgboost"].groupby("sample_id")["risk"].mean()
    for name in ("bclc", "albi_grade"):
        has = frame[name].notna()
        time, event = frame["os_months"][has], frame["os_event"][has].astype(int)
        row = metrics.loc[name]
        # direction -1 (higher = worse): the risk is the score itself
        assert row["c_index"] == pytest.approx(harrell_c(time, event, frame[name][has]),
                                               abs=1e-12)
        assert row["n"] == has.sum() and row["coverage"] == pytest.approx(has.mean())
        assert row["n_events"] == event.sum() and row["n_features"] == 1
        paired = harrell_c(time, event, xgboost[frame["sample_id"][has]].to_numpy())
        assert row["c_index_diff_vs_xgboost"] == pytest.approx(row["c_index"] - paired,
                                                               abs=1e-12)
        assert row["c_index_diff_low"] < row["c_index_diff_vs_xgboost"] < \
            row["c_index_diff_high"]
        rows = results.oof[results.oof["model"] == name]
        assert set(rows["sample_id"]) == set(frame["sample_id"][has])
        assert len(rows) == has.sum() * SETTINGS["cv_repeats"]
    # S(h) of a held-out fold: the single-covariate Cox fitted on the fold's training patients
    has = frame["bclc"].notna()
    part = frame[has].reset_index(drop=True)
    rows = results.oof[(results.oof["model"] == "bclc") & (results.oof["repeat"] == 2)]
    rows = rows.set_index("sample_id").loc[part["sample_id"]]
    fold = rows["fold"].to_numpy()
    y = survival_array(part["os_months"].astype(float), part["os_event"].astype(float) == 1)
    fitted = DirectedScoreCox(HORIZONS, -1).fit(part["bclc"][fold != 1].to_numpy(), y[fold != 1])
    expected = fitted.predict(part["bclc"][fold == 1].to_numpy())[:, 1:]
    assert np.allclose(rows[fold == 1][["surv_12m", "surv_24m", "surv_36m"]].to_numpy(),
                       expected, rtol=1e-9, atol=1e-12)
    assert np.array_equal(rows["risk"].to_numpy(), part["bclc"].to_numpy())
    assert {"bclc", "albi_grade"} <= set(results.calibration["model"])


def test_a_score_too_few_patients_have_is_skipped_with_the_reason(results):
    assert "sparse_bclc" not in set(results.metrics["model"])
    reason = ("15 labelled patient(s) have bclc_sparse, {events} with the event: fewer than 20 "
              "patients or fewer than 10 events")
    entry = results.metadata["baseline_factors"]["scores"]["sparse_bclc"]
    assert entry["status"] == "skipped" and entry["n"] == 15
    assert f"sparse_bclc: {reason.format(events=entry['n_events'])}" in \
        results.metadata["skipped_models"]
    assert results.metadata["models"][-2:] == ["albi_grade", "bclc"]


def test_a_score_with_one_value_or_too_few_events_is_skipped():
    from haicpred.modeling.settings import EvaluationSettings, ScoreBaseline
    from haicpred.modeling.survival_score_baselines import evaluate_survival_scores

    rng = np.random.default_rng(4)
    n = 60
    time = rng.uniform(1, 40, n)
    event = np.zeros(n, bool)
    event[:30] = True
    X = pd.DataFrame({"flat": np.ones(n),  # 9 patients have "few", all with the event
                      "few": np.r_[rng.integers(1, 4, 9), np.full(n - 9, np.nan)]})
    y = survival_array(time, event)
    evaluation = evaluate_survival_scores(
        [ScoreBaseline("flat", "flat", -1), ScoreBaseline("few", "few", -1),
         ScoreBaseline("absent", "absent", 1)],
        X, y, np.array([f"P{i}" for i in range(n)]), np.tile(np.arange(n) % 3 + 1, (1, 1)),
        rng.normal(size=n), np.full((n, 3), 0.5), HORIZONS, EvaluationSettings(50, 0.5, 1),
        ["surv_12m", "surv_24m", "surv_36m"])
    assert evaluation.metrics.empty and evaluation.oof.empty
    assert evaluation.skipped == [
        "flat: flat has the same value for all 60 labelled patients who have it",
        "few: 9 labelled patient(s) have few, 9 with the event: fewer than 20 patients or "
        "fewer than 10 events",
        "absent: feature absent not in the matrix"]


def test_a_score_pointing_the_wrong_way_in_a_fold_gets_no_slope():
    time = np.arange(1.0, 41.0)
    event = np.ones(40, bool)
    score = np.arange(40.0)  # higher score = later event: against direction -1
    model = DirectedScoreCox(HORIZONS, -1).fit(score, survival_array(time, event))
    assert model.coef_ == 0
    assert np.ptp(model.predict(score)[:, 1]) == 0  # everybody the baseline survival


def test_an_unknown_xgboost_key_is_refused_by_name():
    with pytest.raises(InputError, match=r"config: model.xgboost max_leaf: is not a parameter "
                                         r"of the survival endpoint's XGBoost Cox model"):
        model_endpoint(resolve_model_settings({"endpoint": SURVIVAL,
                                               "xgboost": {"max_leaf": 4}}))
    # the binary class weight is ignored, not refused
    model_endpoint(resolve_model_settings({"endpoint": SURVIVAL,
                                           "xgboost": {"scale_pos_weight": 2.0}}))


def test_survival_baseline_settings():
    binary = resolve_model_settings({})
    assert "survival_baselines" not in binary.as_dict()  # binary metadata as before
    survival = resolve_model_settings({"endpoint": SURVIVAL})
    assert set(survival.as_dict()["survival_baselines"]) == {"cox_mei2021", "cox_yao_haicn"}
    for bad in ({"cox_baseline": ["crp"]}, {"xgboost_cox": ["crp"]}, {"oracle": ["crp"]},
                {"albi_grade": ["crp"]}, {"cox_x": []}, {"cox_x": "crp"}):
        with pytest.raises(ValueError, match="survival_baselines"):
            resolve_model_settings({"survival_baselines": bad})
