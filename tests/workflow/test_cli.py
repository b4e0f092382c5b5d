"""The `haicpred` command line, run as a user runs it."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

from haicpred.modeling.predict import predict
from haicpred.io.tables import read_tsv, write_tsv

REPO = Path(__file__).resolve().parents[2]



def haicpred(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "haicpred.cli", *args], capture_output=True,
                          text=True, cwd=cwd)


def test_help_lists_the_commands():
    result = haicpred("--help")
    assert result.returncode == 0
    assert "{simulate,validate,predict,ibsi-check}" in result.stdout
    # `score` (the cross-validation's duplicate final model) is gone: predict is the one way
    result = haicpred("score", "--help")
    assert result.returncode == 2 and "invalid choice: 'score'" in result.stderr


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


def test_simulate_grch37_with_its_default_resources_then_validate(tmp_path):
    """--genome-build GRCh37 picks resources/panel_GRCh37.tsv and snps_GRCh37.tsv; the cohort
    validates against a GRCh37 config."""
    cohort = tmp_path / "cohort"
    result = haicpred("simulate", "--n-patients", "30", "--n-batches", "2", "--seed", "2",
                      "--genome-build", "GRCh37", "--maf", "--out", str(cohort))
    assert result.returncode == 0, result.stderr
    genotypes = subprocess.run(["gzip", "-dc", str(cohort / "genotypes.vcf.gz")],
                               capture_output=True, text=True, check=True).stdout
    assert "##contig=<ID=chr2,length=243199373>" in genotypes  # GRCh37 chr2
    assert "\n".join(["", "chr2\t31247514\trs9679162\tG\tT"]) in genotypes
    config = {key: str(cohort / f"{key}.tsv") for key in ["samples", "clinical", "biomarkers",
                                                          "radiomics"]}
    config.update(genome_build="GRCh37", panel=str(REPO / "resources/panel_GRCh37.tsv"),
                  snps=str(REPO / "resources/snps_GRCh37.tsv"))
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = haicpred("validate", "--config", str(tmp_path / "config.yaml"))
    assert result.returncode == 0, result.stderr
    assert "all inputs are valid" in result.stdout
    # --maf: the same calls as one MAF per batch, named by samples_maf.tsv, valid too
    assert sorted(p.name for p in (cohort / "maf").iterdir()) == ["batch1.maf.gz",
                                                                   "batch2.maf.gz"]
    config["samples"] = str(cohort / "samples_maf.tsv")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = haicpred("validate", "--config", str(tmp_path / "config.yaml"))
    assert result.returncode == 0, result.stderr


def test_simulate_refuses_bad_arguments_without_leaving_output(tmp_path):
    result = haicpred("simulate", "--n-patients", "0", "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_predict_scores_a_matrix_with_a_model_folder(trained, tmp_path):
    write_tsv(trained.new.matrix, tmp_path / "feature_matrix.tsv")
    write_tsv(trained.new.dictionary, tmp_path / "feature_dictionary.tsv")
    result = haicpred("predict", "--model-dir", str(trained.model_dir),
                      "--matrix", str(tmp_path / "feature_matrix.tsv"),
                      "--dictionary", str(tmp_path / "feature_dictionary.tsv"),
                      "--out", str(tmp_path / "predictions.tsv"))
    assert result.returncode == 0, result.stderr
    assert f"scored {len(trained.new.matrix)} samples" in result.stdout
    written = read_tsv(tmp_path / "predictions.tsv")
    expected = predict(trained.new.matrix, trained.new.dictionary, trained.model_dir)
    assert list(written.columns) == list(expected.columns)
    assert np.abs(written["probability"].astype(float) - expected["probability"]).max() < 1e-9
    assert written["top_contributors"].tolist() == expected["top_contributors"].tolist()

    # a folder that is not a model folder: the file named, no traceback, nothing written
    result = haicpred("predict", "--model-dir", str(tmp_path),
                      "--matrix", str(tmp_path / "feature_matrix.tsv"),
                      "--out", str(tmp_path / "other.tsv"))
    assert result.returncode == 2
    assert f"{tmp_path / 'xgboost_model.json'}: file: is missing" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "other.tsv").exists()
