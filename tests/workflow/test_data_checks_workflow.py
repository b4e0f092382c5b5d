"""Issue 13 findings 3, 8 and 11 through snakemake, as users run it: the data checks file and
report section, wording that follows the configured endpoint and cohort, and a single-centre
cohort (one batch) whose logs and report say so once."""

import re

import pytest

from haicpred.features.data_checks import CHECK_COLUMNS
from haicpred.features.endpoints import endpoint_labels
from haicpred.simulate import simulate_cohort
from haicpred.io.tables import read_tsv, write_tsv
from workflow_helpers import PANEL, SNPS, digest, make_workdir, snakemake

SURVIVAL = {"kind": "survival_horizon", "time_column": "os_months", "event_column": "os_event",
            "horizon_months": 12}
ONE_BATCH_MESSAGE = "only one batch ("


def section(report: str, anchor: str) -> str:
    match = re.search(rf'<section id="{anchor}">(.*?)</section>', report, re.S)
    assert match, anchor
    return match.group(1)


@pytest.fixture(scope="module")
def single_centre_run(tmp_path_factory):
    """The whole workflow on a one-batch simulated cohort, survival endpoint, a cohort name
    and a treatment from the config (small and FAST_MODEL)."""
    workdir = make_workdir(tmp_path_factory.mktemp("single_centre"),
                           demo={"n_patients": 80, "n_batches": 1, "seed": 2},
                           endpoint=SURVIVAL, cohort_name="Centre A 2015-2020",
                           treatment="TACE")
    result = snakemake(workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir


def test_single_centre_logs_the_one_batch_message_once(single_centre_run):
    logs = {path.name: path.read_text() for path in (single_centre_run / "logs").glob("*.log")}
    found = {name: text.count(ONE_BATCH_MESSAGE) for name, text in logs.items()}
    assert sum(found.values()) == 1, found
    assert found["cross_validate_models.log"] == 1
    assert re.search(r"harmonisation skipped in \d+ training fold\(s\) of \d+ model\(s\): only "
                     r"one batch \(batch1\)", logs["cross_validate_models.log"])
    # the per-fold reasons stay in the table
    folds = read_tsv(single_centre_run / "results/model/radiomics_folds.tsv")
    assert len(folds) > 1 and folds["reason"].str.startswith(ONE_BATCH_MESSAGE).all()


def test_single_centre_report_says_lobo_is_not_applicable(single_centre_run):
    report = (single_centre_run / "results/report/report.html").read_text()
    lobo = section(report, "lobo")
    assert "Not applicable: one batch</b> (batch1)" in lobo and "<table>" not in lobo
    assert "not applicable: one batch (batch1)" in section(report, "data-checks")


def test_report_names_the_endpoint_cohort_and_treatment(single_centre_run):
    """Finding 8 on a survival endpoint: no mRECIST counts, no 'after HAIC'."""
    report = (single_centre_run / "results/report/report.html").read_text()
    title = re.search(r"<title>(.*?)</title>", report).group(1)
    assert title == "haicpred: prediction of os_event_by_12_months after TACE (Centre A 2015-2020)"
    heading = re.search(r"<h1>(.*?)</h1>", report).group(1)
    assert "after TACE" in heading and "HAIC" not in heading
    cohort = section(report, "cohort")
    assert "Best response" not in report and "mRECIST" not in cohort
    assert "<p><b>Cohort</b>: Centre A 2015-2020, 80 patients treated with TACE, in 1 batch " \
        "(batch1).</p>" in cohort
    assert "<code>os_event_by_12_months</code>" in cohort
    assert "<code>os_event</code> and <code>os_months</code> for 80 of 80 patients" in cohort


def test_feature_matrix_log_counts_the_configured_endpoint(single_centre_run):
    labels = read_tsv(single_centre_run / "results/features/labels.tsv")
    n = int(endpoint_labels(labels, SURVIVAL).label.notna().sum())
    # the demo has best responses for a different number of patients: not what is counted
    assert n != int(labels["objective_response"].notna().sum())
    log = (single_centre_run / "logs/feature_matrix.log").read_text()
    assert "80 samples x" in log and f"; {n} labelled for endpoint os_event_by_12_months" in log


def test_data_checks_file_and_report_section(single_centre_run):
    checks = read_tsv(single_centre_run / "results/features/data_checks.tsv")
    assert list(checks.columns) == CHECK_COLUMNS
    assert set(checks["check"]) == {"modality_missingness_vs_label",
                                    "feature_missingness_vs_label", "batch_outcome_rate",
                                    "batch_single_class", "batch_modality_missing"}
    report = (single_centre_run / "results/report/report.html").read_text()
    assert report.index('<section id="data-checks">') < report.index('<section id="metrics">')
    assert "Benjamini-Hochberg" in section(report, "data-checks")
    log = (single_centre_run / "logs/data_checks.log").read_text()
    assert "data checks for endpoint os_event_by_12_months" in log
    # byte-identical when run again
    before = digest(single_centre_run / "results/features/data_checks.tsv")
    again = snakemake(single_centre_run, "--forcerun", "data_checks", "--until", "data_checks")
    assert again.returncode == 0, again.stderr[-3000:]
    assert digest(single_centre_run / "results/features/data_checks.tsv") == before


def test_a_site_without_labs_whose_patients_died_is_flagged_before_any_model(tmp_path):
    """The real case, as a user cohort: batch2 sent no lab values and all of its patients died
    within the horizon. `snakemake results/features/data_checks.tsv` flags it without
    training anything."""
    cohort = tmp_path / "cohort"
    simulate_cohort(n_patients=90, n_batches=3, seed=5, out_dir=cohort, panel_path=PANEL,
                    snps_path=SNPS)
    sheet = read_tsv(cohort / "samples.tsv")
    for column in ["exome_vcf", "genotype_vcf"]:
        sheet[column] = sheet[column].map(lambda p: str(cohort / p), na_action="ignore")
    write_tsv(sheet, cohort / "samples.tsv")
    site = set(sheet.loc[sheet["batch"] == "batch2", "sample_id"])
    biomarkers = read_tsv(cohort / "biomarkers.tsv")
    write_tsv(biomarkers[~biomarkers["sample_id"].isin(site)], cohort / "biomarkers.tsv")
    clinical = read_tsv(cohort / "clinical.tsv")
    died = clinical["sample_id"].isin(site)
    clinical.loc[died, "os_event"] = "1"
    clinical.loc[died, "os_months"] = "5.5"
    write_tsv(clinical, cohort / "clinical.tsv")
    workdir = make_workdir(tmp_path / "run", endpoint=SURVIVAL,
                           **{key: str(cohort / f"{key}.tsv") for key in
                              ["samples", "clinical", "biomarkers", "radiomics"]})
    result = snakemake(workdir, "results/features/data_checks.tsv")
    assert result.returncode == 0, result.stderr[-3000:]
    assert not (workdir / "results/model").exists()
    checks = read_tsv(workdir / "results/features/data_checks.tsv").set_index(
        ["check", "subject"])
    flagged = checks[checks["flagged"] == "yes"]
    assert ("modality_missingness_vs_label", "biomarker") in flagged.index
    assert ("batch_single_class", "batch2") in flagged.index
    assert ("batch_modality_missing", "batch2: biomarker") in flagged.index
    assert "all 30 labelled patients have os_event_by_12_months = 1" in \
        checks.loc[("batch_single_class", "batch2"), "message"]
    assert ("batch_single_class", "batch1") not in flagged.index
    assert ("batch_modality_missing", "batch1: biomarker") not in flagged.index
    log = (workdir / "logs/data_checks.log").read_text()
    assert "WARNING" in log and "flagged" in log
