"""Configurable endpoints: objective response, status at a survival horizon, any binary column."""

import math
from pathlib import Path

import pandas as pd
import pytest

from haicpred.clinical.clinical_table import labels as clinical_labels
from haicpred.clinical.clinical_table import read_clinical
from haicpred.features.endpoints import endpoint_labels, endpoint_problems, resolve_endpoint
from haicpred.io.errors import InputError

LABELS = pd.DataFrame({
    "sample_id": ["S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8"],
    "best_response": ["CR", "PR", "SD", "PD", pd.NA, "PR", "SD", "CR"],
    #                 event   event  alive  event   cens.   cens.  miss  alive
    #                 at 12   at 3   to 20  at 30   at 6    at 12  time  to 12.0
    "os_months": ["12", "3", "20", "30", "6", "12", "", "12.0"],
    "os_event": ["1", "1", "0", "1", "0", "0", "1", "0"],
    "outcome_grade3_toxicity": ["0", "1", "", "0", "1", "0", "0", "1"],
})


def _values(series):
    return [None if math.isnan(v) else int(v) for v in series]


def test_objective_response_is_the_default():
    endpoint = endpoint_labels(LABELS, None)
    assert _values(endpoint.label) == [1, 1, 0, 0, None, 1, 0, 1]
    assert endpoint.favourable and endpoint.n_missing == 1
    assert endpoint.summary()["n_labelled"] == 7 and endpoint.summary()["n_positive"] == 4


def test_survival_horizon_excludes_and_counts_censoring_before_the_horizon():
    endpoint = endpoint_labels(LABELS, {"kind": "survival_horizon", "horizon_months": 12})
    # S1 event at exactly 12 -> 1; S2 event at 3 -> 1; S3 alive at 20 -> 0; S4 event at 30
    # (after the horizon) -> 0; S5 censored at 6 -> excluded; S6 censored at 12 (followed to
    # the horizon) -> 0; S7 no time -> missing; S8 censored at 12.0 -> 0
    assert _values(endpoint.label) == [1, 1, 0, 0, None, 0, None, 0]
    assert endpoint.n_censored_before_horizon == 1 and endpoint.n_missing == 1
    assert not endpoint.favourable
    assert endpoint.name == "os_event_by_12_months"
    assert "censored before 12 months" in endpoint.definition


def test_binary_column_endpoint_and_its_direction():
    settings = {"kind": "binary_column", "column": "outcome_grade3_toxicity",
                "favourable": False}
    endpoint = endpoint_labels(LABELS, settings)
    assert _values(endpoint.label) == [0, 1, None, 0, 1, 0, 0, 1]
    assert not endpoint.favourable


def test_unknown_kind_and_non_binary_column_are_refused():
    with pytest.raises(ValueError, match="not one of"):
        resolve_endpoint({"kind": "pfs"})
    bad = LABELS.assign(outcome_grade3_toxicity=["0", "2", "", "0", "1", "0", "0", "1"])
    with pytest.raises(ValueError, match="other than 0/1"):
        endpoint_labels(bad, {"kind": "binary_column", "column": "outcome_grade3_toxicity"})


def test_endpoint_problems_name_the_missing_column():
    problems = endpoint_problems({"kind": "survival_horizon", "time_column": "pfs_months",
                                  "event_column": "pfs_event"}, ["sample_id", "os_months"])
    assert [p.where for p in problems] == ["endpoint (survival_horizon)"] * 2
    assert "pfs_months" in problems[0].message and "pfs_event" in problems[1].message
    assert endpoint_problems(None, ["sample_id", "best_response"]) == []


def test_clinical_outcome_columns_reach_the_labels_and_are_validated(tmp_path):
    path = tmp_path / "clinical.tsv"
    path.write_text("sample_id\tbest_response\toutcome_grade3_toxicity\n"
                    "P1\tPR\t1\nP2\tSD\t0\n")
    table = clinical_labels(read_clinical(path))
    assert table["outcome_grade3_toxicity"].tolist() == ["1", "0"]
    path.write_text("sample_id\toutcome_grade3_toxicity\nP1\tyes\n")
    with pytest.raises(InputError, match="row 1, column outcome_grade3_toxicity"):
        read_clinical(path)


def test_models_train_on_the_configured_endpoint():
    """Death by 12 months, driven by tumour size: the model learns it, the metadata says what
    was predicted and how many were excluded, the published scores point the other way, and
    the simulation's response-probability oracle is not scored against it."""
    import numpy as np

    from haicpred.modeling.cross_validation import cross_validate_models
    from report_helpers import make_cohort

    matrix, labels, dictionary, truth, _ = make_cohort(n=160, seed=9)
    rng = np.random.default_rng(1)
    hazard = np.exp(0.25 * (matrix["tumor_size_cm"].to_numpy() - 7.5)) / 14.0
    death = rng.exponential(1 / hazard)
    censor = rng.uniform(3, 40, len(death))
    labels = labels.assign(os_months=np.round(np.minimum(death, censor), 2).astype(str),
                           os_event=(death <= censor).astype(int).astype(str))
    settings = {"seed": 1, "cv_folds": 3, "cv_repeats": 2, "n_bootstrap": 100, "threads": 1,
                "xgboost": {"n_estimators": 40},
                "score_baselines": {"albi_score": {"feature": "albi_score", "direction": -1}},
                "endpoint": {"kind": "survival_horizon", "horizon_months": 12},
                "tuning": {"enabled": False}}  # nested tuning is tested in test_tuning.py
    results = cross_validate_models(matrix, labels, dictionary, settings, truth=truth)
    label = results.metadata["label"]
    expected = endpoint_labels(labels, settings["endpoint"])
    assert label["name"] == "os_event_by_12_months" and not label["positive_is_favourable"]
    assert label["n_censored_before_horizon"] == expected.n_censored_before_horizon > 0
    assert results.metadata["n"] == int(expected.label.notna().sum())
    metrics = results.metrics.set_index("model")
    assert "oracle" not in metrics.index
    assert metrics.loc["xgboost", "auc"] > 0.6  # larger tumours die sooner
    assert metrics.loc["xgboost", "n_events"] == int(expected.label.sum())


def test_a_scoring_run_does_not_need_the_endpoint_columns(tmp_path):
    """predict.model_dir set: nothing is trained, so a cohort without outcome columns passes;
    the same cohort in a training run is told which column the endpoint needs."""
    from haicpred.cohort import cohort_problems

    (tmp_path / "samples.tsv").write_text("sample_id\tbatch\nP1\tb1\nP2\tb1\n")
    (tmp_path / "clinical.tsv").write_text("sample_id\tage\nP1\t61\nP2\t70\n")
    (tmp_path / "biomarkers.tsv").write_text("sample_id\tanalyte\tvalue\tunit\ttimepoint\n"
                                             "P1\tAFP\t12\tng/mL\tbaseline\n")
    repo = Path(__file__).resolve().parents[2]
    config = {"samples": str(tmp_path / "samples.tsv"), "clinical": str(tmp_path / "clinical.tsv"),
              "biomarkers": str(tmp_path / "biomarkers.tsv"),
              "panel": str(repo / "resources/panel_GRCh38.tsv"),
              "snps": str(repo / "resources/snps_GRCh38.tsv"), "genome_build": "GRCh38",
              "biomarkers_settings": {"afp_iu_to_ng": 1.21, "duplicates": "refuse",
                                      "cutoffs": {}}}
    training = [str(p) for p in cohort_problems(config)]
    assert any("needs column 'best_response'" in p for p in training)
    scoring = cohort_problems({**config, "predict": {"model_dir": str(tmp_path / "final")}})
    assert not any("endpoint" in str(p) for p in scoring)
