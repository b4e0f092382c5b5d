"""The survival endpoint's labels (issue 15, point 1): time and event per patient, patients
without follow-up excluded and counted, every unusable row refused with its file, row and
column; the horizons' settings; the real SYSUCC cohort's OS counted independently."""

import math

import numpy as np
import pandas as pd
import pytest
import yaml

from haicpred.cohort import clinical_endpoint_problems, cohort_problems, load_config
from haicpred.features.endpoints import (DEFAULT_HORIZONS_MONTHS, SurvivalOutcome,
                                         endpoint_labels, endpoint_problems, horizon_problems,
                                         resolve_endpoint, survival_labels)
from haicpred.io.errors import InputError
from haicpred.io.tables import read_tsv
from real_cohorts import SYSUCC_CSV, needs_cohorts, write_sysucc
from workflow_helpers import PANEL, SNPS

SURVIVAL = {"kind": "survival", "time_column": "os_months", "event_column": "os_event",
            "horizons_months": [12, 24, 36]}
GOOD = pd.DataFrame({
    "sample_id": ["S1", "S2", "S3", "S4", "S5"],
    #            event   censored  no follow-up  event   censored (PFS filled only)
    "os_months": ["12", "30.5", "", "0.4", "7"],
    "os_event": ["1", "0", "", "1", "0"],
    "pfs_months": ["3", "10", "", "0.4", ""],
    "pfs_event": ["1", "1", "", "1", ""],
})


def _numbers(series):
    return [None if math.isnan(v) else v for v in series]


def test_every_patient_with_follow_up_is_labelled_censored_or_not():
    outcome = survival_labels(GOOD, SURVIVAL, "clinical.tsv")
    assert isinstance(outcome, SurvivalOutcome)
    assert _numbers(outcome.time) == [12.0, 30.5, None, 0.4, 7.0]
    assert _numbers(outcome.event) == [1.0, 0.0, None, 1.0, 0.0]
    assert outcome.horizons == (12.0, 24.0, 36.0)
    assert outcome.n_excluded_no_follow_up == 1
    summary = outcome.summary()
    assert (summary["n_labelled"], summary["n_events"], summary["n_censored"]) == (4, 2, 2)
    assert summary["censored_fraction"] == 0.5
    assert summary["n_excluded_no_follow_up"] == 1
    assert outcome.name == "os_months/os_event"
    with pytest.raises(AttributeError):  # frozen
        outcome.name = "x"


def test_pfs_the_same_way_and_the_default_horizons():
    settings = {"kind": "survival", "time_column": "pfs_months", "event_column": "pfs_event"}
    outcome = survival_labels(GOOD, settings)
    assert _numbers(outcome.time) == [3.0, 10.0, None, 0.4, None]
    assert _numbers(outcome.event) == [1.0, 1.0, None, 1.0, None]
    assert outcome.n_excluded_no_follow_up == 2
    assert outcome.horizons == DEFAULT_HORIZONS_MONTHS == (12.0, 24.0, 36.0)
    assert "pfs_event" in outcome.definition and "12, 24, 36 months" in outcome.definition


def test_the_binary_endpoints_settings_get_no_horizons():
    # recorded in cv_metadata.json / model_metadata.json: must stay as before for them
    for kind in ("objective_response", "survival_horizon", "binary_column"):
        assert "horizons_months" not in resolve_endpoint({"kind": kind})
    assert resolve_endpoint({"kind": "survival"})["horizons_months"] == [12.0, 24.0, 36.0]


def test_endpoint_labels_gives_the_data_checks_the_event_of_patients_with_follow_up():
    endpoint = endpoint_labels(GOOD, SURVIVAL)
    assert _numbers(endpoint.label) == [1.0, 0.0, None, 1.0, 0.0]
    assert endpoint.n_missing == 1 and not endpoint.favourable


BAD_ROWS = pd.DataFrame({
    "sample_id": [f"P{i}" for i in range(1, 10)],
    "os_months": ["12", "8", "", "abc", "-3", "0", "5", "", "inf"],
    "os_event": ["1", "", "1", "0", "1", "0", "2", "", "1"],
})


def test_every_unusable_row_is_refused_in_one_report_naming_file_row_and_column():
    with pytest.raises(InputError) as refused:
        survival_labels(BAD_ROWS, SURVIVAL, "cohort/clinical.tsv")
    problems = {(p.where, p.message.split(" (")[0]): p for p in refused.value.problems}
    assert set(problems) == {
        ("row 2, column os_event", "is empty while os_months has a value"),
        ("row 3, column os_months", "is empty while os_event has a value"),
        ("row 6, column os_months", "is 0: a follow-up time must be greater than 0"),
        ("rows 4, 9, column os_months", "is not a number"),
        ("row 5, column os_months", "is negative: a follow-up time must be greater than 0"),
        ("row 7, column os_event", "is not 0 or 1"),
    }
    assert all(p.file == "cohort/clinical.tsv" and p.hint for p in refused.value.problems)
    text = str(refused.value)
    assert "6 input problem(s) found" in text
    assert "'abc', 'inf'" in text and "('2')" in text  # the bad values are shown
    assert "leave both cells empty if the patient has no follow-up" in text
    # rows 1 and 8 (a good row and a patient without follow-up) are not named
    assert "row 1," not in text and "row 8" not in text


def test_missing_outcome_columns_are_named():
    problems = endpoint_problems(SURVIVAL, ["sample_id", "os_months"], "c.tsv")
    assert [(p.file, p.message) for p in problems] == [
        ("config", "needs column 'os_event', which the clinical table c.tsv does not have")]
    with pytest.raises(InputError, match="needs column 'os_event'"):
        survival_labels(BAD_ROWS.drop(columns="os_event"), SURVIVAL, "c.tsv")


@pytest.mark.parametrize("horizons, message", [
    ([], "should be non-empty"),
    ([12, -24], "less than or equal to the minimum of 0"),
    ([12, "24"], "is not of type 'number'"),
    ([24, 12], "is not strictly increasing"),
    ([12, 12, 36], "is not strictly increasing"),
])
def test_horizons_are_a_non_empty_increasing_list_of_positive_months(tmp_path, horizons,
                                                                     message):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"endpoint": {"kind": "survival",
                                                 "horizons_months": horizons}}))
    with pytest.raises(InputError) as refused:
        load_config(path)
    assert f"{path}: endpoint.horizons_months" in str(refused.value)
    assert message in str(refused.value)


def test_good_horizons_pass():
    assert horizon_problems({"horizons_months": [6, 12.5, 60]}) == []
    assert horizon_problems({}) == []  # not set: the defaults


def _cohort(tmp_path, clinical: str, endpoint: dict) -> dict:
    folder = tmp_path / "cohort"
    folder.mkdir()
    (folder / "samples.tsv").write_text("sample_id\tbatch\nP1\tb1\nP2\tb1\nP3\tb1\nP4\tb1\n")
    (folder / "clinical.tsv").write_text(clinical)
    (folder / "biomarkers.tsv").write_text(
        "sample_id\tanalyte\tvalue\tunit\ttimepoint\nP1\tafp\t12\tng/mL\tbaseline\n")
    config = {"panel": str(PANEL), "snps": str(SNPS), "endpoint": endpoint,
              **{name: str(folder / f"{name}.tsv") for name in
                 ("samples", "clinical", "biomarkers")}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    return load_config(tmp_path / "config.yaml")


def test_the_cohort_check_reports_each_bad_cell_once(tmp_path):
    """The clinical schema already names non-numbers, negative times and events other than
    0/1; the survival check adds what the schema allows (0, half-filled rows), never twice."""
    config = _cohort(tmp_path, "sample_id\tos_months\tos_event\n"
                     "P1\t-3\t1\nP2\t0\t0\nP3\t7\t\nP4\t5\t2\n", SURVIVAL)
    clinical = config["clinical"]
    text = str(InputError(cohort_problems(config)))
    for where in ("row 1, column os_months", "row 2, column os_months",
                  "row 3, column os_event", "row 4, column os_event"):
        assert text.count(f"{clinical}: {where}:") == 1, where
    # a feature-only run (snakemake's own check before any job) names the same rows: its
    # feature step would fail on them
    found = cohort_problems(config, check_endpoint=False)
    assert sorted(p.where for p in found) == [
        "row 1, column os_months", "row 2, column os_months", "row 3, column os_event",
        "row 4, column os_event"]
    # the model rules' check adds nothing: the header has the endpoint's columns
    assert clinical_endpoint_problems(config) == []


def test_without_outcome_columns_a_feature_only_run_labels_nobody():
    endpoint = endpoint_labels(GOOD[["sample_id"]], SURVIVAL)
    assert endpoint.label.isna().all() and endpoint.n_missing == len(GOOD)


def test_a_binary_endpoint_ignores_survival_cells(tmp_path):
    config = _cohort(tmp_path, "sample_id\tbest_response\tos_months\tos_event\n"
                     "P1\tPR\t0\t0\nP2\tSD\t7\t\nP3\tPD\t\t\nP4\tCR\t5\t1\n", {})
    assert cohort_problems(config) == [] and clinical_endpoint_problems(config) == []


@needs_cohorts
def test_real_sysucc_overall_survival_counts(tmp_path):
    """SYSUCC's baseline visits, converted as a user would: the 0-day follow-ups (a known
    defect of the export) are refused by row; blanked (no follow-up), they are excluded, and
    the labelled, event and excluded counts are those of the raw file, counted here."""
    raw = pd.read_csv(SYSUCC_CSV)
    first = raw.sort_values(["ID", "Date"], kind="mergesort").groupby("ID").head(1)
    first = first.sort_values("ID")
    zero = first["OStime_day"] == 0
    assert zero.sum() > 0  # the defect the README names

    config_path = write_sysucc(tmp_path / "sysucc")
    clinical_path = tmp_path / "sysucc" / "clinical.tsv"
    clinical = read_tsv(clinical_path)
    assert clinical["sample_id"].tolist() == [f"SYSUCC{i}" for i in first["ID"].astype(int)]
    with pytest.raises(InputError) as refused:
        survival_labels(clinical, SURVIVAL, str(clinical_path))
    rows = [str(i + 1) for i in np.flatnonzero(zero.to_numpy())]
    [problem] = refused.value.problems
    assert problem.file == str(clinical_path)
    assert problem.where == f"rows {', '.join(rows)}, column os_months"

    # through the cohort check snakemake and `haicpred validate` run
    config = load_config(config_path)
    config["endpoint"] = SURVIVAL
    found = [p for p in cohort_problems(config) if "os_" in p.where]
    assert [p.where for p in found] == [problem.where]

    blanked = clinical.copy()
    blanked.loc[zero.to_numpy(), ["os_months", "os_event"]] = np.nan
    outcome = survival_labels(blanked, SURVIVAL, str(clinical_path))
    summary = outcome.summary()
    kept = first[~zero]
    assert summary["n_labelled"] == len(kept) == len(first) - int(zero.sum())
    assert summary["n_events"] == int((kept["Status_of_death"] == 1).sum())
    assert summary["n_censored"] == int((kept["Status_of_death"] == 0).sum())
    assert summary["n_excluded_no_follow_up"] == int(zero.sum())
    days = outcome.time.dropna().to_numpy() * 365.25 / 12
    assert np.allclose(days, kept["OStime_day"].to_numpy(), atol=0.01)
