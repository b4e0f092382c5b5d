"""Nested-CV AUC of XGBoost, logistic regression and the oracle on simulated cohorts.

For each size: the workflow builds the feature matrix of a simulated cohort (fixed seed) in
benchmarks/out/model_<n>/ (snakemake up to results/features/, so the real feature pipeline is
used), then `haicpred.modeling.cross_validation.cross_validate_models` runs with the config's
model settings (nested tuning on, 5 x 5 outer CV) and the oracle from the simulator's truth.tsv.

Usage: python benchmarks/model_benchmark.py [--sizes 300 1000 3000] [--seed 1] [--cores 2]
Prints one JSON line per size and writes benchmarks/out/model_benchmark_<n>_seed<seed>.json.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out"
FEATURE_TARGETS = ["results/features/feature_matrix.tsv",
                   "results/features/feature_dictionary.tsv", "results/features/labels.tsv"]
MODELS = ["xgboost", "logistic_all_features", "logistic_baseline", "oracle"]


def n_batches_for(n_patients: int) -> int:
    """3 batches as in the demo (ComBat needs a few patients per batch in every fold)."""
    return 3


def prepare(n_patients: int, seed: int = 1, cores: int = 2) -> Path:
    """The simulated cohort's feature matrix, dictionary, labels and truth (built once)."""
    work = OUT / f"model_{n_patients}_seed{seed}"
    if all((work / target).exists() for target in FEATURE_TARGETS):
        return work
    (work / "config").mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["panel"] = str(REPO / config["panel"])
    config["snps"] = str(REPO / config["snps"])
    config["demo"].update(n_patients=n_patients, n_batches=n_batches_for(n_patients), seed=seed)
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"),
                    "-d", str(work), "--cores", str(cores), "--quiet", "all", "--", *FEATURE_TARGETS],
                   check=True)
    return work


def load(work: Path):
    from haicpred.features.matrix import read_feature_matrix, read_labels
    from haicpred.io.tables import read_tsv

    features = work / "results" / "features"
    return (read_feature_matrix(features / "feature_matrix.tsv"),
            read_labels(features / "labels.tsv"),
            read_tsv(features / "feature_dictionary.tsv"),
            read_tsv(work / "results" / "demo" / "truth.tsv"))


def model_settings(threads: int, **overrides) -> dict:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    settings = {k: v for k, v in config["model"].items() if k not in ("on_treatment",)}
    return {**settings, "threads": threads, **overrides}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[300, 1000, 3000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    from haicpred.modeling.cross_validation import cross_validate_models

    for n in args.sizes:
        work = prepare(n, args.seed, args.cores)
        matrix, labels, dictionary, truth = load(work)
        start = time.perf_counter()
        results = cross_validate_models(matrix, labels, dictionary,
                                        model_settings(args.cores), truth=truth)
        seconds = time.perf_counter() - start
        metrics = results.metrics.set_index("model")
        result = {
            "benchmark": "model_benchmark", "n_patients": n, "seed": args.seed,
            "n_labelled": int(metrics.loc["xgboost", "n"]),
            "n_events": int(metrics.loc["xgboost", "n_events"]),
            "cores": args.cores, "cpu_count": os.cpu_count(),
            "cross_validate_seconds": round(seconds, 1),
            "auc": {m: {"auc": round(float(metrics.loc[m, "auc"]), 3),
                        "low": round(float(metrics.loc[m, "auc_low"]), 3),
                        "high": round(float(metrics.loc[m, "auc_high"]), 3)}
                    for m in MODELS if m in metrics.index},
            "xgboost_minus_oracle": round(float(metrics.loc["xgboost", "auc"]
                                                - metrics.loc["oracle", "auc"]), 3),
            "xgboost_minus_logistic_all_features": round(float(
                metrics.loc["xgboost", "auc"] - metrics.loc["logistic_all_features", "auc"]), 3),
            "xgboost_minus_logistic_baseline": round(float(
                metrics.loc["xgboost", "auc"] - metrics.loc["logistic_baseline", "auc"]), 3),
        }
        line = json.dumps(result)
        (OUT / f"model_benchmark_{n}_seed{args.seed}.json").write_text(line + "\n")
        print(line, flush=True)


if __name__ == "__main__":
    main()
