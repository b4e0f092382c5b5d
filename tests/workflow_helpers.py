"""Running the real workflow from tests: a work folder with its own config, and snakemake."""

import hashlib
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
PANEL = REPO / "resources" / "panel_GRCh38.tsv"
SNPS = REPO / "resources" / "snps_GRCh38.tsv"
FAST_MODEL = {"seed": 1, "cv_folds": 3, "cv_repeats": 2, "n_bootstrap": 200,
              "xgboost": {"n_estimators": 60},
              # nested tuning kept, but small: the search itself is tested in test_tuning.py
              "tuning": {"n_candidates": 3, "max_estimators": 100}}
DETERMINISTIC = ["results/features/feature_matrix.tsv", "results/features/data_checks.tsv",
                 "results/features/mutations.tsv",
                 "results/features/genotypes.tsv", "results/model/metrics.tsv",
                 "results/model/oof_predictions.tsv", "results/model/final/predictions.tsv",
                 "results/model/final/xgboost_model.json", "results/provenance.json"]


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"),
                           "-d", str(workdir), "--cores", "2", *args],
                          capture_output=True, text=True)


def make_workdir(path: Path, **config) -> Path:
    (path / "config").mkdir(parents=True)
    settings = {"panel": str(PANEL), "snps": str(SNPS), "model": FAST_MODEL, **config}
    (path / "config" / "config.yaml").write_text(yaml.safe_dump(settings))
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
