"""The survival endpoint through the workflow, run as users run it (`snakemake --configfile`,
`haicpred validate --config`): a bad clinical table is refused before any job with every
problem row named; a good one runs end to end (cross-validation, risk groups, frozen model,
nomogram, report), gives byte-identical outputs when rerun, and its frozen model scores a new run
exactly; a feature-only run accepts it."""

import subprocess
import sys

import pandas as pd
import pytest
import yaml

from haicpred.io.tables import read_tsv
from haicpred.simulate import simulate_cohort
from workflow_helpers import PANEL, SNPS, digest, make_workdir, snakemake

SURVIVAL = {"kind": "survival", "time_column": "os_months", "event_column": "os_event",
            "horizons_months": [12, 24, 36]}


def haicpred(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "haicpred.cli", *args], capture_output=True,
                          text=True)


@pytest.fixture()
def survival_run(tmp_path):
    """A simulated cohort (with OS and PFS) in a work folder, and a user's config file that
    points at it with the survival endpoint."""
    cohort = tmp_path / "cohort"
    simulate_cohort(n_patients=24, n_batches=1, seed=5, out_dir=cohort, panel_path=PANEL,
                    snps_path=SNPS)
    workdir = make_workdir(tmp_path / "work")
    config = {name: str(cohort / f"{name}.tsv") for name in
              ("samples", "clinical", "biomarkers", "radiomics")}
    config["endpoint"] = SURVIVAL
    config_file = tmp_path / "survival.yaml"
    config_file.write_text(yaml.safe_dump(config))
    return workdir, config_file, cohort / "clinical.tsv"


def _no_output(workdir) -> bool:
    return not (workdir / "results").exists()


def test_a_bad_clinical_table_is_refused_before_any_job(survival_run):
    workdir, config_file, clinical_path = survival_run
    clinical = read_tsv(clinical_path)
    clinical.loc[1, "os_event"] = pd.NA     # row 2: a time without an event
    clinical.loc[3, "os_months"] = "0"      # row 4: no time elapsed
    clinical.loc[6, "os_months"] = pd.NA    # row 7: an event without a time
    clinical.loc[9, ["os_months", "os_event"]] = pd.NA  # row 10: no follow-up: fine
    clinical.to_csv(clinical_path, sep="\t", index=False)
    expected = [f"{clinical_path}: row 2, column os_event: is empty while os_months has a value",
                f"{clinical_path}: row 4, column os_months: is 0",
                f"{clinical_path}: row 7, column os_months: is empty while os_event has a value"]

    result = snakemake(workdir, "--configfile", str(config_file))
    assert result.returncode != 0
    for line in expected:
        assert line in result.stderr, result.stderr
    assert "row 10" not in result.stderr
    assert _no_output(workdir)
    # a feature-only run too: its feature step would fail on these rows
    result = snakemake(workdir, "results/features/feature_matrix.tsv",
                       "--configfile", str(config_file))
    assert result.returncode != 0
    for line in expected:
        assert line in result.stderr, result.stderr
    assert _no_output(workdir)

    result = haicpred("validate", "--config", str(workdir / "config/config.yaml"),
                      "--config", str(config_file))
    assert result.returncode == 2
    for line in expected:
        assert line in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


SURVIVAL_OUTPUTS = ["results/model/metrics.tsv", "results/model/oof_predictions.tsv",
                    "results/model/calibration.tsv", "results/model/lobo_metrics.tsv",
                    "results/model/tuning.tsv", "results/model/km_risk_groups.tsv",
                    "results/model/final/xgboost_model.json",
                    "results/model/final/model_metadata.json",
                    "results/model/final/shap_importance.tsv",
                    "results/model/final/predictions.tsv", "results/model/final/nomogram.json",
                    "results/report/report.html"]


@pytest.fixture(scope="module")
def survival_cohort_runs(tmp_path_factory):
    """A 160-patient simulated cohort (3 batches) with the survival endpoint in a user's config
    file, run twice from scratch in two work folders, then scored by the first run's frozen
    model in a third (a scoring run: predict.model_dir)."""
    root = tmp_path_factory.mktemp("survival_runs")
    cohort = root / "cohort"
    simulate_cohort(n_patients=160, n_batches=3, seed=11, out_dir=cohort, panel_path=PANEL,
                    snps_path=SNPS)
    config = {name: str(cohort / f"{name}.tsv") for name in
              ("samples", "clinical", "biomarkers", "radiomics")}
    config["endpoint"] = SURVIVAL
    config_file = root / "survival.yaml"
    config_file.write_text(yaml.safe_dump(config))
    runs = []
    for name in ("first", "second"):
        workdir = make_workdir(root / name)
        result = snakemake(workdir, "--configfile", str(config_file))
        assert result.returncode == 0, result.stderr[-4000:]
        runs.append(workdir)
    scoring = make_workdir(root / "scoring")
    model_dir = runs[0] / "results/model/final"
    result = snakemake(scoring, "--configfile", str(config_file), "--config",
                       f"predict={{'model_dir': '{model_dir}', 'name': 'rescored'}}")
    assert result.returncode == 0, result.stderr[-4000:]
    return runs, scoring


def test_a_survival_run_produces_every_output(survival_cohort_runs):
    (first, _), _ = survival_cohort_runs
    missing = [p for p in SURVIVAL_OUTPUTS if not (first / p).is_file()
               or (first / p).stat().st_size == 0]
    assert not missing, missing
    metrics = read_tsv(first / "results/model/metrics.tsv").set_index("model")
    for model in ("xgboost", "cox_all_features", "cox_baseline"):
        low, c, high = (float(metrics.loc[model, k])
                        for k in ("c_index_low", "c_index", "c_index_high"))
        assert low <= c <= high and high > low, model
    clinical = read_tsv(first.parent / "cohort" / "clinical.tsv")
    followed = int((clinical["os_months"].notna() & clinical["os_event"].notna()).sum())
    assert int(metrics.loc["xgboost", "n"]) == followed
    # the demo's truth is not this cohort's: no oracle row for a user's cohort
    assert "oracle" not in metrics.index
    report = (first / "results/report/report.html").read_text()
    assert f"{float(metrics.loc['xgboost', 'c_index']):.3f}" in report
    assert 'id="risk-groups"' in report and 'id="nomogram"' in report


def test_the_same_inputs_give_byte_identical_survival_outputs(survival_cohort_runs):
    (first, second), _ = survival_cohort_runs
    for path in SURVIVAL_OUTPUTS:
        assert digest(first / path) == digest(second / path), path


def test_a_scoring_run_reproduces_the_frozen_models_survival(survival_cohort_runs):
    """The frozen survival model scoring the same cohort in a new run (features rebuilt from the
    inputs) gives the training run's risk, S(t) and risk group exactly."""
    (first, _), scoring = survival_cohort_runs
    trained = read_tsv(first / "results/model/final/predictions.tsv").set_index("sample_id")
    rescored = read_tsv(scoring / "results/predictions/rescored.tsv").set_index("sample_id")
    assert not (scoring / "results/model").exists()  # nothing trained
    columns = ["risk", "surv_12m", "surv_24m", "surv_36m", "risk_group"]
    assert list(rescored.index) == list(trained.index)
    for column in columns:
        assert rescored[column].tolist() == trained[column].tolist(), column


def test_settings_that_do_not_fit_a_survival_model_are_refused_before_any_job(survival_run):
    """Risk-group cut-offs are probabilities for a binary endpoint and risks (log relative
    hazard, any numbers) for a survival endpoint: each is refused where it does not fit; so is
    a model.xgboost key the Cox booster does not take."""
    workdir, config_file, _ = survival_run
    extra = workdir.parent / "extra.yaml"
    extra.write_text(yaml.safe_dump({"model": {"xgboost": {"max_leaf": 4}}}))
    result = snakemake(workdir, "--configfile", str(config_file), str(extra))
    assert result.returncode != 0
    assert ("model.xgboost max_leaf: is not a parameter of the survival endpoint's XGBoost Cox "
            "model") in result.stderr
    assert _no_output(workdir)
    extra.write_text(yaml.safe_dump({"predict": {"risk_groups": [0.5, -1.0]}}))
    result = snakemake(workdir, "--configfile", str(config_file), str(extra))
    assert result.returncode != 0
    assert "predict.risk_groups: risk_groups cut-offs of a survival model" in result.stderr
    assert _no_output(workdir)
    binary = make_workdir(workdir.parent / "binary")
    extra.write_text(yaml.safe_dump({"predict": {"risk_groups": [-1.0, 0.5]}}))
    result = snakemake(binary, "--configfile", str(extra))
    assert result.returncode != 0
    assert "predict.risk_groups: risk_groups cut-offs must be two increasing probabilities" \
        in result.stderr
    assert _no_output(binary)


def test_a_feature_only_run_accepts_the_survival_endpoint(survival_run):
    """Features need no model: the feature step and the data checks run on the survival
    labels (the data checks compare missingness and batches with the event indicator)."""
    workdir, config_file, clinical_path = survival_run
    result = snakemake(workdir, "results/features/data_checks.tsv",
                       "--configfile", str(config_file))
    assert result.returncode == 0, result.stderr
    clinical = read_tsv(clinical_path)
    n_labelled = int((clinical["os_months"].notna() & clinical["os_event"].notna()).sum())
    log = (workdir / "logs/feature_matrix.log").read_text()
    assert f"{n_labelled} labelled for endpoint os_months/os_event" in log
    checks = read_tsv(workdir / "results/features/data_checks.tsv")
    assert "not computed" not in " ".join(checks["message"].fillna(""))
