"""The high-dimensional guard: 100 patients, with and without 2,000 pure-noise radiomic columns.

Issue 17's check: the demo cohort subsampled to 100 patients (seeds 1-5: which patients), the
model of record's out-of-fold AUC with 2,000 standard-normal columns of modality radiomics added
against the same pipeline without them; for the model of record (`model.linear_start: true`)
and for XGBoost boosted from a constant (`linear_start: false`, haicpred before issue 17).

`cross_validate_models` with the workflow's model settings (5 x 5 outer CV, nested tuning). The
feature dictionary's non-radiomic modalities are merged into one ("clinical") so that only a few
ablation models are fitted besides `xgboost`: each model is fitted on its own, so the `xgboost`
row does not depend on which other rows are computed.

Usage: python benchmarks/noise_guard.py --data <a demo run's folder> [--seeds 1 2 3 4 5]
Prints one JSON line per (seed, linear_start, noise) and writes benchmarks/out/noise_guard.json.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model_benchmark import OUT, load  # noqa: E402
from model_reference import workflow_settings  # noqa: E402

N_PATIENTS, N_NOISE = 100, 2000


def subsample(matrix, labels, dictionary, truth, seed: int, noise: int):
    """``N_PATIENTS`` patients drawn with ``seed``, plus ``noise`` noise radiomic columns."""
    keep = set(matrix["sample_id"].sample(n=N_PATIENTS, random_state=seed))
    pick = [table[table["sample_id"].isin(keep)].reset_index(drop=True)
            for table in (matrix, labels, truth)]
    matrix, labels, truth = pick
    dictionary = dictionary.assign(modality=dictionary["modality"].where(
        dictionary["modality"] == "radiomics", "clinical"))
    if noise:
        rng = np.random.default_rng(1000 + seed)
        columns = {f"rad_noise_{i:04d}": rng.normal(size=len(matrix)) for i in range(noise)}
        matrix = pd.concat([matrix, pd.DataFrame(columns)], axis=1)
        dictionary = pd.concat([dictionary, pd.DataFrame(
            {"feature": list(columns), "modality": "radiomics"})], ignore_index=True)
    return matrix, labels, dictionary, truth


def main() -> None:
    from haicpred.modeling.cross_validation import cross_validate_models

    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    cohort = load(args.data)
    rows = []
    for seed in args.seeds:
        for linear_start in (True, False):
            for noise in (0, N_NOISE):
                matrix, labels, dictionary, truth = subsample(*cohort, seed, noise)
                settings = {**workflow_settings(args.threads), "linear_start": linear_start}
                start = time.perf_counter()
                results = cross_validate_models(matrix, labels, dictionary, settings, truth)
                metrics = results.metrics.set_index("model")
                tuning = results.tuning
                full = tuning[(tuning["model"] == "xgboost") & (tuning["scheme"] == "cv")]
                row = {"seed": seed, "linear_start": linear_start, "noise_columns": noise,
                       "n_labelled": int(metrics.loc["xgboost", "n"]),
                       "xgboost_auc": round(float(metrics.loc["xgboost", "auc"]), 4),
                       "logistic_all_features_auc": round(float(
                           metrics.loc["logistic_all_features", "auc"]), 4),
                       "oracle_auc": round(float(metrics.loc["oracle", "auc"]), 4),
                       "folds_radiomics_left_out": int((full.get(
                           "start_left_out", pd.Series(dtype=object)) == "radiomics").sum()),
                       "folds": int(len(full)),
                       "seconds": round(time.perf_counter() - start, 1)}
                rows.append(row)
                print(json.dumps(row), flush=True)
    summary = {}
    for linear_start in (True, False):
        part = [r for r in rows if r["linear_start"] == linear_start]
        clean = {r["seed"]: r["xgboost_auc"] for r in part if r["noise_columns"] == 0}
        noisy = {r["seed"]: r["xgboost_auc"] for r in part if r["noise_columns"] == N_NOISE}
        drops = [clean[s] - noisy[s] for s in clean]
        summary["linear_start" if linear_start else "constant_start"] = {
            "mean_auc_without_noise": round(float(np.mean(list(clean.values()))), 4),
            "mean_auc_with_noise": round(float(np.mean(list(noisy.values()))), 4),
            "mean_drop": round(float(np.mean(drops)), 4)}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "noise_guard.json").write_text(json.dumps({"rows": rows, "summary": summary},
                                                     indent=1) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
