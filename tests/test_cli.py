"""The `haicpred` command line, run as a user runs it."""

import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def haicpred(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "haicpred.cli", *args], capture_output=True,
                          text=True, cwd=cwd)


def test_help_lists_the_commands():
    result = haicpred("--help")
    assert result.returncode == 0
    for command in ["simulate", "validate", "score"]:
        assert command in result.stdout


def test_simulate_then_validate_a_cohort(tmp_path):
    cohort = tmp_path / "cohort"
    result = haicpred("simulate", "--n-patients", "40", "--n-batches", "2", "--seed", "2",
                      "--out", str(cohort))
    assert result.returncode == 0, result.stderr
    assert (cohort / "samples.tsv").is_file() and (cohort / "truth.tsv").is_file()

    config = {key: str(cohort / f"{key}.tsv") for key in ["samples", "clinical", "biomarkers",
                                                          "radiomics"]}
    config.update(panel=str(REPO / "resources/panel_GRCh38.tsv"),
                  snps=str(REPO / "resources/snps_GRCh38.tsv"))
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = haicpred("validate", "--config", str(tmp_path / "config.yaml"))
    assert result.returncode == 0, result.stderr
    assert "all inputs are valid" in result.stdout

    clinical = (cohort / "clinical.tsv").read_text().splitlines()
    clinical[3] = clinical[3].replace("\tM\t", "\tmale\t").replace("\tF\t", "\tfemale\t")
    (cohort / "clinical.tsv").write_text("\n".join(clinical) + "\n")
    (cohort / "samples.tsv").write_text((cohort / "samples.tsv").read_text()
                                        + "STRANGER\tbatch1\t\t\t\t\n")
    result = haicpred("validate", "--config", str(tmp_path / "config.yaml"))
    assert result.returncode == 2
    assert "clinical.tsv: row 3, column sex" in result.stderr
    assert "STRANGER" in result.stderr and "have no row" in result.stderr
    assert "Traceback" not in result.stderr


def test_simulate_refuses_bad_arguments_without_leaving_output(tmp_path):
    result = haicpred("simulate", "--n-patients", "0", "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
