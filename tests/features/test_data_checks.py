"""Data checks (issue 13 finding 3): missingness that predicts the outcome, batches whose
outcome differs or has one class, and modalities a batch lacks entirely."""

import numpy as np
import pandas as pd

from haicpred.features.data_checks import (CHECK_COLUMNS, benjamini_hochberg, run_data_checks,
                                           summary_line)
from haicpred.io.tables import read_tsv, write_tsv

BIOMARKERS = ["albumin", "bilirubin", "platelets", "afp"]
CLINICAL = ["age", "tumor_size_cm", "ecog"]
RADIOMICS = ["rad_original_firstorder_Mean", "rad_original_shape_MeshVolume"]
SURVIVAL = {"kind": "survival_horizon", "time_column": "os_months", "event_column": "os_event",
            "horizon_months": 12}


def cohort(seed: int, n_per_batch: int = 60, n_batches: int = 3, lab_less_batch: str | None = None,
           mcar: float = 0.1):
    """A cohort shaped like the real case: clinical, labs and radiomics per batch, survival
    labels independent of everything; `lab_less_batch` sent no labs and all of its patients
    died within the horizon. Missing values elsewhere are missing completely at random."""
    rng = np.random.default_rng(seed)
    n = n_per_batch * n_batches
    ids = [f"P{i:04d}" for i in range(n)]
    batch = np.repeat([f"site{b + 1}" for b in range(n_batches)], n_per_batch)
    matrix = pd.DataFrame({"sample_id": ids, "batch": batch})
    for feature in CLINICAL + BIOMARKERS + RADIOMICS:
        values = rng.normal(size=n)
        values[rng.random(n) < mcar] = np.nan
        matrix[feature] = values
    died = rng.random(n) < 0.4
    months = np.where(died, rng.uniform(1, 11, n), rng.uniform(13, 40, n))
    if lab_less_batch:
        site = batch == lab_less_batch
        matrix.loc[site, BIOMARKERS] = np.nan
        died[site], months[site] = True, rng.uniform(1, 11, site.sum())
    labels = pd.DataFrame({"sample_id": ids, "batch": batch, "os_months": months,
                           "os_event": died.astype(int)})
    dictionary = pd.DataFrame(
        [(f, "clinical") for f in CLINICAL] + [(f, "biomarker") for f in BIOMARKERS]
        + [(f, "radiomics") for f in RADIOMICS], columns=["feature", "modality"])
    return matrix, dictionary, labels


def flagged(checks: pd.DataFrame) -> pd.DataFrame:
    return checks[checks["flagged"] == "yes"]


def row(checks: pd.DataFrame, check: str, subject: str) -> pd.Series:
    match = checks[(checks["check"] == check) & (checks["subject"] == subject)]
    assert len(match) == 1, (check, subject)
    return match.iloc[0]


def test_a_site_without_labs_whose_patients_all_died_is_flagged():
    """The real case: XGBoost learned 'no labs = death' from one site."""
    matrix, dictionary, labels = cohort(seed=3, lab_less_batch="site2")
    checks, summary = run_data_checks(matrix, dictionary, labels, SURVIVAL)
    assert list(checks.columns) == CHECK_COLUMNS
    assert summary["endpoint"] == "os_event_by_12_months"
    assert summary["n_labelled"] == len(matrix)

    modality = row(checks, "modality_missingness_vs_label", "biomarker")
    assert modality["flagged"] == "yes"
    assert modality["statistic"] > 0.5  # missing: 100% died, present: ~40%
    assert "os_event_by_12_months = 1 in 100% of the 60 labelled patients missing it" in \
        modality["message"]
    assert "Fisher's exact test" in modality["message"]
    for feature in BIOMARKERS:
        assert row(checks, "feature_missingness_vs_label", feature)["flagged"] == "yes"
    single = row(checks, "batch_single_class", "site2")
    assert single["flagged"] == "yes"
    assert "one outcome class only: all 60 labelled patients have os_event_by_12_months = 1" \
        in single["message"]
    lacking = row(checks, "batch_modality_missing", "site2: biomarker")
    assert lacking["flagged"] == "yes" and lacking["statistic"] == 1.0
    assert "other batches have it (site1, site3)" in lacking["message"]
    assert row(checks, "batch_outcome_rate", "all batches")["flagged"] == "yes"
    # nothing about the modalities every site has, and the other sites are not single-class
    assert row(checks, "modality_missingness_vs_label", "clinical")["flagged"] == "no"
    assert row(checks, "batch_single_class", "site1")["flagged"] == "no"
    assert row(checks, "batch_modality_missing", "site1: biomarker")["flagged"] == "no"
    assert set(flagged(checks)["check"]) == {
        "modality_missingness_vs_label", "feature_missingness_vs_label", "batch_outcome_rate",
        "batch_single_class", "batch_modality_missing"}
    assert "flagged" in summary_line(checks)


def test_a_cohort_without_such_structure_flags_nothing():
    matrix, dictionary, labels = cohort(seed=1)
    checks, summary = run_data_checks(matrix, dictionary, labels, SURVIVAL)
    assert summary["n_flagged"] == 0, flagged(checks)
    assert summary_line(checks).startswith("data checks: nothing flagged")
    # every check is there: nothing is dropped
    n_features = len(CLINICAL + BIOMARKERS + RADIOMICS)
    assert (checks["check"] == "feature_missingness_vs_label").sum() == n_features
    assert (checks["check"] == "modality_missingness_vs_label").sum() == 3
    assert (checks["check"] == "batch_single_class").sum() == 3
    assert (checks["check"] == "batch_modality_missing").sum() == 3 * 3


def test_false_flag_rate_is_low_over_many_null_cohorts():
    """60 cohorts with labels independent of missingness and batch (~20 tests each): at most
    1 in 10 flags anything (measured over 150 seeds: 6%), and the real case always flags."""
    null = [run_data_checks(*cohort(seed=100 + s, mcar=0.15), SURVIVAL)[1]["n_flagged"] > 0
            for s in range(60)]
    assert sum(null) <= 6
    planted = [run_data_checks(*cohort(seed=100 + s, lab_less_batch="site1"), SURVIVAL)[1]
               for s in range(5)]
    assert all(summary["n_flagged"] >= 4 for summary in planted)


def test_a_huge_cohort_does_not_flag_a_trivial_difference():
    """10,000 patients: a 4-point outcome-rate difference with the labs missing is
    significant but below the effect floor."""
    rng = np.random.default_rng(0)
    n = 10_000
    matrix = pd.DataFrame({"sample_id": [f"P{i:05d}" for i in range(n)], "batch": "b1",
                           "albumin": rng.normal(size=n)})
    gone = rng.random(n) < 0.5
    matrix.loc[gone, "albumin"] = np.nan
    event = rng.random(n) < np.where(gone, 0.42, 0.38)
    labels = pd.DataFrame({"sample_id": matrix["sample_id"], "outcome_death": event.astype(int)})
    dictionary = pd.DataFrame({"feature": ["albumin"], "modality": ["biomarker"]})
    checks, _ = run_data_checks(matrix, dictionary, labels,
                                {"kind": "binary_column", "column": "outcome_death"})
    test = row(checks, "feature_missingness_vs_label", "albumin")
    assert float(test["p_value"]) < 0.05 and abs(float(test["statistic"])) < 0.15
    assert test["flagged"] == "no"


def test_small_batches_use_a_monte_carlo_test_and_say_so():
    matrix, dictionary, labels = cohort(seed=1, n_per_batch=6, n_batches=4)
    checks, _ = run_data_checks(matrix, dictionary, labels, SURVIVAL)
    rate = row(checks, "batch_outcome_rate", "all batches")
    assert "Fisher-Freeman-Halton, Monte Carlo with 10000 permutations" in rate["message"]
    big, dictionary, labels = cohort(seed=1, n_per_batch=80, n_batches=2)
    rate = row(run_data_checks(big, dictionary, labels, SURVIVAL)[0], "batch_outcome_rate",
               "all batches")
    assert "Pearson's chi-square test" in rate["message"]


def test_without_labels_only_the_batch_missingness_is_computed():
    """A feature-only run of a cohort without outcomes, or a scoring run."""
    matrix, dictionary, labels = cohort(seed=2, lab_less_batch="site3")
    no_outcomes = labels[["sample_id", "batch"]]
    checks, summary = run_data_checks(matrix, dictionary, no_outcomes, SURVIVAL)
    assert summary["n_labelled"] == 0
    label_rows = checks[checks["check"] != "batch_modality_missing"]
    assert len(label_rows) == 4 and (label_rows["flagged"] == "no").all()
    assert label_rows["message"].str.startswith(
        "not computed: no labelled patient for the endpoint os_event_by_12_months").all()
    assert row(checks, "batch_modality_missing", "site3: biomarker")["flagged"] == "yes"


def test_one_batch_says_the_batch_checks_do_not_apply():
    matrix, dictionary, labels = cohort(seed=4, n_batches=1)
    checks, _ = run_data_checks(matrix, dictionary, labels, SURVIVAL)
    assert row(checks, "batch_outcome_rate", "all batches")["message"] == (
        "not applicable: one batch (site1)")
    assert row(checks, "batch_single_class", "site1")["flagged"] == "no"


def test_objective_response_labels_come_from_best_response():
    matrix, dictionary, _ = cohort(seed=5, n_batches=2)
    responses = np.where(np.arange(len(matrix)) % 3 == 0, "PR", "PD").astype(object)
    responses[:10] = None
    labels = pd.DataFrame({"sample_id": matrix["sample_id"], "best_response": responses})
    checks, summary = run_data_checks(matrix, dictionary, labels, None)
    assert summary["endpoint"] == "objective_response"
    assert summary["n_labelled"] == len(matrix) - 10


def test_checks_are_byte_identical(tmp_path):
    matrix, dictionary, labels = cohort(seed=6, n_per_batch=8, lab_less_batch="site1")
    for name in ("a.tsv", "b.tsv"):
        write_tsv(run_data_checks(matrix, dictionary, labels, SURVIVAL)[0], tmp_path / name)
    assert (tmp_path / "a.tsv").read_bytes() == (tmp_path / "b.tsv").read_bytes()
    assert list(read_tsv(tmp_path / "a.tsv").columns) == CHECK_COLUMNS


def test_benjamini_hochberg_matches_the_textbook_example():
    p = [0.01, 0.04, 0.03, 0.005, np.nan]
    adjusted = benjamini_hochberg(p)
    assert np.allclose(adjusted[:4], [0.02, 0.04, 0.04, 0.02])
    assert np.isnan(adjusted[4])
