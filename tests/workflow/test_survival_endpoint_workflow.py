"""The survival endpoint through the workflow, run as users run it (`snakemake --configfile`,
`haicpred validate --config`): a bad clinical table is refused before any job with every
problem row named; a good one is refused by the model rules until the survival models exist
(never the binary models on survival labels); a feature-only run accepts it."""

import subprocess
import sys

import pandas as pd
import pytest
import yaml

from haicpred.features.endpoints import SURVIVAL_MODELS_UNAVAILABLE
from haicpred.io.tables import read_tsv
from haicpred.simulate import simulate_cohort
from workflow_helpers import PANEL, SNPS, make_workdir, snakemake

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


def test_the_model_rules_refuse_the_survival_kind_until_its_models_exist(survival_run):
    workdir, config_file, _ = survival_run
    result = snakemake(workdir, "--configfile", str(config_file))
    assert result.returncode != 0
    assert f"config: endpoint.kind: {SURVIVAL_MODELS_UNAVAILABLE}" in result.stderr
    assert "input problem(s) found" in result.stderr  # the labels themselves were fine
    assert "column os_" not in result.stderr
    assert _no_output(workdir)
    # every rule that would train a model refuses, whichever is asked for
    for target in ("results/model/final/xgboost_model.json", "results/model/permutation.tsv"):
        result = snakemake(workdir, target, "--configfile", str(config_file))
        assert result.returncode != 0 and SURVIVAL_MODELS_UNAVAILABLE in result.stderr
        assert _no_output(workdir)
    # the demo (no cohort configured) too
    demo = make_workdir(workdir.parent / "demo")
    result = snakemake(demo, "--config", "endpoint={'kind': 'survival'}")
    assert result.returncode != 0 and SURVIVAL_MODELS_UNAVAILABLE in result.stderr
    assert _no_output(demo)


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
