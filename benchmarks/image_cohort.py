"""A simulated cohort run from images: what the radiomics-only model learns of the planted
radiomic factors.

For each seed: `haicpred simulate` (n patients, 3 batches) then its images
(`haicpred.simulate.images.write_cohort_images`: lesion texture follows the planted
heterogeneity factor H, which drives original_glcm_JointEntropy, and the surface the shape
regularity R, which drives original_shape_Sphericity); the workflow builds the feature matrix
from the images (`snakemake --configfile`, extraction per batch shard); then the CV's
`xgboost_radiomics_only` model fitted on every labelled patient
(`haicpred.modeling.explain.fitted_model_importance`). Reported: how well the extracted planted
features track their factors, the planted features' ranks among the model's features (share
of the mean |log-odds contribution|; a feature the radiomics step dropped as a near-duplicate
has share 0), the best rank of any feature carrying each factor (|r| >= 0.8), and the t values
of the model's log-odds regressed on the two true factors. Extraction time: the extract_radiomics
jobs' benchmark files.

Usage: python benchmarks/image_cohort.py [--n 300] [--seeds 101 102 103] [--cores 2]
Prints one JSON line per seed and writes benchmarks/out/image_cohort_<n>.json.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out"
PLANTED = {"true_radiomic_heterogeneity": "rad_original_glcm_JointEntropy",
           "true_shape_regularity": "rad_original_shape_Sphericity"}
CARRIER_CORRELATION = 0.8


def build(n: int, seed: int, cores: int) -> Path:
    from haicpred.simulate import simulate_cohort
    from haicpred.simulate.images import write_cohort_images

    work = OUT / f"image_cohort_{n}_seed{seed}"
    cohort = work / "cohort"
    if not (cohort / "samples_images.tsv").exists():
        simulate_cohort(n_patients=n, n_batches=3, seed=seed, out_dir=cohort,
                        panel_path=REPO / "resources" / "panel_GRCh38.tsv",
                        snps_path=REPO / "resources" / "snps_GRCh38.tsv")
        write_cohort_images(cohort, seed)
    config = {"samples": str(cohort / "samples_images.tsv"),
              "clinical": str(cohort / "clinical.tsv"),
              "biomarkers": str(cohort / "biomarkers.tsv"),
              "panel": str(REPO / "resources" / "panel_GRCh38.tsv"),
              "snps": str(REPO / "resources" / "snps_GRCh38.tsv")}
    (work / "cohort.yaml").write_text(yaml.safe_dump(config))
    subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d",
                    str(work), "--configfile", str(work / "cohort.yaml"), "--cores", str(cores),
                    "--quiet", "all", "--", "results/features/feature_matrix.tsv"], check=True)
    return work


def t_values(log_odds: pd.Series, factors: pd.DataFrame) -> list[float]:
    rows = factors.loc[log_odds.index].dropna()
    design = np.column_stack([np.ones(len(rows)), rows.to_numpy()])
    target = log_odds.loc[rows.index].to_numpy()
    coefficients, *_ = np.linalg.lstsq(design, target, rcond=None)
    residual = target - design @ coefficients
    covariance = residual.var(ddof=design.shape[1]) * np.linalg.inv(design.T @ design)
    return (coefficients / np.sqrt(np.diag(covariance)))[1:].round(1).tolist()


def measure(work: Path, seed: int) -> dict:
    from haicpred.features.matrix import read_feature_matrix, read_labels
    from haicpred.io.tables import read_tsv
    from haicpred.modeling.estimators import RADIOMICS_ONLY_MODEL
    from haicpred.modeling.explain import fitted_model_importance

    features = work / "results" / "features"
    matrix = read_feature_matrix(features / "feature_matrix.tsv")
    ranking, log_odds = fitted_model_importance(
        matrix, read_labels(features / "labels.tsv"),
        read_tsv(features / "feature_dictionary.tsv"), RADIOMICS_ONLY_MODEL, {"seed": 1})
    values = matrix.set_index("sample_id")
    truth = read_tsv(work / "cohort" / "truth.tsv").set_index("sample_id")
    factors = truth.loc[values.index, list(PLANTED)].astype(float)
    ranks = {name: i + 1 for i, name in enumerate(ranking.index)}
    result = {"benchmark": "image_cohort", "seed": seed, "patients": len(values),
              "radiomic_features_in_model": len(ranking),
              "features_with_weight": int((ranking > 0).sum())}
    for factor, feature in PLANTED.items():
        column = values[feature].astype(float)
        carriers = [f for f in ranking.index
                    if abs(values[f].astype(float).corr(factors[factor])) >= CARRIER_CORRELATION]
        result[f"{feature}_vs_factor_r"] = round(float(column.corr(factors[factor])), 3)
        result[f"{feature}_rank"] = ranks[feature] if ranking[feature] > 0 else "dropped"
        result[f"{factor}_best_carrier"] = (f"{carriers[0]} (rank {ranks[carriers[0]]})"
                                            if carriers else "none")
        result[f"{factor}_n_carriers"] = len(carriers)
    result["log_odds_t_heterogeneity_regularity"] = t_values(log_odds, factors)
    timings = [pd.read_csv(p, sep="\t")["s"].iloc[0]
               for p in (work / "logs" / "benchmarks" / "extract_radiomics").glob("*.tsv")]
    lesions = len(pd.read_csv(work / "results" / "radiomics" / "extracted.csv",
                              usecols=["sample_id"]))
    result["lesions"] = lesions
    result["extraction_job_seconds"] = round(float(sum(timings)), 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--seeds", type=int, nargs="+", default=[101, 102, 103])
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    results = []
    for seed in args.seeds:
        results.append(measure(build(args.n, seed, args.cores), seed))
        print(json.dumps(results[-1]), flush=True)
    (OUT / f"image_cohort_{args.n}.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
